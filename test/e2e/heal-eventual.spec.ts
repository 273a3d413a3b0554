/**
 * e2e, done-when of issue 11 (eventual): 5 real `dcis start` processes, an
 * eventual service with 3 replicas; SIGKILL of one replica's peer. Within
 * 60 s the service has 3 live replicas again on other peers, and the new
 * replica serves the exact data (counter total, last written key) that it
 * bootstrapped from the survivors. The killed peer then restarts: nothing
 * moves (no churn), and it closes its stale replica.
 */
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { waitFor } from '../helpers/wait.js'
import { apply, byId, http, killHard, startHealMesh, status, waitHealed } from './heal-helpers.js'
import type { HealMesh } from './heal-helpers.js'

const GRACE_MS = 5000
const NAME = 'scores'

describe('e2e: an eventual service heals after kill -9 of a replica\'s peer', function () {
  this.timeout(300_000)
  let m: HealMesh | undefined

  after(async () => { await m?.stop() })

  it('3 live replicas again within 60 s; the new replica serves the exact counter and last key; no churn when the peer returns', async () => {
    m = await startHealMesh(5, GRACE_MS)
    const { mesh } = m
    const entry = mesh.peers[0]
    await apply(entry, { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: NAME }, spec: { replicas: 3, runtime: 'wasm', consistency: { mode: 'eventual', maxStalenessMs: 200 } } })
    const st0 = await waitFor('placed', async () => { const s = await status(entry, NAME); return s?.replicas.length === 3 ? s : undefined }, { timeoutMs: 30_000 })
    assert.equal(st0.desiredReplicas, 3)
    assert.equal(st0.spec.runtime, 'wasi', 'runtime wasm is the default Wasm runtime')
    const replicas: string[] = st0.replicas.map((r: { peerId: string }) => r.peerId)
    // writes through the replicas themselves (applied exactly once)
    let total = 0
    for (let i = 0; i < 30; i++) {
      const via = byId(mesh, replicas[i % 3])
      const delta = (i * 7) % 11 - 3
      const r = await http(via, 'POST', `/v1/services/${NAME}/counters/hits`, JSON.stringify({ delta }))
      assert.equal(r.status, 200, JSON.stringify(r.json))
      total += delta
    }
    const last = await http(byId(mesh, replicas[1]), 'PUT', `/v1/services/${NAME}/kv/last`, 'v-final')
    assert.equal(last.status, 200)
    for (const id of replicas) {
      await waitFor(`replica ${id} converged`, async () => {
        const c = await http(byId(mesh, id), 'GET', `/v1/services/${NAME}/counters/hits`)
        const k = await http(byId(mesh, id), 'GET', `/v1/services/${NAME}/kv/last`)
        return c.json?.value === total && k.json?.value === 'v-final'
      }, { timeoutMs: 30_000 })
    }
    // kill -9 a replica that is not the peer we observe through
    const victimId = replicas.find(id => id !== entry.peerId)!
    const observer = mesh.peers.find(p => p.peerId !== victimId && replicas.includes(p.peerId)) ?? entry
    await killHard(byId(mesh, victimId))
    const t0 = performance.now()
    // while within the grace period the status says why it is short
    const short = await waitFor('short status', async () => {
      const s = await status(observer, NAME)
      const c = s?.conditions.find((x: { type: string }) => x.type === 'FullyReplicated')
      return c?.status === 'False' ? c : undefined
    }, { timeoutMs: 20_000, intervalMs: 100 })
    assert.match(short.reason, /ReplicaUnreachable|ReplicaGone|Repairing/)
    const { st, ms } = await waitHealed(observer, NAME, victimId, 3, t0)
    console.log(`      eventual time-to-heal: ${Math.round(ms)} ms (grace ${GRACE_MS} ms)`)
    assert.ok(ms < 60_000, `healed after ${ms} ms`)
    const newcomer: string = st.replicas.map((r: { peerId: string }) => r.peerId).find((id: string) => !replicas.includes(id))
    assert.ok(newcomer !== undefined, 'a new peer holds a replica')
    const np = byId(mesh, newcomer)
    const local = await waitFor('the new replica bootstrapped the exact data', async () => {
      const s = await status(np, NAME)
      if (s?.local !== true) return undefined
      const c = await http(np, 'GET', `/v1/services/${NAME}/counters/hits`)
      const k = await http(np, 'GET', `/v1/services/${NAME}/kv/last`)
      return c.json?.value === total && k.json?.value === 'v-final' ? { c: c.json.value, k: k.json.value } : undefined
    }, { timeoutMs: 30_000 })
    assert.deepEqual(local, { c: total, k: 'v-final' })
    // the replacement's capacity is reserved on its peer (src/scheduler client over /dcis/alloc/1.0.0)
    const allocs = await http(np, 'GET', '/v1/allocations')
    assert.ok(allocs.json.allocations.length >= 1, JSON.stringify(allocs.json))

    // the killed peer returns: nothing moves, and it closes its stale replica
    const placed = st.replicas.map((r: { peerId: string }) => r.peerId).sort()
    const victim = byId(mesh, victimId)
    await mesh.spawnPeer(victim)
    await waitFor('the victim is back and closed its replica', async () => {
      const s = await status(victim, NAME)
      return s !== undefined && s.local === false
    }, { timeoutMs: 90_000 })
    await new Promise(resolve => setTimeout(resolve, GRACE_MS + 3000))
    const after = await status(observer, NAME)
    assert.deepEqual(after.replicas.map((r: { peerId: string }) => r.peerId).sort(), placed, 'no churn when the peer returned')
    const total2 = await http(observer, 'GET', `/v1/services/${NAME}/counters/hits`)
    assert.equal(total2.json.value, total)
  })
})
