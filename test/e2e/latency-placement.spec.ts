/**
 * Issue 4, "Done when": six real `dcis start` processes on loopback, two per
 * region (eu-west, us-east, ap-south), with the user-space link emulator
 * delaying every libp2p byte by the RTT matrix in
 * simulations/rtt/three-regions.json (same region 2 ms, eu-us 80, eu-ap 140,
 * us-ap 200). Over HTTP only:
 *   (a) every peer's GET /v1/latency estimates every other peer close to the
 *       emulated RTT (20% across regions);
 *   (b) POST /v1/allocations with latencyMs / region / from constraints lands
 *       only on peers that satisfy them by the emulated matrix, and impossible
 *       constraints answer 409 NO_PLACEMENT with the explanation;
 *   (c) concurrent allocations from every peer against a small capacity never
 *       overcommit any peer (sum of each peer's GET /v1/allocations against its
 *       declared capacity), and every 201 is really held by the peers it names.
 *
 * Probe/gossip intervals are shortened with the env knobs
 * DCIS_LATENCY_PROBE_MS / DCIS_LATENCY_GOSSIP_MS (defaults 5 s / 10 s) so the
 * map settles in well under the "after a minute".
 */
import assert from 'node:assert/strict'
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import { REPO_ROOT, cliCommand } from '../helpers/cli.js'
import { api } from '../helpers/http.js'
import type { Json } from '../helpers/http.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'

const MATRIX_FILE = join(REPO_ROOT, 'simulations/rtt/three-regions.json')
const REGIONS = ['eu-west', 'us-east', 'ap-south']
const NODES = 6
/** declared per peer (config `resources`): the ledger accepts against these */
const CAPACITY = { cpu: 2, memoryMb: 4096 }
const ENV_KNOBS = { DCIS_LATENCY_PROBE_MS: '1000', DCIS_LATENCY_GOSSIP_MS: '2000', DCIS_END_REPUBLISH_MS: '5000' }
/** 20% across regions, as the issue asks */
const REL_TOLERANCE = 0.2
/**
 * Same-region pairs are emulated at 2 ms: 20% of that is 0.4 ms, below the
 * scheduling noise of six Node processes sharing two cores. They must be
 * within a few ms absolute instead.
 */
const ABS_TOLERANCE_MS = 6

async function post (peer: LocalPeer, path: string, body: unknown): Promise<{ status: number, body: Json }> {
  return api(`${peer.apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
}

interface AllocationNode { peerId: string, region: string, zone: string, rttMs?: number | null }
interface AllocationView { id: string, nodes: AllocationNode[], cpu: number, memoryMb: number }
interface LatencyPeer { peerId: string, estimatedMs: number | null, errorMs: number | null, source: string | null, rttMs: number | null }

describe('e2e: latency map and latency-aware placement on an emulated 3-region mesh', function () {
  this.timeout(240_000)
  let dir: string
  let mesh: LocalMesh
  let rtt: number[][]
  const saved: Record<string, string | undefined> = {}

  const regionIndex = (region: string): number => {
    const i = REGIONS.indexOf(region)
    assert.ok(i >= 0, `unknown region ${region}`)
    return i
  }
  const byId = (peerId: string): LocalPeer => {
    const p = mesh.peers.find(x => x.peerId === peerId)
    assert.ok(p != null, `unknown peer ${peerId}`)
    return p
  }
  /** the emulated RTT between two peers (0 to itself) */
  const trueRtt = (a: LocalPeer, b: LocalPeer): number => a === b ? 0 : rtt[regionIndex(a.region)][regionIndex(b.region)]

  before(async function () {
    const matrix = JSON.parse(await readFile(MATRIX_FILE, 'utf8')) as { regions: string[], rttMs: number[][] }
    assert.deepEqual(matrix.regions, REGIONS)
    rtt = matrix.rttMs
    dir = await mkdtemp(join(tmpdir(), 'dcis-e2e-lat-'))
    const config = join(dir, 'resources.yaml')
    await writeFile(config, `resources:\n  cpu: ${CAPACITY.cpu}\n  memoryMb: ${CAPACITY.memoryMb}\n`)
    for (const [k, v] of Object.entries(ENV_KNOBS)) { saved[k] = process.env[k]; process.env[k] = v }
    mesh = new LocalMesh({
      nodes: NODES,
      regions: REGIONS,
      basePort: await freePortBlock(NODES),
      dataDir: dir,
      rttMatrix: MATRIX_FILE,
      logLevel: 'warn',
      extraArgs: ['--config', config],
      command: cliCommand()
    })
    try {
      await mesh.start()
    } finally {
      for (const [k, v] of Object.entries(saved)) { if (v === undefined) { Reflect.deleteProperty(process.env, k) } else { process.env[k] = v } }
    }
    await waitFor('every peer API to answer', async () => {
      for (const peer of mesh.peers) {
        assert.equal(peer.exited, false, `peer ${peer.index} exited; log: ${peer.logFile}`)
        if ((await fetch(`${peer.apiUrl}/readyz`, { signal: AbortSignal.timeout(3000) })).status !== 200) return false
      }
      return true
    }, { timeoutMs: 120_000, intervalMs: 500 })
  })

  after(async function () {
    await mesh?.stop()
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it('(a) every peer\'s /v1/latency estimates every other peer within 20% of the emulated RTT', async function () {
    const started = Date.now()
    let last = ''
    await waitFor('every estimate within tolerance', async () => {
      const bad: string[] = []
      for (const peer of mesh.peers) {
        assert.equal(peer.exited, false, `peer ${peer.index} exited; log: ${peer.logFile}`)
        const { status, body } = await api<{ peers: LatencyPeer[] }>(`${peer.apiUrl}/v1/latency`)
        assert.equal(status, 200)
        for (const other of mesh.peers) {
          if (other === peer) continue
          const want = trueRtt(peer, other)
          const e = body.peers.find(p => p.peerId === other.peerId)
          const got = e?.estimatedMs ?? null
          const ok = got != null && (peer.region === other.region
            ? Math.abs(got - want) <= ABS_TOLERANCE_MS
            : Math.abs(got - want) <= REL_TOLERANCE * want)
          if (!ok) bad.push(`${peer.index}->${other.index} (${peer.region}->${other.region}) want ${want} got ${got ?? 'none'}`)
        }
      }
      last = bad.join('; ')
      return bad.length === 0
    }, { timeoutMs: 120_000, intervalMs: 1000 }).catch((err: Error) => { throw new Error(`${err.message}; off: ${last}`) })
    // one more full read: print the worst relative error for the record
    let worst = 0
    for (const peer of mesh.peers) {
      const { body } = await api<{ peers: LatencyPeer[] }>(`${peer.apiUrl}/v1/latency`)
      for (const e of body.peers) {
        const other = mesh.peers.find(p => p.peerId === e.peerId)
        if (other == null || other.region === peer.region || e.estimatedMs == null) continue
        worst = Math.max(worst, Math.abs(e.estimatedMs - trueRtt(peer, other)) / trueRtt(peer, other))
      }
    }
    console.log(`      latency map settled ${((Date.now() - started) / 1000).toFixed(1)} s after the APIs answered; worst cross-region error now ${(worst * 100).toFixed(1)}%`)
  })

  it('every registry lists the six verified peers', async function () {
    await waitFor('6 descriptors in every registry', async () => {
      for (const peer of mesh.peers) {
        const { body } = await api<{ nodes: Array<{ peerId: string }> }>(`${peer.apiUrl}/v1/registry/nodes`)
        if (body.nodes.length !== NODES) return false
      }
      return true
    }, { timeoutMs: 60_000, intervalMs: 500 })
  })

  it('(b) latencyMs / region / from constraints land only on peers that satisfy them', async function () {
    // limits leave the true RTT some room (a loaded host only ever inflates
    // pings, and a borderline candidate is re-probed before commit); the
    // impossible ones below are close to the truth on purpose
    const cases: Array<{ from: number, constraints: Record<string, unknown>, replicas?: number }> = [
      { from: 0, constraints: { latencyMs: 30 } }, // eu-west: only eu-west
      { from: 0, constraints: { latencyMs: 120 }, replicas: 3 }, // eu-west + us-east (80), not ap-south (140)
      { from: 0, constraints: { latencyMs: 110, region: 'us-east' } },
      { from: 1, constraints: { latencyMs: 160, region: 'eu-west' } }, // us-east -> eu-west 80
      { from: 2, constraints: { latencyMs: 160 }, replicas: 2 }, // ap-south: ap + eu
      { from: 1, constraints: { latencyMs: 30, from: 'ap-south' } }, // measured from ap-south: only ap-south peers
      // from another region the estimate is a third-party one (coordinates /
      // factors, never probed), so its error bound is wider: leave it room
      { from: 3, constraints: { latencyMs: 190, region: 'eu-west', from: 'ap-south' } }
    ]
    for (const c of cases) {
      const placer = mesh.peers[c.from]
      const body = { constraints: { memory: '64Mi', ...c.constraints }, replicas: c.replicas ?? 1, leaseMs: 600_000 }
      const res = await post(placer, '/v1/allocations?explain=true', body)
      const what = `${JSON.stringify(body)} from peer ${placer.index} (${placer.region})`
      assert.equal(res.status, 201, `${what}: ${JSON.stringify(res.body)}`)
      const alloc = res.body as AllocationView
      assert.equal(alloc.nodes.length, c.replicas ?? 1, what)
      const limit = c.constraints.latencyMs as number
      const origin = typeof c.constraints.from === 'string' ? c.constraints.from : undefined
      for (const n of alloc.nodes) {
        const target = byId(n.peerId)
        assert.equal(n.region, target.region, what)
        // from a region: the RTT from a peer of that region (diagonal for a peer inside it)
        const truth = origin != null ? rtt[regionIndex(origin)][regionIndex(target.region)] : trueRtt(placer, target)
        assert.ok(truth <= limit, `${what} placed on peer ${target.index} (${target.region}): emulated RTT ${truth} ms > ${limit} ms`)
        if (c.constraints.region != null) assert.equal(target.region, c.constraints.region, what)
      }
      if ((c.replicas ?? 1) > 1) assert.equal(new Set(alloc.nodes.map(n => n.peerId)).size, alloc.nodes.length, `${what}: replicas on distinct peers`)
      // readable from any peer, released from any peer
      const other = mesh.peers[(c.from + 2) % NODES]
      const got = await api<AllocationView>(`${other.apiUrl}/v1/allocations/${encodeURIComponent(alloc.id)}`)
      assert.equal(got.status, 200, JSON.stringify(got.body))
      assert.deepEqual(got.body.nodes.map(n => n.peerId).sort(), alloc.nodes.map(n => n.peerId).sort())
      const del = await api(`${other.apiUrl}/v1/allocations/${encodeURIComponent(alloc.id)}`, { method: 'DELETE' })
      assert.equal(del.status, 200, JSON.stringify(del.body))
    }

    const impossible: Array<{ from: number, constraints: Record<string, unknown> }> = [
      { from: 0, constraints: { latencyMs: 100, region: 'ap-south' } }, // eu-ap is 140
      { from: 1, constraints: { latencyMs: 150, region: 'ap-south' } }, // us-ap is 200
      { from: 4, constraints: { latencyMs: 60, region: 'us-east', from: 'eu-west' } }, // eu-us is 80
      { from: 0, constraints: { region: 'mars' } }
    ]
    for (const c of impossible) {
      const res = await post(mesh.peers[c.from], '/v1/allocations', { constraints: c.constraints })
      assert.equal(res.status, 409, `${JSON.stringify(c)}: ${JSON.stringify(res.body)}`)
      assert.equal(res.body.error.code, 'NO_PLACEMENT')
      const message = String(res.body.error.message)
      assert.match(message, /explanation/, message)
      const m = /explanation[^{]*(\{.*\})/s.exec(message)
      assert.ok(m != null, `no JSON explanation in: ${message}`)
      const explanation = JSON.parse(m[1]) as { total: number, removed: Record<string, number>, borderlineRejectedByProbe: number }
      assert.ok(explanation.total >= NODES - 1, message)
      if (c.constraints.region === 'mars') {
        assert.equal(explanation.removed.region, explanation.total, message)
      } else {
        assert.ok(explanation.removed.latency + explanation.borderlineRejectedByProbe >= 1, message)
      }
    }

    // nothing is left reserved anywhere
    for (const peer of mesh.peers) {
      const { body } = await api<{ allocations: AllocationView[] }>(`${peer.apiUrl}/v1/allocations`)
      assert.deepEqual(body.allocations.map(a => a.id), [], `peer ${peer.index} still holds reservations`)
    }
  })

  it('rejects malformed constraints with 400 naming the field', async function () {
    const cases: Array<[unknown, RegExp]> = [
      [{ constraints: { latencyMs: -5 } }, /latencyMs/],
      [{ constraints: { memory: '12 parsecs' } }, /memory/],
      [{ constraints: { colour: 'blue' } }, /colour|additional/],
      [{ constraints: { cpu: 'lots' } }, /cpu/]
    ]
    for (const [body, field] of cases) {
      const res = await post(mesh.peers[0], '/v1/allocations', body)
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`)
      assert.match(JSON.stringify(res.body.error), field)
    }
  })

  /**
   * Every peer fires its requests at once; each asks for more than a third
   * of a peer's capacity, so a peer can hold at most two. Placers see
   * capacity in the registry late, so targets refuse and placers move on;
   * whatever happens, no peer may hold more than it declared.
   */
  async function burst (label: string, constraints: Record<string, unknown>, perPeer: number, resource: 'cpu' | 'memoryMb', requestSize: number): Promise<{ ok: number, messages: string[] }> {
    const responses = await Promise.all(mesh.peers.flatMap(peer => [...Array(perPeer).keys()].map(async () =>
      post(peer, '/v1/allocations', { constraints, leaseMs: 600_000 }))))
    const placed = new Map<string, number>()
    let ok = 0
    for (const r of responses) {
      if (r.status === 201) {
        ok++
        for (const n of (r.body as AllocationView).nodes) placed.set(n.peerId, (placed.get(n.peerId) ?? 0) + 1)
      } else {
        assert.equal(r.status, 409, `${label}: unexpected answer ${r.status} ${JSON.stringify(r.body)}`)
        assert.equal(r.body.error.code, 'NO_PLACEMENT')
      }
    }
    const maxPerPeer = Math.floor(CAPACITY[resource] / requestSize)
    let held = 0
    for (const peer of mesh.peers) {
      const { status, body } = await api<{ allocations: AllocationView[], free: { cpu: number, memoryMb: number } }>(`${peer.apiUrl}/v1/allocations`)
      assert.equal(status, 200)
      const used = body.allocations.reduce((s, a) => s + a[resource], 0)
      assert.ok(used <= CAPACITY[resource] + 1e-9, `${label}: peer ${peer.index} holds ${used} ${resource} > capacity ${CAPACITY[resource]}`)
      assert.ok(body.allocations.length <= maxPerPeer, `${label}: peer ${peer.index} holds ${body.allocations.length} > ${maxPerPeer}`)
      assert.ok(body.free[resource] >= -1e-9, `${label}: peer ${peer.index} free ${resource} ${body.free[resource]}`)
      // every acknowledged placement is really held there, and nothing else is
      assert.equal(body.allocations.length, placed.get(peer.peerId) ?? 0, `${label}: peer ${peer.index} holds ${body.allocations.length}, answers named it ${placed.get(peer.peerId) ?? 0} times`)
      held += body.allocations.length
      for (const a of body.allocations) {
        const del = await api(`${peer.apiUrl}/v1/allocations/${encodeURIComponent(a.id)}`, { method: 'DELETE' })
        assert.equal(del.status, 200, JSON.stringify(del.body))
      }
    }
    console.log(`      ${label}: ${responses.length} concurrent requests, ${ok} placed (at most ${maxPerPeer} per peer, ${held} held)`)
    return { ok, messages: responses.filter(r => r.status === 409).map(r => String(r.body.error.message)) }
  }

  it('(c) concurrent allocations from every peer never overcommit a peer (memory)', async function () {
    // 1536 MiB of 4096: two fit on a peer, a third does not. 24 requests for 12 slots.
    const { ok } = await burst('memory 1536Mi', { memory: '1536Mi' }, 4, 'memoryMb', 1536)
    // a ledger that refused everything would pass the checks above: some must land
    assert.ok(ok >= NODES, `only ${ok} of ${NODES * 4} placed with room for ${NODES * 2}`)
    // and once released, the capacity is usable again (the registry catches up on republish)
    const alloc = await waitFor('a placement after the releases', async () => {
      const res = await post(mesh.peers[0], '/v1/allocations', { constraints: { memory: '3000Mi' } })
      return res.status === 201 ? res.body as AllocationView : undefined
    }, { timeoutMs: 30_000, intervalMs: 1000 })
    assert.equal((await api(`${mesh.peers[0].apiUrl}/v1/allocations/${encodeURIComponent(alloc.id)}`, { method: 'DELETE' })).status, 200)
  })

  it('(c) concurrent cpu: 1 allocations from every peer never overcommit a peer (cpu)', async function () {
    // 2 declared cores, cpu: 1 each: at most two per peer. The registry
    // advertises the lesser of unreserved and load-free cores, so on a busy
    // host fewer (or none) may be placed; overcommit must never happen.
    const { ok, messages } = await burst('cpu 1', { cpu: 1 }, 4, 'cpu', 1)
    if (ok === 0) {
      // nothing placed: that must be the cpu filter (every END advertising no
      // free core because of host load), not some other failure
      for (const m of messages) assert.match(m, /cpu removed [1-9]/, m)
      console.log('      skipped: host load average >= cores, so no END advertises a free core and no cpu placement could be exercised (the memory burst covers overcommit)')
      this.skip()
    }
  })
})
