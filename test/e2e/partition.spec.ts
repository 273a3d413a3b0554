/**
 * e2e: network partitions between real `dcis start` processes (the link
 * emulator's fault rules, docs/link-faults.md), for both service modes.
 *
 * - strong: the Raft group is split {leader + 1 voter} | {1 voter}; clients
 *   write and read through peers on both sides during the split; the
 *   minority side cannot commit; after the heal the whole history is checked
 *   for linearizability (test/raft/integration/history.ts) and no
 *   acknowledged write is lost.
 * - eventual: the 3 replicas are split 1 | 2; counters and keys are written
 *   on both sides; after the heal every replica converges to exactly the
 *   sum of the acknowledged deltas and to the same key values.
 *
 * The repair grace period is long there (no re-placement during the split).
 * A second mesh with a 5 s grace period splits longer than that: only the
 * larger side re-places (eventual: the lowest-id live replica where at least
 * half the replicas are live; strong: the majority's leader), and after the
 * heal the cut-off replica hands its writes over (eventual) or stops (strong).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createPrng } from '../../src/latency/prng.js'
import { waitFor } from '../helpers/wait.js'
import { checkRevisionHistory } from '../raft/integration/history.js'
import type { HistOp } from '../raft/integration/history.js'
import { apply, byId, http, killHard, partition, startHealMesh, status } from './heal-helpers.js'
import type { HealMesh } from './heal-helpers.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'

const SEED = Number(process.env.PARTITION_SEED ?? 7)

/** adds seeded random deltas (1..9) to counter `c` of a service through a peer, each acknowledged; `total()` is their sum */
function counterAdder (name: string, seed: number): { add: (via: LocalPeer, n: number) => Promise<void>, total: () => number } {
  const prng = createPrng(seed)
  let sum = 0
  return {
    add: async (via, n) => {
      for (let i = 0; i < n; i++) {
        const delta = Math.floor(prng.next() * 9) + 1
        const r = await http(via, 'POST', `/v1/services/${name}/counters/c`, JSON.stringify({ delta }))
        assert.equal(r.status, 200, JSON.stringify(r.json))
        sum += delta
      }
    },
    total: () => sum
  }
}
const SPLIT_MS = 8000

describe(`e2e: partitions between real processes (link faults, seed ${SEED})`, function () {
  this.timeout(400_000)
  let m: HealMesh | undefined
  let faults = ''

  before(async () => {
    m = await startHealMesh(5, 600_000, ['eu-west'], { linkFaults: (dir) => { faults = join(dir, 'faults.json'); return faults } })
  })
  after(async () => { await m?.stop() })
  afterEach(async () => { await partition(faults, []) })

  it('strong: split {leader, voter} | {voter}, write on both sides, heal: linearizable, no acknowledged write lost', async () => {
    const { mesh } = m!
    const NAME = 'split-kv'
    await apply(mesh.peers[0], { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: NAME }, spec: { replicas: 3, consistency: { mode: 'strong', latencyRadiusMs: 50 } } })
    const st = await waitFor('a leader', async () => { const s = await status(mesh.peers[0], NAME); return typeof s?.leader === 'string' ? s : undefined }, { timeoutMs: 30_000 })
    const voters: string[] = st.replicas.filter((r: { role: string }) => r.role === 'voter').map((r: { peerId: string }) => r.peerId)
    const idx = (id: string): number => byId(mesh, id).index
    const minorityVoter = voters.find(v => v !== st.leader)!
    const majority = voters.filter(v => v !== minorityVoter).map(idx)
    const others = mesh.peers.map(p => p.index).filter(i => !voters.map(idx).includes(i))
    // one non-voter on each side
    const sideA = [...majority, others[0]]
    const sideB = [idx(minorityVoter), ...others.slice(1)]
    const prng = createPrng(SEED)
    const history: HistOp[] = []
    const t0 = performance.now()
    const now = (): number => performance.now() - t0
    const KEYS = ['a', 'b']
    let stop = false
    let seq = 0
    let acked = 0
    const client = async (c: number): Promise<void> => {
      while (!stop) {
        const target = mesh.peers[Math.floor(prng.next() * mesh.peers.length)]
        const key = KEYS[Math.floor(prng.next() * KEYS.length)]
        const call = now()
        if (prng.next() < 0.6) {
          const value = `c${c}-${seq++}`
          const r = await http(target, 'PUT', `/v1/services/${NAME}/kv/${key}`, value)
          if (r.status === 200) { history.push({ kind: 'put', client: c, key, value, call, ret: now(), rev: r.json.revision }); acked++ } else history.push({ kind: 'put', client: c, key, value, call, ret: Infinity })
        } else {
          const r = await http(target, 'GET', `/v1/services/${NAME}/kv/${key}`)
          if (r.status === 200) history.push({ kind: 'get', client: c, key, call, ret: now(), value: r.json.value, rev: r.json.revision })
          else if (r.status === 404) history.push({ kind: 'get', client: c, key, call, ret: now(), value: null, rev: 0 })
        }
      }
    }
    const clients = [0, 1, 2, 3, 4, 5].map(async c => client(c))
    let duringSplit: number | undefined
    let unknownInSplit: number | undefined
    try {
      await waitFor('writes before the split', () => acked >= 30, { timeoutMs: 60_000, intervalMs: 20 })
      await partition(faults, [sideA, sideB])
      const atSplit = acked
      const splitAt = now()
      await new Promise(resolve => setTimeout(resolve, SPLIT_MS))
      duringSplit = acked - atSplit
      await partition(faults, [])
      // the minority side could not commit: some write called during the split through side B failed
      unknownInSplit = history.filter(o => o.kind === 'put' && o.call >= splitAt && o.ret === Infinity).length
      const atHeal = acked
      await waitFor('writes after the heal', () => acked >= atHeal + 30, { timeoutMs: 90_000, intervalMs: 20 })
    } finally {
      stop = true
      await Promise.all(clients)
    }
    assert.ok(duringSplit !== undefined && duringSplit > 0, 'the majority side kept committing during the split')
    assert.ok(unknownInSplit !== undefined && unknownInSplit > 0, 'writes through the minority side did not commit during the split')
    // final reads through every peer
    for (const p of mesh.peers) {
      for (const key of KEYS) {
        const call = now()
        const r = await waitFor(`final read at ${p.index}`, async () => { const x = await http(p, 'GET', `/v1/services/${NAME}/kv/${key}`); return x.status === 200 || x.status === 404 ? x : undefined }, { timeoutMs: 60_000 })
        const out = r.status === 200 ? { value: r.json.value as string, rev: r.json.revision as number } : { value: null, rev: 0 }
        history.push({ kind: 'get', client: 99, key, call, ret: now(), ...out })
        const ackedRevs = history.filter(o => o.kind === 'put' && o.key === key && o.rev !== undefined).map(o => (o as { rev: number }).rev)
        assert.ok(out.rev >= Math.max(0, ...ackedRevs), `no acknowledged write of ${key} lost at peer ${p.index} (seed ${SEED})`)
      }
    }
    const verdict = checkRevisionHistory(history)
    assert.ok(verdict.ok, `not linearizable (seed ${SEED}):\n${verdict.problems.join('\n')}`)
  })

  it('eventual: split 1 | 2 replicas, counters and keys written on both sides, heal: exact convergence', async () => {
    const { mesh } = m!
    const NAME = 'split-board'
    await apply(mesh.peers[0], { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: NAME }, spec: { replicas: 3, crdtEngine: 'delta-crdts', consistency: { mode: 'eventual', maxStalenessMs: 200 } } })
    const st = await waitFor('placed', async () => { const s = await status(mesh.peers[0], NAME); return s?.replicas.length === 3 ? s : undefined }, { timeoutMs: 30_000 })
    const replicas = st.replicas.map((r: { peerId: string }) => byId(mesh, r.peerId))
    await waitFor('every replica open', async () => (await Promise.all(replicas.map(async (p: typeof replicas[number]) => (await status(p, NAME))?.local === true))).every(Boolean), { timeoutMs: 30_000 })
    const lone = replicas[0]
    const pair = replicas.slice(1)
    const rest = mesh.peers.filter(p => !replicas.includes(p)).map(p => p.index)
    const prng = createPrng(SEED + 1)
    let total = 0
    const write = async (via: typeof replicas[number], n: number, tag: string): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const delta = Math.floor(prng.next() * 21) - 10
        const r = await http(via, 'POST', `/v1/services/${NAME}/counters/score`, JSON.stringify({ delta }))
        assert.equal(r.status, 200, `${tag}: ${JSON.stringify(r.json)}`)
        total += delta
        const k = await http(via, 'PUT', `/v1/services/${NAME}/kv/${tag}-${i % 3}`, `${tag}${i}`)
        assert.equal(k.status, 200)
      }
    }
    await write(lone, 10, 'before')
    await partition(faults, [[lone.index, ...rest.slice(0, 1)], [...pair.map((p: { index: number }) => p.index), ...rest.slice(1)]], mesh.peers)
    // both sides accept writes during the split (writes go straight to a replica)
    await Promise.all([write(lone, 25, 'lone'), write(pair[0], 15, 'pa'), write(pair[1], 15, 'pb')])
    await new Promise(resolve => setTimeout(resolve, 1000))
    // the split is real: the lone replica has not seen the pair's keys
    assert.equal((await http(lone, 'GET', `/v1/services/${NAME}/kv/pa-0`)).status, 404)
    await partition(faults, [])
    const read = async (p: typeof replicas[number]): Promise<string> => {
      const c = await http(p, 'GET', `/v1/services/${NAME}/counters/score`)
      const keys = ['lone-0', 'lone-1', 'lone-2', 'pa-0', 'pa-1', 'pa-2', 'pb-0', 'pb-1', 'pb-2', 'before-0']
      const vals = await Promise.all(keys.map(async k => (await http(p, 'GET', `/v1/services/${NAME}/kv/${k}`)).json?.value ?? null))
      return JSON.stringify({ score: c.json?.value, vals })
    }
    const views = await waitFor('exact convergence after the heal', async () => {
      const v = await Promise.all(replicas.map(read))
      const score = (JSON.parse(v[0]) as { score: number }).score
      return v.every((x: string) => x === v[0]) && score === total ? v : undefined
    }, { timeoutMs: 90_000, intervalMs: 250 })
    const final = JSON.parse(views[0]) as { score: number, vals: Array<string | null> }
    assert.equal(final.score, total)
    assert.ok(final.vals.every(x => x !== null), 'every key written on either side survives')
  })
})

describe(`e2e: a partition longer than the repair grace period (seed ${SEED})`, function () {
  this.timeout(400_000)
  let m: HealMesh | undefined
  let faults = ''

  before(async () => {
    m = await startHealMesh(5, 5000, ['eu-west'], { linkFaults: (dir) => { faults = join(dir, 'faults.json'); return faults } })
  })
  after(async () => { await m?.stop() })

  it('only the larger side re-places the cut-off replica; after the heal it hands its writes over and everything converges exactly', async () => {
    const { mesh } = m!
    const NAME = 'long-split'
    await apply(mesh.peers[0], { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: NAME }, spec: { replicas: 3, consistency: { mode: 'eventual', maxStalenessMs: 200 } } })
    const st = await waitFor('placed', async () => { const s = await status(mesh.peers[0], NAME); return s?.replicas.length === 3 ? s : undefined }, { timeoutMs: 30_000 })
    const replicas = st.replicas.map((r: { peerId: string }) => byId(mesh, r.peerId))
    await waitFor('every replica open', async () => (await Promise.all(replicas.map(async (p: typeof replicas[number]) => (await status(p, NAME))?.local === true))).every(Boolean), { timeoutMs: 30_000 })
    const [lone, ...pair] = replicas
    const rest = mesh.peers.filter(p => !replicas.includes(p))
    const { add, total } = counterAdder(NAME, SEED + 2)
    await add(lone, 5)
    await partition(faults, [[lone.index, rest[0].index], [...pair.map((p: typeof lone) => p.index), rest[1].index]], mesh.peers)
    await add(lone, 10)
    await add(pair[0], 10)
    // past the grace period the pair's side replaces the lone replica (with rest[1], the only eligible peer it reaches)
    const repaired = await waitFor('re-placed on the larger side', async () => {
      const s = await status(pair[0], NAME)
      const ids = s?.replicas.map((r: { peerId: string }) => r.peerId) ?? []
      return ids.length === 3 && !ids.includes(lone.peerId) ? s : undefined
    }, { timeoutMs: 60_000, intervalMs: 250 })
    assert.ok(repaired.replicas.some((r: { peerId: string }) => r.peerId === rest[1].peerId))
    // the lone side (1 of 3 replicas live there) did not re-place
    const loneView = await status(lone, NAME)
    assert.ok(loneView.replicas.some((r: { peerId: string }) => r.peerId === lone.peerId), 'the smaller side kept its placement')
    await add(lone, 5)
    await partition(faults, [])
    const current = repaired.replicas.map((r: { peerId: string }) => byId(mesh, r.peerId))
    await waitFor('exact convergence on the current replicas, the lone writes included', async () => {
      const v = await Promise.all(current.map(async (p: typeof lone) => (await http(p, 'GET', `/v1/services/${NAME}/counters/c`)).json?.value))
      return v.every((x: unknown) => x === total())
    }, { timeoutMs: 90_000, intervalMs: 250 })
    await waitFor('the retired replica closed', async () => (await status(lone, NAME))?.local === false, { timeoutMs: 60_000 })
  })

  it('strong: the majority\'s leader replaces the cut-off voter by joint consensus; after the heal the removed peer stops its replica and reads the latest value', async () => {
    const { mesh } = m!
    const NAME = 'long-split-kv'
    await apply(mesh.peers[0], { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: NAME }, spec: { replicas: 3, consistency: { mode: 'strong', latencyRadiusMs: 50 } } })
    const st = await waitFor('a leader', async () => { const s = await status(mesh.peers[0], NAME); return typeof s?.leader === 'string' ? s : undefined }, { timeoutMs: 30_000 })
    const voters: string[] = st.replicas.filter((r: { role: string }) => r.role === 'voter').map((r: { peerId: string }) => r.peerId)
    const cut = byId(mesh, voters.find(v => v !== st.leader)!)
    const leader = byId(mesh, st.leader)
    const others = mesh.peers.filter(p => !voters.includes(p.peerId))
    const majority = [...voters.filter(v => v !== cut.peerId).map(v => byId(mesh, v).index), others[0].index]
    await partition(faults, [majority, [cut.index, others[1].index]], mesh.peers)
    let n = 0
    const healed = await waitFor('the cut-off voter replaced', async () => {
      const w = await http(leader, 'PUT', `/v1/services/${NAME}/kv/k`, `v${n}`)
      assert.equal(w.status, 200, `majority writes keep succeeding: ${JSON.stringify(w.json)}`)
      n++
      const s = await status(leader, NAME)
      const ids: string[] = s?.replicas.filter((r: { role: string }) => r.role === 'voter').map((r: { peerId: string }) => r.peerId) ?? []
      return ids.length === 3 && !ids.includes(cut.peerId) && s.liveReplicas.length === 3 ? s : undefined
    }, { timeoutMs: 90_000, intervalMs: 200 })
    assert.ok(healed.replicas.some((r: { peerId: string }) => r.peerId === others[0].peerId), 'the replacement is on the majority side')
    const last = `v${n - 1}`
    await partition(faults, [])
    await waitFor('the removed peer stopped its replica', async () => (await status(cut, NAME))?.local === false, { timeoutMs: 90_000 })
    const r = await waitFor('the removed peer reads the latest value (forwarded)', async () => { const x = await http(cut, 'GET', `/v1/services/${NAME}/kv/k`); return x.status === 200 ? x : undefined }, { timeoutMs: 60_000 })
    assert.equal(r.json.value, last)
  })

  // last in this mesh: it kills a peer
  it('an even split re-places on both sides; the newcomer of the side whose placement lost hands its writes over too', async () => {
    const { mesh } = m!
    const NAME = 'even-split'
    const spec = { replicas: 2, consistency: { mode: 'eventual', maxStalenessMs: 200 } }
    await apply(mesh.peers[0], { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: NAME }, spec })
    const st = await waitFor('placed', async () => { const s = await status(mesh.peers[0], NAME); return s?.replicas.length === 2 ? s : undefined }, { timeoutMs: 30_000 })
    const [a, b] = st.replicas.map((r: { peerId: string }) => byId(mesh, r.peerId))
    await waitFor('both replicas open', async () => (await status(a, NAME))?.local === true && (await status(b, NAME))?.local === true, { timeoutMs: 30_000 })
    const rest = mesh.peers.filter(p => p !== a && p !== b)
    const { add, total } = counterAdder(NAME, SEED + 3)
    await add(a, 3)
    // 1 of 2 replicas live on each side: both sides re-place
    await partition(faults, [[a.index, rest[0].index], [b.index, rest[1].index, rest[2].index]], mesh.peers)
    const placedOn = async (observer: typeof a, gone: typeof a): Promise<typeof a | undefined> => {
      const ids: string[] = (await status(observer, NAME))?.replicas.map((r: { peerId: string }) => r.peerId) ?? []
      const added = ids.find(id => id !== observer.peerId && id !== gone.peerId)
      return ids.length === 2 && !ids.includes(gone.peerId) && added !== undefined ? byId(mesh, added) : undefined
    }
    const x = await waitFor('side A re-placed', async () => placedOn(a, b), { timeoutMs: 60_000, intervalMs: 250 })
    const y = await waitFor('side B re-placed', async () => placedOn(b, a), { timeoutMs: 60_000, intervalMs: 250 })
    await waitFor('the newcomers open', async () => (await status(x, NAME))?.local === true && (await status(y, NAME))?.local === true, { timeoutMs: 30_000 })
    await add(x, 5)
    await add(y, 5)
    // side B's writes now live on y (and b); b dies, and side A's placement is made the later one (a spec
    // change), so it wins the catalogue merge: y is neither a replica nor retired there
    await killHard(b)
    await apply(a, { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: NAME }, spec: { ...spec, consistency: { mode: 'eventual', maxStalenessMs: 250 } } })
    const live = mesh.peers.filter(p => p !== b)
    await partition(faults, [], live)
    const winners = [a.peerId, x.peerId].sort().join()
    await waitFor('y learns that side A\'s placement won', async () => (await status(y, NAME))?.replicas.map((r: { peerId: string }) => r.peerId).sort().join() === winners, { timeoutMs: 60_000, intervalMs: 250 })
    await waitFor('exact convergence on the winning replicas, y\'s writes included', async () => {
      const v = await Promise.all([a, x].map(async p => (await http(p, 'GET', `/v1/services/${NAME}/counters/c`)).json?.value))
      return v.every((n: unknown) => n === total())
    }, { timeoutMs: 90_000, intervalMs: 250 })
    await waitFor('y closed its replica', async () => (await status(y, NAME))?.local === false, { timeoutMs: 60_000 })
  })
})
