import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { loadOrCreateIdentity } from '../identity/index.js'
import type { ChildProcess } from 'node:child_process'
import type { WriteStream } from 'node:fs'

export interface LocalMeshInit {
  nodes: number
  regions: string[]
  basePort: number
  dataDir: string
  rttMatrix?: string
  /** link faults file every peer follows; peer i is site `peer-i` */
  linkFaults?: string
  logLevel?: string
  /** extra arguments for every `dcis start` */
  extraArgs?: string[]
  /** the command that runs the CLI: [executable, ...args]; default: this process's */
  command?: string[]
}

export interface LocalPeer {
  index: number
  peerId: string
  region: string
  zone: string
  apiUrl: string
  libp2pAddr: string
  dataDir: string
  logFile: string
  process?: ChildProcess
  exitCode?: number | null
  exited: boolean
}

export interface PeerSnapshot {
  peer: LocalPeer
  healthy: boolean
  ready: boolean
  peers: number
  rttMs: Array<number | null>
}

/** The CLI command this process was started with (works from dist/ and via tsx). */
export function currentCliCommand (): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1]]
}

/**
 * A mesh of `dcis start` processes on loopback. Peer i serves its API on
 * 127.0.0.1:(basePort+i) and libp2p on /ip4/127.0.0.1/tcp/(basePort+100+i);
 * all bootstrap from peer 0, and peer 0 from peer 1, so the first peer rejoins
 * too if restarted alone. Identities are created up front (so every peer id is
 * known before any process starts) and persist in the data dir across runs.
 */
export class LocalMesh {
  readonly peers: LocalPeer[] = []
  private readonly init: LocalMeshInit
  private readonly logs: WriteStream[] = []

  constructor (init: LocalMeshInit) {
    if (!Number.isInteger(init.nodes) || init.nodes < 1 || init.nodes > 99) throw new RangeError('--nodes must be an integer between 1 and 99')
    if (init.regions.length === 0) throw new RangeError('--regions must name at least one region')
    if (!Number.isInteger(init.basePort) || init.basePort < 1 || init.basePort + 100 + init.nodes > 65535) throw new RangeError('--base-port leaves no room for the peers\' ports')
    this.init = init
  }

  async prepare (): Promise<void> {
    for (let i = 0; i < this.init.nodes; i++) {
      const dataDir = resolve(this.init.dataDir, `peer-${i}`)
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      const { peerId } = await loadOrCreateIdentity(dataDir)
      const region = this.init.regions[i % this.init.regions.length]
      this.peers.push({
        index: i,
        peerId: peerId.toString(),
        region,
        zone: `${region}-a`,
        apiUrl: `http://127.0.0.1:${this.init.basePort + i}`,
        libp2pAddr: `/ip4/127.0.0.1/tcp/${this.init.basePort + 100 + i}/p2p/${peerId.toString()}`,
        dataDir,
        logFile: join(dataDir, 'node.log'),
        exited: false
      })
    }
  }

  argsFor (peer: LocalPeer): string[] {
    const bootstrapFrom = peer.index === 0 ? this.peers[1] : this.peers[0]
    const args = [
      'start',
      '--data-dir', peer.dataDir,
      '--listen', `/ip4/127.0.0.1/tcp/${this.init.basePort + 100 + peer.index}`,
      '--api', `127.0.0.1:${this.init.basePort + peer.index}`,
      '--region', peer.region,
      '--zone', peer.zone,
      '--trust-loopback',
      '--log-level', this.init.logLevel ?? 'info'
    ]
    if (bootstrapFrom != null) args.push('--bootstrap', bootstrapFrom.libp2pAddr)
    if (this.init.rttMatrix != null) args.push('--rtt-matrix', this.init.rttMatrix)
    if (this.init.linkFaults != null) args.push('--link-faults', this.init.linkFaults, '--site', `peer-${peer.index}`)
    args.push(...(this.init.extraArgs ?? []))
    return args
  }

  /** Starts every peer process (logs go to <dataDir>/node.log). */
  async start (): Promise<void> {
    if (this.peers.length === 0) await this.prepare()
    for (const peer of this.peers) await this.spawnPeer(peer)
  }

  /** (Re)starts one peer's process on its data dir, e.g. after a kill. */
  async spawnPeer (peer: LocalPeer): Promise<void> {
    const [cmd, ...base] = this.init.command ?? currentCliCommand()
    const log = createWriteStream(peer.logFile, { flags: 'a' })
    this.logs.push(log)
    await new Promise<void>((resolve, reject) => { log.once('open', () => { resolve() }); log.once('error', reject) })
    const child = spawn(cmd, [...base, ...this.argsFor(peer)], {
      stdio: ['ignore', log, log],
      env: { ...process.env, DCIS_LOG_PRETTY: '0' }
    })
    peer.process = child
    peer.exited = false
    peer.exitCode = undefined
    child.once('exit', (code) => {
      peer.exited = true
      peer.exitCode = code
    })
  }

  /** Polls one peer's API: health, readiness, connected peers and their RTTs. */
  async snapshot (peer: LocalPeer, signal?: AbortSignal): Promise<PeerSnapshot> {
    const snap: PeerSnapshot = { peer, healthy: false, ready: false, peers: 0, rttMs: [] }
    if (peer.exited) return snap
    const opts = { signal: signal ?? AbortSignal.timeout(2000) }
    try {
      snap.healthy = (await fetch(`${peer.apiUrl}/healthz`, opts)).ok
      snap.ready = (await fetch(`${peer.apiUrl}/readyz`, opts)).ok
      const res = await fetch(`${peer.apiUrl}/v1/peers`, opts)
      if (res.ok) {
        const body = await res.json() as { peers: Array<{ rttMs: number | null }> }
        snap.peers = body.peers.length
        snap.rttMs = body.peers.map(p => p.rttMs)
      }
    } catch {
      // not up yet, or gone: the snapshot says so
    }
    return snap
  }

  async snapshots (): Promise<PeerSnapshot[]> {
    return Promise.all(this.peers.map(async p => this.snapshot(p)))
  }

  /** true when every peer is ready and connected to all the others */
  static fullyConnected (snaps: PeerSnapshot[]): boolean {
    return snaps.length > 0 && snaps.every(s => s.ready && s.peers >= snaps.length - 1)
  }

  /** SIGTERM to every peer, SIGKILL after `graceMs`; resolves when all have exited. */
  async stop (graceMs = 10_000): Promise<void> {
    await Promise.all(this.peers.map(async (peer) => {
      const child = peer.process
      if (child == null || peer.exited) return
      const exited = new Promise<void>(resolve => {
        if (child.exitCode != null || child.signalCode != null) { resolve(); return }
        child.once('exit', () => { resolve() })
      })
      child.kill('SIGTERM')
      const timer = setTimeout(() => { child.kill('SIGKILL') }, graceMs)
      await exited
      clearTimeout(timer)
    }))
    await Promise.all(this.logs.map(async log => new Promise<void>(resolve => { log.end(resolve) })))
    this.logs.length = 0
  }
}
