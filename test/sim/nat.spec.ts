/**
 * The nat-sites lab (simulations/nat-sites.yaml, issue 19's "Done when"):
 * six real `dcis start` processes in network namespaces — one public site
 * (dc1) of two circuit relays, two sites (home, shop) of two peers each
 * behind a router namespace with nft masquerade that drops new inbound
 * connections. Checks, in order:
 *   - every peer lists every descriptor; NAT'd peers hold a reservation and
 *     their END says `relayed` with a relayed address;
 *   - a function deployed on a home peer is invoked through a shop peer
 *     (the module comes over a relayed connection: only home-0 has it);
 *   - a strong service with voters behind both NATs commits writes;
 *   - the report: DCUtR upgrades per NAT type (port-preserving, random),
 *     relayed vs direct latency (printed);
 *   - killing the relay the NAT'd peers reserved on: they re-reserve on the
 *     other within 30 s and stay reachable (a write through each site).
 * Needs root, ip and nft (the namespace lab) and a built dist/: skipped
 * with the reason otherwise. Leaves no namespace behind (teardown in after).
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadOrCreateIdentity } from '../../src/identity/index.js'
import { LabClient, ok } from '../../src/sim/client.js'
import { dropState } from '../../src/sim/labstate.js'
import { NetnsNetwork, netnsProblem } from '../../src/sim/netns.js'
import { PeerSet } from '../../src/sim/peers.js'
import { natTypes } from '../../src/sim/report.js'
import { loadScenario } from '../../src/sim/scenario.js'
import { REPO_ROOT } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'
import type { Reply } from '../../src/sim/client.js'
import type { NatJson } from '../../src/sim/report.js'
import type { SimPeer } from '../../src/sim/peers.js'

const DIST_CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js')
const ECHO = join(REPO_ROOT, 'examples', 'functions', 'build', 'echo.wasm')

/** waitFor with a message computed when it times out (the last reply) */
async function until (condition: () => Promise<boolean>, o: { timeoutMs: number, intervalMs: number, message: string | (() => string) }): Promise<void> {
  try {
    await waitFor('condition', condition, { timeoutMs: o.timeoutMs, intervalMs: o.intervalMs })
  } catch (err) {
    throw new Error(`timed out after ${o.timeoutMs} ms: ${typeof o.message === 'string' ? o.message : o.message()}`, { cause: err })
  }
}

interface NatView {
  reachability: { status: string, relays: string[], relay?: boolean }
  reservations: string[]
  connections: { direct: number, relayed: number }
  upgradedToDirect: number
  relayedConnectionsOpened: number
  relayServer: { reservations: number | null }
  events: Array<{ at: number, kind: string, peer: string }>
}

describe('nat-sites lab: NAT traversal through circuit relays (namespace lab)', function () {
  this.timeout(900_000)
  let dir: string | undefined
  let network: NetnsNetwork | undefined
  let peers: PeerSet | undefined
  let client: LabClient
  let failed = false
  const by = (name: string): SimPeer => peers!.byName(name)!
  const natted = (): SimPeer[] => peers!.peers.filter(p => p.plan.site.nat === true)
  const relays = (): SimPeer[] => peers!.peers.filter(p => p.plan.site.relay === true)
  const call = async (p: SimPeer, method: string, path: string, body?: string | Uint8Array, type?: string, timeoutMs?: number): Promise<Reply> => client.call(p, method, path, body, type, timeoutMs)
  const nat = async (p: SimPeer): Promise<NatView | null> => {
    const r = await call(p, 'GET', '/v1/nat')
    return ok(r) ? r.json as NatView : null
  }

  before(async function () {
    if (!existsSync(DIST_CLI) || !existsSync(ECHO)) { console.log('      skipped: dist/ or examples/functions/build not built (npm run build)'); this.skip() }
    const problem = await netnsProblem()
    if (problem != null) { console.log(`      skipped: the namespace lab (nft masquerade NAT) needs root, ip and nft: ${problem}`); this.skip() }
    dir = await mkdtemp(join(tmpdir(), 'dcis-nat-'))
    const scenario = loadScenario(join(REPO_ROOT, 'simulations', 'nat-sites.yaml'))
    const matrixFile = join(dir, 'rtt-matrix.json')
    await writeFile(matrixFile, JSON.stringify({ name: 'nat-sites-rtt', ...scenario.rttMatrix! }))
    network = new NetnsNetwork()
    console.log(`      lab run ${network.state.runId}, files in ${dir}`)
    const runner = await loadOrCreateIdentity(join(dir, 'runner'))
    client = new LabClient(runner)
    peers = new PeerSet({
      dir,
      network,
      command: [process.execPath, DIST_CLI],
      logLevel: process.env.DCIS_TEST_LOG_LEVEL ?? 'info',
      runnerDid: runner.did,
      extraArgs: (p) => ['--rtt-matrix', matrixFile, '--site', p.name],
      now: () => performance.now()
    })
    await network.setup(scenario.peers)
    await peers.prepare(scenario.peers)
    for (const p of peers.peers) await peers.spawn(p)
  })

  afterEach(function () { if (this.currentTest?.state === 'failed') failed = true })

  after(async () => {
    if (failed && peers != null) {
      for (const p of peers.peers) {
        const log = existsSync(p.logFile) ? readFileSync(p.logFile, 'utf8').split('\n').filter(l => /"level":(40|50|60)/.test(l)).slice(-8) : []
        console.log(`      --- ${p.plan.name} (${p.peerId}) warnings/errors:\n${log.join('\n')}`)
      }
    }
    await peers?.stopAll().catch(() => {})
    if (network != null) { await network.teardown().catch(() => {}); dropState(network.state.runId) }
    if (dir != null && !failed) await rm(dir, { recursive: true, force: true })
  })

  it('every peer lists every descriptor; NAT\'d peers hold a reservation and say relayed', async () => {
    const all = peers!.peers
    await until(async () => {
      const lists = await Promise.all(all.map(async p => {
        const r = await call(p, 'GET', '/v1/registry/nodes', undefined, undefined, 5000)
        return ok(r) ? new Set((r.json as { nodes: Array<{ peerId: string }> }).nodes.map(n => n.peerId)) : null
      }))
      return lists.every(l => l != null && all.every(q => l.has(q.peerId)))
    }, { timeoutMs: 240_000, intervalMs: 1000, message: 'every registry lists all six peers' })
    const relayIds = new Set(relays().map(p => p.peerId))
    for (const p of natted()) {
      await until(async () => {
        const v = await nat(p)
        return v != null && v.reservations.length >= 1 && v.reservations.every(r => relayIds.has(r)) && v.reachability.status === 'relayed'
      }, { timeoutMs: 60_000, intervalMs: 1000, message: `${p.plan.name} holds a reservation on a dc1 relay` })
    }
    // what the others see: the END of a NAT'd peer carries its relayed address
    await until(async () => {
      const r = await call(by('shop-1'), 'GET', '/v1/registry/nodes')
      if (!ok(r)) return false
      const home0 = (r.json as { nodes: Array<{ peerId: string, end: { reachability?: { status: string, relays: string[] } } }> }).nodes.find(n => n.peerId === by('home-0').peerId)
      return home0?.end.reachability?.status === 'relayed' && home0.end.reachability.relays.some(a => a.includes('/p2p-circuit'))
    }, { timeoutMs: 60_000, intervalMs: 1000, message: 'shop-1 sees home-0 as relayed, with its relayed address' })
    const relayView = await nat(relays()[0])
    assert.equal(relayView?.reachability.status, 'public')
    assert.equal(relayView?.reachability.relay, true)
  })

  it('a function deployed on a home peer is invoked through a shop peer', async () => {
    const wasm = new Uint8Array(readFileSync(ECHO))
    const d = await call(by('home-0'), 'POST', '/v1/functions?name=nat-echo&abi=wasi', wasm, 'application/wasm', 60_000)
    assert.ok(ok(d), `deploy: ${d.status} ${d.text}`)
    const input = `across two NATs ${Date.now()}`
    let last: Reply | undefined
    await until(async () => {
      last = await call(by('shop-0'), 'POST', '/v1/functions/nat-echo', input, 'application/octet-stream', 60_000)
      return ok(last)
    }, { timeoutMs: 180_000, intervalMs: 2000, message: () => `invoke through shop-0: ${last?.status} ${last?.text.slice(0, 300)}` })
    assert.equal(last!.text, input)
  })

  it('a strong service with a voter behind each NAT commits writes', async function () {
    const manifest = {
      apiVersion: 'edge/v1',
      kind: 'EdgeStatefulService',
      metadata: { name: 'nat-ledger' },
      // only the NAT'd zones: every voter is behind a NAT, on both sides
      spec: { replicas: 3, runtime: 'wasi', dataSharding: { strategy: 'geographic', zones: ['eu-west-b', 'us-east-b'] }, consistency: { mode: 'strong', latencyRadiusMs: 2000 } }
    }
    let applied: Reply | undefined
    await until(async () => {
      applied = await call(by('dc1-1'), 'POST', '/v1/manifests', JSON.stringify(manifest), 'application/json', 30_000)
      return ok(applied)
    }, { timeoutMs: 120_000, intervalMs: 2000, message: () => `manifest: ${applied?.status} ${applied?.text.slice(0, 300)}` })
    let view: { leader?: string | null, replicas?: Array<{ peerId: string, zone: string, role: string }> } | undefined
    await until(async () => {
      const r = await call(by('home-0'), 'GET', '/v1/services/nat-ledger')
      view = r.json as typeof view
      return ok(r) && view?.leader != null
    }, { timeoutMs: 180_000, intervalMs: 1000, message: () => `a leader for nat-ledger: ${JSON.stringify(view)}` })
    const zones = new Set((view?.replicas ?? []).map(r => r.zone))
    assert.ok(zones.has('eu-west-b') && zones.has('us-east-b'), `voters behind both NATs: ${JSON.stringify(view?.replicas)}`)
    for (const [i, p] of ['home-1', 'shop-0', 'shop-1', 'home-0'].entries()) {
      let w: Reply | undefined
      await until(async () => {
        w = await call(by(p), 'PUT', `/v1/services/nat-ledger/kv/k${i}`, `v${i}`, 'text/plain', 30_000)
        return ok(w)
      }, { timeoutMs: 120_000, intervalMs: 2000, message: () => `write through ${p}: ${w?.status} ${w?.text.slice(0, 300)}` })
    }
    // a linearizable read through a voter behind the other NAT (a ReadIndex
    // round to the leader through the relay), retried like the writes
    let g: Reply | undefined
    await until(async () => {
      g = await call(by('shop-1'), 'GET', '/v1/services/nat-ledger/kv/k3', undefined, undefined, 30_000)
      return ok(g)
    }, { timeoutMs: 120_000, intervalMs: 2000, message: () => `read through shop-1: ${g?.status} ${g?.text.slice(0, 300)}` })
    assert.equal((g!.json as { value: string }).value, 'v3')
  })

  it('reports DCUtR upgrades and relayed vs direct latency', async () => {
    const rows: Array<Record<string, unknown>> = []
    const views = new Map<string, NatView | null>()
    const relayed: number[] = []
    const direct: number[] = []
    for (const p of peers!.peers) {
      const v = await nat(p)
      views.set(p.plan.name, v)
      const lat = await call(p, 'GET', '/v1/latency')
      const map = ok(lat) ? (lat.json as { peers: Array<{ peerId: string, rttMs: number | null, relayedRttMs?: number }> }).peers : []
      for (const e of map) {
        if (e.relayedRttMs != null) relayed.push(e.relayedRttMs)
        if (e.rttMs != null) direct.push(e.rttMs)
      }
      // DCUtR attempts: bytes on the /libp2p/dcutr protocol in the peer's libp2p metrics
      const m = await call(p, 'GET', '/metrics')
      const dcutrBytes = m.text.split('\n').filter(l => l.startsWith('libp2p_data_transfer_bytes_total') && l.includes('dcutr')).reduce((sum, l) => sum + (Number(l.split(' ').pop()) || 0), 0)
      rows.push({ dcutrBytes, peer: p.plan.name, status: v?.reachability.status, reservations: v?.reservations.length, connections: v?.connections, relayedConnectionsOpened: v?.relayedConnectionsOpened, upgradedToDirect: v?.upgradedToDirect, relayServerReservations: v?.relayServer.reservations })
    }
    // what relaying costs at rest: bytes the relays move on the hop/stop protocols over 30 s
    const relayBytes = async (): Promise<number> => {
      let sum = 0
      for (const r of relays()) {
        const m = await call(r, 'GET', '/metrics')
        sum += m.text.split('\n').filter(l => l.startsWith('libp2p_data_transfer_bytes_total') && /circuit\/relay/.test(l)).reduce((a, l) => a + (Number(l.split(' ').pop()) || 0), 0)
      }
      return sum
    }
    const b0 = await relayBytes()
    const t0 = performance.now()
    await new Promise(resolve => setTimeout(resolve, 30_000))
    const relayedBytesPerS = Math.round((await relayBytes() - b0) / ((performance.now() - t0) / 1000))
    const median = (xs: number[]): number | null => xs.length === 0 ? null : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    // per NAT type (the site's natMapping): DCUtR punches, circuits, dcutr bytes
    const byType = natTypes(peers!.peers, n => views.get(n) as NatJson | null).map(t => ({ ...t, dcutrBytes: rows.filter(r => t.peers.includes(String(r.peer))).reduce((a, r) => a + Number(r.dcutrBytes), 0) }))
    const report = { relayedBytesPerSAtRest: relayedBytesPerS, peers: rows, byNatType: byType, upgradedToDirect: rows.reduce((s, r) => s + Number(r.upgradedToDirect ?? 0), 0), latency: { directMedianMs: median(direct), directSamples: direct.length, relayedMedianMs: median(relayed), relayedSamples: relayed.length } }
    console.log(`      nat report: ${JSON.stringify(report)}`)
    // each NAT'd peer reached the others through a relay at least once
    assert.ok(rows.filter(r => r.status === 'relayed').length === natted().length, JSON.stringify(rows))
  })

  it('killing the relay NAT\'d peers reserved on: they re-reserve on the other within 30 s and stay reachable', async () => {
    const views = await Promise.all(natted().map(async p => ({ p, v: await nat(p) })))
    const count = new Map<string, number>()
    for (const { v } of views) for (const r of v?.reservations ?? []) count.set(r, (count.get(r) ?? 0) + 1)
    const victim = relays().sort((a, b) => (count.get(b.peerId) ?? 0) - (count.get(a.peerId) ?? 0))[0]
    const other = relays().find(r => r !== victim)!
    const affected = views.filter(({ v }) => v?.reservations.includes(victim.peerId) === true).map(({ p }) => p)
    assert.ok(affected.length > 0, 'some NAT\'d peer reserved on the victim')
    const killedAt = performance.now()
    await peers!.halt(victim, 'SIGKILL')
    const took: Record<string, number> = {}
    await Promise.all(affected.map(async p => {
      await until(async () => {
        const v = await nat(p)
        return v != null && v.reservations.includes(other.peerId) && !v.reservations.includes(victim.peerId)
      }, { timeoutMs: 30_000, intervalMs: 250, message: `${p.plan.name} re-reserves on ${other.plan.name} within 30 s` })
      took[p.plan.name] = Math.round(performance.now() - killedAt)
    }))
    console.log(`      re-reservation after killing ${victim.plan.name} (ms): ${JSON.stringify(took)}`)
    // still reachable: Raft writes need both NAT sites' voters through the remaining relay
    for (const [i, p] of ['home-0', 'shop-1'].entries()) {
      let w: Reply | undefined
      await until(async () => {
        w = await call(by(p), 'PUT', `/v1/services/nat-ledger/kv/after-kill-${i}`, `a${i}`, 'text/plain', 30_000)
        return ok(w)
      }, { timeoutMs: 120_000, intervalMs: 2000, message: () => `write through ${p} after the relay died: ${w?.status} ${w?.text.slice(0, 300)}` })
    }
    // and a NAT'd peer is reached through the other relay's address (END updated)
    const target = affected[0]
    await until(async () => {
      const r = await call(other, 'GET', '/v1/registry/nodes')
      const e = ok(r) ? (r.json as { nodes: Array<{ peerId: string, end: { reachability?: { relays: string[] } } }> }).nodes.find(n => n.peerId === target.peerId) : undefined
      return e?.end.reachability?.relays.some(a => a.includes(`/p2p/${other.peerId}/p2p-circuit`)) === true && !e.end.reachability.relays.some(a => a.includes(victim.peerId))
    }, { timeoutMs: 60_000, intervalMs: 1000, message: `${target.plan.name}'s END names only ${other.plan.name} as its relay` })
  })
})
