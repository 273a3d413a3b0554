import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { CliError } from '../errors.js'
import { ms, shortId, table } from '../format.js'
import { LocalMesh } from '../local-mesh.js'
import type { PeerSnapshot } from '../local-mesh.js'

export interface UpOptions {
  nodes: string
  regions: string
  basePort: string
  rttMatrix?: string
  linkFaults?: string
  dataDir: string
  logLevel: string
  json?: boolean
  exitWhenConnected?: boolean
}

function render (snaps: PeerSnapshot[], startedAt: number): string {
  const rows = [['#', 'PEER', 'REGION', 'ZONE', 'API', 'STATE', 'PEERS', 'MEDIAN RTT']]
  for (const s of snaps) {
    const state = s.peer.exited
      ? `exited (${s.peer.exitCode ?? 'signal'}) see ${s.peer.logFile}`
      : s.ready ? 'ready' : s.healthy ? 'bootstrapping' : 'starting'
    const rtts = s.rttMs.filter((v): v is number => v != null).sort((a, b) => a - b)
    rows.push([String(s.peer.index), shortId(s.peer.peerId), s.peer.region, s.peer.zone, s.peer.apiUrl, state, String(s.peers), ms(rtts.length > 0 ? rtts[rtts.length >> 1] : null)])
  }
  const connected = LocalMesh.fullyConnected(snaps)
  const secs = ((Date.now() - startedAt) / 1000).toFixed(0)
  return `${table(rows)}\n\n${connected ? 'mesh fully connected' : 'connecting…'} (${secs} s). Ctrl-C stops every peer.`
}

export async function runUp (opts: UpOptions): Promise<void> {
  const nodes = Number(opts.nodes)
  const basePort = Number(opts.basePort)
  const regions = opts.regions.split(',').map(r => r.trim()).filter(r => r !== '')
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 99) throw new CliError(`--nodes: must be an integer from 1 to 99 (got ${opts.nodes})`)
  if (!Number.isInteger(basePort) || basePort < 1 || basePort + 100 + nodes > 65535) throw new CliError(`--base-port: must leave room for ${nodes} API and libp2p ports below 65536 (got ${opts.basePort})`)
  if (regions.some(r => !/^[a-z0-9-]{1,63}$/.test(r))) throw new CliError(`--regions: region names are lower-case letters, digits and '-' (got ${opts.regions})`)
  const rttMatrix = opts.rttMatrix != null ? resolve(opts.rttMatrix) : undefined
  if (rttMatrix != null && !existsSync(rttMatrix)) throw new CliError(`--rtt-matrix: no such file: ${rttMatrix}`)

  const linkFaults = opts.linkFaults != null ? resolve(opts.linkFaults) : undefined
  const mesh = new LocalMesh({ nodes, regions, basePort, dataDir: resolve(opts.dataDir), rttMatrix, linkFaults, logLevel: opts.logLevel })
  await mesh.prepare()
  process.stderr.write(`dcis up: starting ${nodes} peers in ${regions.join(', ')}; loopback API clients are trusted without a token (--trust-loopback)${rttMatrix != null ? `; emulating RTTs from ${rttMatrix}` : ''}${linkFaults != null ? `; link faults from ${linkFaults} (peer i = site peer-i)` : ''}\n`)

  let stopping = false
  const stopAll = async (signal: string): Promise<void> => {
    if (stopping) return
    stopping = true
    process.stderr.write(`\ndcis up: ${signal}: stopping ${nodes} peers…\n`)
    await mesh.stop()
    process.stderr.write('dcis up: all peers stopped\n')
    process.exit(0)
  }
  process.on('SIGINT', () => { void stopAll('SIGINT') })
  process.on('SIGTERM', () => { void stopAll('SIGTERM') })

  const startedAt = Date.now()
  await mesh.start()
  const tty = process.stdout.isTTY === true && opts.json !== true
  let last = ''
  let connectedAt: number | undefined
  while (!stopping) {
    const snaps = await mesh.snapshots()
    if (connectedAt == null && LocalMesh.fullyConnected(snaps)) connectedAt = Date.now()
    let out: string
    if (opts.json === true) {
      out = JSON.stringify({
        connected: LocalMesh.fullyConnected(snaps),
        connectedAfterMs: connectedAt != null ? connectedAt - startedAt : null,
        peers: snaps.map(s => ({ index: s.peer.index, peerId: s.peer.peerId, region: s.peer.region, zone: s.peer.zone, apiUrl: s.peer.apiUrl, ready: s.ready, exited: s.peer.exited, peers: s.peers, rttMs: s.rttMs }))
      })
    } else {
      out = render(snaps, startedAt)
    }
    const key = opts.json === true ? out : out.replace(/\(\d+ s\)/, '')
    if (tty) {
      process.stdout.write('\x1b[2J\x1b[H' + out + '\n')
    } else if (key !== last) {
      process.stdout.write(out + '\n')
    }
    last = key
    if (opts.exitWhenConnected === true && connectedAt != null) {
      await stopAll('connected')
      return
    }
    if (snaps.every(s => s.peer.exited)) {
      await mesh.stop()
      throw new CliError(`every peer exited; see the logs in ${resolve(opts.dataDir)}/peer-*/node.log`)
    }
    await new Promise(resolve => setTimeout(resolve, 1000))
  }
}

