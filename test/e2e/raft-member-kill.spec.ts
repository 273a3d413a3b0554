/**
 * e2e (real `dcis start` processes via LocalMesh, HTTP API only), the
 * simulation lab's smoke scenario cut down: a 4-peer mesh, a strong service
 * with 3 replicas (so one peer is a non-member that forwards), a client
 * writing through EVERY live peer; the Raft leader (the forwarding peer's
 * leader hint) is SIGKILLed. A quorum (2 of 3) stays up, so:
 *  - every live peer, the non-member included, acknowledges writes again
 *    within a few seconds of the kill (the lab's first runs saw none for
 *    22 s: they ran a build from before issue 10's fix, and the surviving
 *    replicas died of an unobserved RaftTimeoutError);
 *  - after a restart on its data dir the killed peer serves writes and reads;
 *  - the quorum is lost (two replicas killed) and comes back: the survivor
 *    lives on, every peer serves again, and no peer logged an unhandled
 *    rejection (an abandoned proposal is settled, not left to reject
 *    unobserved: the check fails without `result.catch` in RaftGroup.propose);
 *  - the history is linearizable.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'
import { cliCommand } from '../helpers/cli.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'
import { tryHttp } from '../helpers/http.js'
import type { Json } from '../helpers/http.js'
import { checkRevisionHistory } from '../raft/integration/history.js'
import type { HistOp } from '../raft/integration/history.js'

const SERVICE = 'avail'
const MANIFEST = JSON.stringify({ apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: SERVICE }, spec: { replicas: 3, runtime: 'wasi', consistency: { mode: 'strong' } } })
/** generous for a loaded 2-core machine; the lab saw 22 s of nothing */
const RECOVERY_MS = 15_000

async function http (peer: LocalPeer, method: string, path: string, body?: string): Promise<{ status: number, json: Json }> {
  return tryHttp(peer.apiUrl, method, path, body, path.includes('/kv/') ? 'text/plain' : 'application/json')
}

describe('e2e: a strong service stays available through every live peer when a replica is SIGKILLed', function () {
  this.timeout(240_000)
  let dir: string
  let mesh: LocalMesh | undefined

  before(async () => { dir = await mkdtemp(join(tmpdir(), 'dcis-raft-avail-')) })
  after(async () => {
    await mesh?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('writes succeed again through every live peer within seconds of the kill; the restarted peer serves', async () => {
    mesh = new LocalMesh({ nodes: 4, regions: ['eu-west'], basePort: await freePortBlock(4), dataDir: dir, logLevel: 'warn', command: cliCommand() })
    await mesh.start()
    await waitFor('a connected mesh', async () => LocalMesh.fullyConnected(await mesh!.snapshots()), { timeoutMs: 90_000 })
    const peers = mesh.peers
    await waitFor('manifest applied', async () => { const r = await http(peers[0], 'POST', '/v1/manifests', MANIFEST); return r.status >= 200 && r.status < 300 ? r : undefined }, { timeoutMs: 30_000 })
    const status = await waitFor('a leader and three replicas', async () => {
      for (const p of peers) {
        if (p.exited) continue
        const r = await http(p, 'GET', `/v1/services/${SERVICE}`)
        if (r.status === 200 && typeof r.json?.leader === 'string' && Array.isArray(r.json?.replicas) && r.json.replicas.length === 3) return r.json
      }
      return undefined
    }, { timeoutMs: 60_000 })
    const members = (status.replicas as Array<{ peerId: string }>).map(r => r.peerId)
    const nonMember = peers.find(p => !members.includes(p.peerId))
    assert.ok(nonMember !== undefined, 'one peer holds no replica (it forwards)')

    const history: HistOp[] = []
    const t0 = performance.now()
    const now = (): number => performance.now() - t0
    /** per peer: the call times of its acknowledged writes */
    const acked = new Map<string, number[]>(peers.map(p => [p.peerId, []]))
    /** per peer: the call times of its refused writes */
    const failed = new Map<string, number[]>(peers.map(p => [p.peerId, []]))
    let stop = false
    let seq = 0
    // one client per peer, writing through that peer only (like the lab's clients spread over every live peer)
    const client = async (c: number, peer: LocalPeer): Promise<void> => {
      while (!stop) {
        if (peer.exited) { await new Promise(resolve => setTimeout(resolve, 50)); continue }
        const key = `k${seq % 3}`
        const value = `c${c}-${seq++}`
        const call = now()
        const r = await http(peer, 'PUT', `/v1/services/${SERVICE}/kv/${key}`, value)
        if (r.status === 200) {
          history.push({ kind: 'put', client: c, key, value, call, ret: now(), rev: r.json.revision })
          acked.get(peer.peerId)!.push(call)
        } else {
          history.push({ kind: 'put', client: c, key, value, call, ret: Infinity })
          failed.get(peer.peerId)!.push(call)
          await new Promise(resolve => setTimeout(resolve, 50))
        }
      }
    }
    const clients = peers.map(async (p, c) => client(c, p))
    try {
      await waitFor('writes through every peer before the kill', () => peers.every(p => acked.get(p.peerId)!.length >= 3), { timeoutMs: 60_000, intervalMs: 50 })
      // warm the non-member's leader hint, then kill the leader it names
      const lid = (await waitFor('the leader', async () => { const r = await http(nonMember, 'GET', `/v1/services/${SERVICE}`); return r.status === 200 && typeof r.json?.leader === 'string' ? r.json.leader as string : undefined }, { timeoutMs: 30_000 }))
      const victim = peers.find(p => p.peerId === lid)!
      const exited = new Promise<void>(resolve => victim.process!.once('exit', () => { resolve() }))
      victim.process!.kill('SIGKILL')
      await exited
      const killedAt = now()
      const live = peers.filter(p => p !== victim)
      const recovered = (p: LocalPeer): boolean => acked.get(p.peerId)!.some(t => t > killedAt)
      await waitFor('an acknowledged write through every live peer after the kill', () => live.every(recovered), { timeoutMs: 60_000, intervalMs: 50 })
      const firstAfter = live.map(p => ({ peer: p.peerId, ms: Math.min(...acked.get(p.peerId)!.filter(t => t > killedAt)) - killedAt }))
      for (const f of firstAfter) assert.ok(f.ms < RECOVERY_MS, `first write through ${f.peer} acknowledged ${Math.round(f.ms)} ms after the kill (limit ${RECOVERY_MS} ms): ${JSON.stringify(firstAfter)}`)

      // restart the killed peer on its data dir: it rejoins and serves
      await mesh.spawnPeer(victim)
      const restartedAt = now()
      await waitFor('a write acknowledged by the restarted peer', () => acked.get(victim.peerId)!.some(t => t > restartedAt), { timeoutMs: 60_000, intervalMs: 50 })
      const read = await waitFor('a read at the restarted peer', async () => { const r = await http(victim, 'GET', `/v1/services/${SERVICE}/kv/k0`); return r.status === 200 ? r : undefined }, { timeoutMs: 30_000 })
      assert.equal(typeof read.json.revision, 'number')

      // quorum lost: two of the three replicas SIGKILLed. Writes through the
      // survivor wait for a leader and time out (503); the survivor itself
      // must live on (before issue 10's fix the abandoned proposal's
      // rejection was unobserved and ended the process, so the group never
      // came back), and once the two restart, every peer serves again.
      const now3 = await waitFor('three replicas again', async () => {
        const r = await http(nonMember, 'GET', `/v1/services/${SERVICE}`)
        return r.status === 200 && typeof r.json?.leader === 'string' && Array.isArray(r.json?.replicas) && r.json.replicas.length === 3 ? (r.json.replicas as Array<{ peerId: string }>).map(x => x.peerId) : undefined
      }, { timeoutMs: 60_000 })
      const [s, ...doomed] = now3.map(id => peers.find(p => p.peerId === id)!)
      await Promise.all(doomed.map(async p => {
        const gone = new Promise<void>(resolve => p.process!.once('exit', () => { resolve() }))
        p.process!.kill('SIGKILL')
        await gone
      }))
      const lostAt = now()
      await waitFor('a write through the survivor refused without a quorum', () => (failed.get(s.peerId) ?? []).some(t => t > lostAt), { timeoutMs: 60_000, intervalMs: 50 })
      for (const p of doomed) await mesh.spawnPeer(p)
      const backAt = now()
      await waitFor('an acknowledged write through every peer after the quorum is back', () => peers.every(p => acked.get(p.peerId)!.some(t => t > backAt)), { timeoutMs: 90_000, intervalMs: 50 })
      assert.equal(s.exited, false, 'the surviving replica is still running')
    } finally {
      stop = true
      await Promise.all(clients)
    }
    // an abandoned Raft waiter must be settled, never left to reject unobserved
    // (the process fault policy keeps the peer up, but each one is a bug)
    for (const p of peers) {
      const log = await readFile(p.logFile, 'utf8').catch(() => '')
      assert.doesNotMatch(log, /"fault":"unhandledRejection"/, `${p.peerId} logged an unhandled rejection:\n${log.split('\n').filter(l => l.includes('unhandledRejection')).slice(0, 3).join('\n')}`)
    }
    const verdict = checkRevisionHistory(history)
    assert.ok(verdict.ok, `not linearizable:\n${verdict.problems.join('\n')}`)
  })
})
