/**
 * e2e (real `dcis start` processes via LocalMesh, HTTP API only): a 3-peer
 * strong service; concurrent clients write and read through every peer's
 * API; the Raft leader is SIGKILLed, writes continue, the peer restarts on
 * its data dir; the history is linearizable and no acknowledged write lost.
 *
 * The same scenario against the backend alone: test/raft/integration/kill.spec.ts.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'
import { cliCommand } from '../helpers/cli.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'
import { tryHttp } from '../helpers/http.js'
import { createPrng } from '../../src/latency/prng.js'
import type { Json } from '../helpers/http.js'
import { checkRevisionHistory } from '../raft/integration/history.js'
import type { HistOp } from '../raft/integration/history.js'

const SEED = Number(process.env.RAFT_KILL_SEED ?? 1)
const MANIFEST = JSON.stringify({ apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: 'accounts' }, spec: { replicas: 3, runtime: 'wasi', consistency: { mode: 'strong', latencyRadiusMs: 20 } } })

/** the project's seeded generator (src/latency/prng.ts) as a () => [0, 1) function */
function seeded (seed: number): () => number {
  const prng = createPrng(seed)
  return () => prng.next()
}

async function http (peer: LocalPeer, method: string, path: string, body?: string): Promise<{ status: number, json: Json }> {
  return tryHttp(peer.apiUrl, method, path, body, path.includes('/kv/') ? 'text/plain' : 'application/json')
}

describe('e2e: raft leader SIGKILL under concurrent writes (HTTP API)', function () {
  this.timeout(180_000)
  let dir: string
  let mesh: LocalMesh | undefined

  before(async () => { dir = await mkdtemp(join(tmpdir(), 'dcis-raft-kill-')) })
  after(async () => {
    await mesh?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it(`linearizable, no acknowledged write lost, the killed peer rejoins (seed ${SEED})`, async () => {
    mesh = new LocalMesh({ nodes: 3, regions: ['eu-west'], basePort: await freePortBlock(3), dataDir: dir, logLevel: 'warn', command: cliCommand() })
    await mesh.start()
    await waitFor('a connected mesh', async () => LocalMesh.fullyConnected(await mesh!.snapshots()), { timeoutMs: 60_000 })
    const peers = mesh.peers
    const applied = await waitFor('manifest applied', async () => { const r = await http(peers[0], 'POST', '/v1/manifests', MANIFEST); return r.status >= 200 && r.status < 300 ? r : undefined }, { timeoutMs: 30_000 })
    assert.ok(applied)
    const leaderOf = async (): Promise<string> => waitFor('a leader', async () => {
      for (const p of peers) {
        if (p.exited) continue
        const r = await http(p, 'GET', '/v1/services/accounts')
        if (r.status === 200 && typeof r.json?.leader === 'string') return r.json.leader as string
      }
      return undefined
    }, { timeoutMs: 30_000 })
    await leaderOf()

    const rng = seeded(SEED)
    const history: HistOp[] = []
    const t0 = performance.now()
    const now = (): number => performance.now() - t0
    const KEYS = ['k0', 'k1', 'k2']
    let stop = false
    let completed = 0
    let seq = 0
    const client = async (c: number): Promise<void> => {
      while (!stop) {
        const target = peers[Math.floor(rng() * peers.length)]
        const key = KEYS[Math.floor(rng() * KEYS.length)]
        if (target.exited) { await new Promise(resolve => setTimeout(resolve, 20)); continue }
        if (rng() < 0.65) {
          const value = `c${c}-${seq++}`
          const call = now()
          const r = await http(target, 'PUT', `/v1/services/accounts/kv/${key}`, value)
          if (r.status === 200) { history.push({ kind: 'put', client: c, key, value, call, ret: now(), rev: r.json.revision }); completed++ } else history.push({ kind: 'put', client: c, key, value, call, ret: Infinity })
        } else {
          const call = now()
          const r = await http(target, 'GET', `/v1/services/accounts/kv/${key}`)
          if (r.status === 200) { history.push({ kind: 'get', client: c, key, call, ret: now(), value: r.json.value, rev: r.json.revision }); completed++ } else if (r.status === 404) { history.push({ kind: 'get', client: c, key, call, ret: now(), value: null, rev: 0 }); completed++ }
        }
      }
    }
    const clients = [0, 1, 2, 3, 4, 5, 6, 7].map(async c => client(c))
    try {
      await waitFor('load before the kill', () => completed >= 80, { timeoutMs: 60_000, intervalMs: 20 })
      const lid = await leaderOf()
      const victim = peers.find(p => p.peerId === lid)!
      const exited = new Promise<void>(resolve => victim.process!.once('exit', () => { resolve() }))
      victim.process!.kill('SIGKILL')
      await exited
      const atKill = completed
      await waitFor('writes after the kill', () => completed >= atKill + 80, { timeoutMs: 60_000, intervalMs: 20 })
      assert.notEqual(await leaderOf(), lid)
      // restart the killed peer on its data dir
      await mesh.spawnPeer(victim)
      const atRestart = completed
      await waitFor('load after the restart', () => completed >= atRestart + 60, { timeoutMs: 60_000, intervalMs: 20 })
    } finally {
      stop = true
      await Promise.all(clients)
    }
    for (const p of peers) {
      for (const key of KEYS) {
        const call = now()
        const r = await waitFor(`final read at ${p.peerId}`, async () => { const x = await http(p, 'GET', `/v1/services/accounts/kv/${key}`); return x.status === 200 || x.status === 404 ? x : undefined }, { timeoutMs: 30_000 })
        const out = r.status === 200 ? { value: r.json.value as string, rev: r.json.revision as number } : { value: null, rev: 0 }
        history.push({ kind: 'get', client: 99, key, call, ret: now(), ...out })
        const acked = history.filter(o => o.kind === 'put' && o.key === key && o.rev !== undefined).map(o => (o as { rev: number }).rev)
        assert.ok(out.rev >= Math.max(0, ...acked), `no acknowledged write of ${key} lost at ${p.peerId} (seed ${SEED})`)
      }
    }
    const verdict = checkRevisionHistory(history)
    assert.ok(verdict.ok, `not linearizable (seed ${SEED}):\n${verdict.problems.join('\n')}`)
  })
})
