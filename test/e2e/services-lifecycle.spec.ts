/**
 * e2e (4 real `dcis start` processes in us-east, eu-central, ap-southeast,
 * eu-west): the article's EdgeStatefulService verbatim and residency (zones
 * entries match regions; no replica outside them; an unserved zone is named
 * in the conditions), resize and delete of both modes through the HTTP API.
 */
import assert from 'node:assert/strict'
import { waitFor } from '../helpers/wait.js'
import { apply, byId, http, startHealMesh, status } from './heal-helpers.js'
import type { HealMesh } from './heal-helpers.js'

/** the article's manifest (/work/shared/article.txt, "Sample configuration"), its indentation restored */
const ARTICLE_LEADERBOARD = `apiVersion: edge/v1
kind: EdgeStatefulService
metadata:
  name: leaderboard
spec:
  runtime: wasi
  replicas: 3
  crdtEngine: delta-crdts
  dataSharding:
    strategy: geographic
    zones:
      - us-east
      - eu-central
      - ap-southeast
  consistency:
    mode: eventual
    maxStalenessMs: 200
`

type Cond = { type: string, status: string, reason: string, message: string }
const cond = (s: { conditions: Cond[] }, type: string): Cond | undefined => s.conditions.find(c => c.type === type)
const regionsOf = (s: { replicas: Array<{ region: string }> }): string[] => s.replicas.map(r => r.region).sort()

describe('e2e: residency, resize and delete of stateful services (4 regions)', function () {
  this.timeout(400_000)
  let m: HealMesh | undefined

  before(async () => { m = await startHealMesh(4, 15_000, ['us-east', 'eu-central', 'ap-southeast', 'eu-west']) })
  after(async () => { await m?.stop() })

  it('the article\'s leaderboard: one replica in each listed region, none in eu-west; resize 3 -> 2 -> 3 moves nothing; delete', async () => {
    const { mesh } = m!
    const p0 = mesh.peers[0]
    const res = await http(p0, 'POST', '/v1/manifests', ARTICLE_LEADERBOARD, 'application/yaml')
    assert.equal(res.status, 201, JSON.stringify(res.json))
    const st = await waitFor('placed', async () => { const s = await status(p0, 'leaderboard'); return s?.replicas.length === 3 ? s : undefined }, { timeoutMs: 30_000 })
    assert.deepEqual(regionsOf(st), ['ap-southeast', 'eu-central', 'us-east'])
    assert.equal(st.desiredReplicas, 3)
    await waitFor('all live', async () => (await status(p0, 'leaderboard'))?.liveReplicas.length === 3, { timeoutMs: 30_000 })
    const full = await status(p0, 'leaderboard')
    assert.equal(cond(full, 'FullyReplicated')?.status, 'True')
    assert.equal(cond(full, 'ZonesServed')?.status, 'True')
    const before = st.replicas.map((r: { peerId: string }) => r.peerId)
    const usEast = byId(mesh, st.replicas.find((r: { region: string }) => r.region === 'us-east').peerId)
    assert.equal((await http(usEast, 'POST', '/v1/services/leaderboard/counters/alice', JSON.stringify({ delta: 42 }))).status, 200)

    // shrink: the first two replicas stay where they are
    const shrink = ARTICLE_LEADERBOARD.replace('replicas: 3', 'replicas: 2')
    assert.equal((await http(p0, 'POST', '/v1/manifests', shrink, 'application/yaml')).status, 201)
    const two = await waitFor('shrunk', async () => { const s = await status(p0, 'leaderboard'); return s?.replicas.length === 2 ? s : undefined }, { timeoutMs: 30_000 })
    assert.deepEqual(two.replicas.map((r: { peerId: string }) => r.peerId), before.slice(0, 2))
    assert.equal(cond(two, 'ZonesServed')?.status, 'False', 'a listed region lost its replica')
    // grow back: the listed region without a replica is served first
    assert.equal((await http(p0, 'POST', '/v1/manifests', ARTICLE_LEADERBOARD, 'application/yaml')).status, 201)
    const three = await waitFor('grown', async () => { const s = await status(p0, 'leaderboard'); return s?.replicas.length === 3 ? s : undefined }, { timeoutMs: 30_000 })
    assert.deepEqual(regionsOf(three), ['ap-southeast', 'eu-central', 'us-east'])
    assert.deepEqual(three.replicas.slice(0, 2).map((r: { peerId: string }) => r.peerId), before.slice(0, 2))
    // the regrown replica bootstraps the data
    const ap = byId(mesh, three.replicas[2].peerId)
    await waitFor('ap-southeast replica has the counter', async () => (await http(ap, 'GET', '/v1/services/leaderboard/counters/alice')).json?.value === 42, { timeoutMs: 30_000 })

    // delete: gone on every peer; created again it starts empty
    const del = await http(mesh.peers[3], 'DELETE', '/v1/services/leaderboard')
    assert.equal(del.status, 200, JSON.stringify(del.json))
    assert.deepEqual(del.json, { name: 'leaderboard', mode: 'eventual', deleted: true })
    for (const p of mesh.peers) await waitFor(`deleted at peer ${p.index}`, async () => (await http(p, 'GET', '/v1/services/leaderboard')).status === 404, { timeoutMs: 30_000 })
    assert.equal((await http(p0, 'DELETE', '/v1/services/leaderboard')).json.error.code, 'SERVICE_NOT_FOUND')
    assert.equal((await http(p0, 'POST', '/v1/manifests', ARTICLE_LEADERBOARD, 'application/yaml')).status, 201)
    await waitFor('re-created and open at us-east', async () => (await status(usEast, 'leaderboard'))?.local === true, { timeoutMs: 30_000 })
    assert.equal((await http(usEast, 'GET', '/v1/services/leaderboard/counters/alice')).json.value, 0)
  })

  it('a listed zone with no eligible peer leaves the service short, and its conditions name the zone', async () => {
    const { mesh } = m!
    await apply(mesh.peers[1], { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: 'resident' }, spec: { replicas: 2, dataSharding: { strategy: 'geographic', zones: ['us-east', 'sa-east'] }, consistency: { mode: 'eventual' } } })
    const st = await waitFor('placed', async () => status(mesh.peers[1], 'resident'), { timeoutMs: 30_000 })
    assert.deepEqual(regionsOf(st), ['us-east'], 'never placed outside the listed zones')
    const fr = cond(st, 'FullyReplicated')
    assert.equal(fr?.status, 'False')
    assert.equal(fr?.reason, 'ZoneUnserved')
    assert.match(fr?.message ?? '', /sa-east/)
    assert.match(cond(st, 'ZonesServed')?.message ?? '', /sa-east/)
    // moving the service to other zones: the old replica hands its data to the new one before it closes
    const usPeer = byId(mesh, st.replicas[0].peerId)
    await waitFor('open in us-east', async () => (await status(usPeer, 'resident'))?.local === true, { timeoutMs: 30_000 })
    assert.equal((await http(usPeer, 'POST', '/v1/services/resident/counters/n', JSON.stringify({ delta: 17 }))).status, 200)
    await apply(mesh.peers[1], { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: 'resident' }, spec: { replicas: 1, dataSharding: { strategy: 'geographic', zones: ['eu-central'] }, consistency: { mode: 'eventual' } } })
    const moved = await waitFor('moved', async () => { const s = await status(mesh.peers[1], 'resident'); return s?.replicas[0]?.region === 'eu-central' ? s : undefined }, { timeoutMs: 30_000 })
    const euPeer = byId(mesh, moved.replicas[0].peerId)
    await waitFor('the data followed the move', async () => (await status(euPeer, 'resident'))?.local === true && (await http(euPeer, 'GET', '/v1/services/resident/counters/n')).json?.value === 17, { timeoutMs: 30_000 })
    await waitFor('the old replica closed', async () => (await status(usPeer, 'resident'))?.local === false, { timeoutMs: 30_000 })
    // a strong service is held to the same rule
    await apply(mesh.peers[1], { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: 'resident-kv' }, spec: { replicas: 3, dataSharding: { strategy: 'geographic', zones: ['eu-central', 'eu-west'] }, consistency: { mode: 'strong', latencyRadiusMs: 50 } } })
    const kv = await waitFor('strong placed', async () => status(mesh.peers[1], 'resident-kv'), { timeoutMs: 30_000 })
    assert.deepEqual(regionsOf(kv), ['eu-central', 'eu-west'])
    assert.equal(cond(kv, 'FullyReplicated')?.reason, 'InsufficientPeers')
    // new zones: the shortfall is filled and a member outside them is replaced by its leader (the leader itself never moves)
    await apply(mesh.peers[1], { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: 'resident-kv' }, spec: { replicas: 3, dataSharding: { strategy: 'geographic', zones: ['eu-central', 'us-east', 'ap-southeast'] }, consistency: { mode: 'strong', latencyRadiusMs: 50 } } })
    const regrouped = await waitFor('regrouped in the new zones', async () => {
      const leader = (await status(mesh.peers[1], 'resident-kv'))?.leader as string | undefined
      if (leader === undefined) return undefined
      const s = await status(byId(mesh, leader), 'resident-kv')
      if (s === undefined || s.replicas.length !== 3 || s.liveReplicas.length !== 3) return undefined
      const leaderRegion = byId(mesh, leader).region
      const allowed = new Set(['eu-central', 'us-east', 'ap-southeast', ...(leaderRegion === 'eu-west' ? ['eu-west'] : [])])
      return s.replicas.every((r: { region: string }) => allowed.has(r.region)) ? s : undefined
    }, { timeoutMs: 60_000 })
    assert.equal(cond(regrouped, 'FullyReplicated')?.status, 'True')
  })

  it('strong: resize 3 -> 4 (a learner joins by a membership change) -> 3, then delete', async () => {
    const { mesh } = m!
    const manifest = (replicas: number): object => ({ apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: 'acct' }, spec: { replicas, consistency: { mode: 'strong', latencyRadiusMs: 50 } } })
    await apply(mesh.peers[0], manifest(3))
    await waitFor('a leader', async () => typeof (await status(mesh.peers[0], 'acct'))?.leader === 'string', { timeoutMs: 30_000 })
    assert.equal((await http(mesh.peers[2], 'PUT', '/v1/services/acct/kv/x', 'one')).status, 200)
    await apply(mesh.peers[2], manifest(4))
    const four = await waitFor('4 members', async () => {
      const leader = (await status(mesh.peers[0], 'acct'))?.leader as string | undefined
      if (leader === undefined) return undefined
      const s = await status(byId(mesh, leader), 'acct')
      return s?.replicas.length === 4 && s.liveReplicas.length === 4 ? s : undefined
    }, { timeoutMs: 60_000 })
    assert.deepEqual(four.replicas.map((r: { role: string }) => r.role).sort(), ['learner', 'voter', 'voter', 'voter'])
    const learner = byId(mesh, four.replicas.find((r: { role: string }) => r.role === 'learner').peerId)
    await waitFor('the learner serves the data', async () => (await status(learner, 'acct'))?.local === true && (await http(learner, 'GET', '/v1/services/acct/kv/x')).json?.value === 'one', { timeoutMs: 30_000 })
    await apply(mesh.peers[1], manifest(3))
    await waitFor('3 members again', async () => {
      const leader = (await status(mesh.peers[0], 'acct'))?.leader as string | undefined
      if (leader === undefined) return false
      const s = await status(byId(mesh, leader), 'acct')
      return s?.replicas.length === 3 && cond(s, 'FullyReplicated')?.status === 'True'
    }, { timeoutMs: 60_000 })
    // right after the change a non-member's view of the leader may lag: 503 is the retryable answer
    await waitFor('a write after shrinking', async () => (await http(mesh.peers[3], 'PUT', '/v1/services/acct/kv/x', 'two')).status === 200, { timeoutMs: 15_000 })
    const del = await http(mesh.peers[1], 'DELETE', '/v1/services/acct')
    assert.equal(del.status, 200, JSON.stringify(del.json))
    assert.equal(del.json.mode, 'strong')
    for (const p of mesh.peers) {
      await waitFor(`deleted at peer ${p.index}`, async () => {
        const r = await http(p, 'GET', '/v1/services/acct/kv/x')
        return r.status === 404 && r.json?.error?.code === 'SERVICE_NOT_FOUND'
      }, { timeoutMs: 30_000 })
    }
  })
})
