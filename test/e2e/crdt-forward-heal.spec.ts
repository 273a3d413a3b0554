/**
 * e2e regression (simulations/case-study.yaml): a NON-replica peer must
 * forward reads of an eventual service to any replica it can reach, within
 * the caller's time budget, while some replicas sit behind dead links and
 * right after a partition heals.
 *
 * 5 real `dcis start` processes with link faults; the service has 3
 * replicas, so 2 peers hold none. Every read has a 3 s client timeout (as
 * `dcis sim run` uses).
 * 1. The non-replica X is cut from 2 of the 3 replicas (each replica in turn
 *    the reachable one): its open connections to the cut ones stall, as a
 *    partition leaves them. A read through X must succeed within 8 s of the
 *    cut. Before the fix X waited the whole 10 s call timeout on the first
 *    (connected, nearest) replica, so the client gave up every time.
 * 2. Both non-replicas are cut from all 3 replicas for 12 s while clients
 *    keep reading through them, then the rules are cleared: both must answer
 *    with the exact value within 15 s of the heal.
 * The repair grace period is long: nothing is re-placed.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { tryHttp } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'
import { apply, byId, http, partition, startHealMesh, status } from './heal-helpers.js'
import type { HealMesh } from './heal-helpers.js'

const SPLIT_MS = 12_000
/** the bounds below are the (8 s to reach the live replica, 15 s after a heal); the machine may be shared, so allow slack (DCIS_TEST_SLACK, as in test/e2e/catalogue.spec.ts); the measured times are printed */
const SLACK = Number(process.env.DCIS_TEST_SLACK ?? 3)
const NAME = 'fwd-heal'

describe('e2e: a non-replica forwards again right after a heal (link faults)', function () {
  this.timeout(300_000)
  let m: HealMesh | undefined
  let faults = ''

  before(async () => {
    m = await startHealMesh(5, 600_000, ['eu-west'], { linkFaults: (dir) => { faults = join(dir, 'faults.json'); return faults } })
  })
  after(async () => {
    if (faults !== '') await partition(faults, [])
    await m?.stop()
  })

  it('reads through a non-replica reach the one live replica, and both non-replicas read within 15 s of a heal', async () => {
    const { mesh } = m!
    await apply(mesh.peers[0], { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: NAME }, spec: { replicas: 3, consistency: { mode: 'eventual', latencyRadiusMs: 50 } } })
    const st = await waitFor('3 live replicas', async () => { const s = await status(mesh.peers[0], NAME); return s?.liveReplicas?.length === 3 ? s : undefined }, { timeoutMs: 60_000 })
    const replicas = st.replicas.map((r: { peerId: string }) => byId(mesh, r.peerId).index) as number[]
    const others = mesh.peers.map(p => p.index).filter(i => !replicas.includes(i))
    assert.equal(others.length, 2)
    const [x, y] = others.map(i => mesh.peers[i])
    const url = `/v1/services/${NAME}/counters/hits`
    // one acknowledged write, forwarded by a non-replica, and read back through both non-replicas
    const w = await waitFor('a forwarded write', async () => { const r = await http(x, 'POST', url, JSON.stringify({ delta: 5 })); return r.status === 200 ? r : undefined }, { timeoutMs: 30_000 })
    assert.equal(w.json.value, 5)
    for (const p of [x, y]) await waitFor(`peer-${p.index} reads 5`, async () => (await tryHttp(p.apiUrl, 'GET', url, undefined, undefined, 3000)).json?.value === 5, { timeoutMs: 30_000 })

    // 1. X cut from 2 of the 3 replicas, each replica in turn the reachable one
    const cutMs: number[] = []
    for (const reachable of replicas) {
      // nothing to observe before every peer applies the rules
      await partition(faults, [[x.index], replicas.filter(r => r !== reachable)], mesh.peers)
      const t0 = performance.now()
      await waitFor(`peer-${x.index} reads through peer-${reachable} (the only reachable replica)`, async () => {
        const r = await tryHttp(x.apiUrl, 'GET', url, undefined, undefined, 3000)
        return r.status === 200 && r.json.value === 5
      }, { timeoutMs: 8_000 * SLACK, intervalMs: 250 })
      cutMs.push(Math.round(performance.now() - t0))
      await partition(faults, [])
    }
    console.log(`      reads through the one reachable replica answered ${cutMs.join(' ms, ')} ms after each cut`)

    // 2. split: the non-replicas from every replica; readers keep calling through them (3 s client timeout)
    await partition(faults, [others, replicas], mesh.peers)
    let stop = false
    const readers = [x, y].map(async p => {
      while (!stop) await tryHttp(p.apiUrl, 'GET', url, undefined, undefined, 3000)
    })
    await new Promise(resolve => setTimeout(resolve, SPLIT_MS))
    await partition(faults, [])
    const healed = performance.now()
    const ms: number[] = []
    try {
      await Promise.all([x, y].map(async p => {
        await waitFor(`peer-${p.index} (non-replica) forwards a read after the heal`, async () => {
          const r = await tryHttp(p.apiUrl, 'GET', url, undefined, undefined, 3000)
          return r.status === 200 && r.json.value === 5
        }, { timeoutMs: 15_000 * SLACK, intervalMs: 250 })
        ms.push(Math.round(performance.now() - healed))
      }))
    } finally {
      stop = true
      await Promise.all(readers)
    }
    console.log(`      non-replica reads answered ${ms.join(' ms, ')} ms after the heal`)
  })
})
