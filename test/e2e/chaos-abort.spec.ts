/**
 * e2e chaos (issue 10): no client can crash a peer. Real `dcis start`
 * processes from dist/ run with NODE_OPTIONS=--unhandled-rejections=strict,
 * so any rejection nobody handles ends the peer (exit 70) and fails the test.
 *
 * Three peers under the link emulator (link faults, docs/link-faults.md); a
 * strong service (3 replicas), an eventual service with its only replica
 * away from the survivor, an eventual service replicated everywhere, a
 * function and an allocation that live on the other peers. Twice, first with
 * the other two UNREACHABLE (a link-fault block both ways: connections stay
 * open and silent), then with them GONE (SIGKILL), the survivor gets requests
 * on every route that can wait on the network (strong and eventual KV,
 * counters, sets, service status, function invocation, allocations,
 * manifests, blocks), each aborted by its client at a seeded random moment
 * before, during or after the server's own timeout. The survivor must stay
 * up, answer /healthz, count no unhandled rejection, answer no 500, and serve
 * the next requests correctly (strong writes after the heal; local eventual
 * writes at once and strong writes once a killed peer is back).
 *
 * Needs dist/ (`npm run build`). CHAOS_SEED=<n> replays a run.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'
import { createPrng } from '../../src/latency/prng.js'
import { REPO_ROOT } from '../helpers/cli.js'
import type { Json } from '../helpers/http.js'
import { writeLinkFaults } from '../helpers/link-faults.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'

const SEED = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31))
const DIST_CLI = join(REPO_ROOT, 'dist/cli/main.js')
const STRICT = '--unhandled-rejections=strict'

const manifest = (name: string, spec: Record<string, unknown>): string =>
  JSON.stringify({ apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name }, spec: { runtime: 'wasi', ...spec } })

async function http (peer: LocalPeer, method: string, path: string, body?: string | Uint8Array, contentType?: string, timeoutMs = 30_000): Promise<{ status: number, json: Json }> {
  try {
    const res = await fetch(`${peer.apiUrl}${path}`, { method, body, headers: contentType !== undefined ? { 'content-type': contentType } : {}, signal: AbortSignal.timeout(timeoutMs) })
    const text = await res.text()
    let json: unknown = null
    try { json = text.length > 0 ? JSON.parse(text) : null } catch { json = text }
    return { status: res.status, json }
  } catch {
    return { status: 0, json: null }
  }
}

interface Probe { name: string, method: string, path: string, body?: string, contentType?: string }

/** what one aborted request saw: an HTTP status, or 'aborted' (the client gave up first) */
type Seen = number | 'aborted' | 'refused'

async function fireAndAbort (peer: LocalPeer, p: Probe, abortAfterMs: number): Promise<Seen> {
  const ac = new AbortController()
  const timer = setTimeout(() => { ac.abort() }, abortAfterMs)
  try {
    const res = await fetch(`${peer.apiUrl}${p.path}`, { method: p.method, body: p.body, headers: p.contentType !== undefined ? { 'content-type': p.contentType } : {}, signal: ac.signal })
    await res.arrayBuffer()
    return res.status
  } catch {
    return ac.signal.aborted ? 'aborted' : 'refused'
  } finally {
    clearTimeout(timer)
  }
}

interface Outcome { probe: Probe, abortAt: number, seen: Seen }

/**
 * Every probe three times: aborted early (0-50 ms), during the wait
 * (50 ms-4 s), and around or after the server's own deadlines (4-12 s;
 * raft 5 s, forwarded CRDT calls 10 s), each started at a random moment in
 * the first second.
 */
async function chaosRound (rng: { next: () => number }, peer: LocalPeer, probes: Array<(i: number) => Probe>): Promise<Outcome[]> {
  const bands: Array<[number, number]> = [[0, 50], [50, 4000], [4000, 12_000]]
  const jobs: Array<Promise<Outcome>> = []
  let n = 0
  for (const band of bands) {
    for (const make of probes) {
      const probe = make(n++)
      const abortAt = Math.round(band[0] + rng.next() * (band[1] - band[0]))
      const startAt = Math.round(rng.next() * 1000)
      jobs.push((async () => {
        await new Promise(resolve => setTimeout(resolve, startAt))
        return { probe, abortAt, seen: await fireAndAbort(peer, probe, abortAt) }
      })())
    }
  }
  return await Promise.all(jobs)
}

/** the peer is alive, healthy, counted no unhandled rejection and answered no 500 */
async function assertSurvived (peer: LocalPeer, results: Outcome[], phase: string): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, 500))
  const summary = results.map(r => `${r.probe.name} @${r.abortAt}ms: ${r.seen}`).join('\n')
  const log = (await readFile(peer.logFile, 'utf8')).split('\n').filter(l => l.includes('"level":60') || l.includes('unhandled')).slice(-5).join('\n')
  assert.equal(peer.exited, false, `${phase}: the survivor died (exit ${String(peer.exitCode)}; seed ${SEED}):\n${log}\n${summary}`)
  const health = await http(peer, 'GET', '/healthz')
  assert.equal(health.status, 200, `${phase}: healthz (seed ${SEED})`)
  const metrics = await fetch(`${peer.apiUrl}/metrics`, { signal: AbortSignal.timeout(10_000) }).then(async r => r.text())
  assert.match(metrics, /^dcis_unhandled_rejections_total 0$/m, `${phase}: unhandled rejections counted (seed ${SEED})`)
  assert.ok(results.some(r => r.seen === 'aborted'), `${phase}: some requests were aborted by their clients`)
  // what came back is a caller or availability answer, never an internal fault
  const internal = results.filter(r => r.seen === 500)
  assert.deepEqual(internal.map(r => `${r.probe.name} @${r.abortAt}ms`), [], `${phase}: 500s (seed ${SEED})\n${summary}`)
  const refused = results.filter(r => r.seen === 'refused')
  assert.deepEqual(refused.map(r => r.probe.name), [], `${phase}: connections refused (seed ${SEED})`)
  const byProbe = new Map<string, Seen[]>()
  for (const r of results) byProbe.set(r.probe.name, [...(byProbe.get(r.probe.name) ?? []), r.seen])
  console.log(`      ${phase}: ${[...byProbe].map(([name, seen]) => `${name} ${seen.join('/')}`).join('; ')}`)
}

describe('e2e chaos: aborted clients never crash a peer (issue 10)', function () {
  this.timeout(180_000)
  let dir: string
  let mesh: LocalMesh | undefined
  let savedNodeOptions: string | undefined

  before(async function () {
    if (!existsSync(DIST_CLI)) throw new Error('dist/ is missing: run `npm run build` first')
    dir = await mkdtemp(join(tmpdir(), 'dcis-chaos-'))
  })
  after(async () => {
    await mesh?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it(`the survivor of a lost quorum stays up through aborted requests on every waiting route (seed ${SEED})`, async () => {
    const rng = createPrng(SEED)
    const faults = join(dir, 'faults.json')
    // the peers inherit this process's environment when spawned
    savedNodeOptions = process.env.NODE_OPTIONS
    process.env.NODE_OPTIONS = [savedNodeOptions ?? '', STRICT].join(' ').trim()
    try {
      await writeLinkFaults(faults, [])
      mesh = new LocalMesh({ nodes: 3, regions: ['eu-west'], basePort: await freePortBlock(3), dataDir: dir, logLevel: 'info', command: [process.execPath, DIST_CLI], linkFaults: faults })
      await mesh.start()
    } finally {
      if (savedNodeOptions === undefined) delete process.env.NODE_OPTIONS
      else process.env.NODE_OPTIONS = savedNodeOptions
    }
    const peers = mesh.peers
    await waitFor('a connected mesh', async () => LocalMesh.fullyConnected(await mesh!.snapshots()), { timeoutMs: 60_000 })

    // every peer really runs strict: its environment and its own startup line say so
    for (const p of peers) {
      const environ = (await readFile(`/proc/${p.process!.pid}/environ`, 'utf8')).split('\0')
      assert.ok(environ.some(v => v.startsWith('NODE_OPTIONS=') && v.includes(STRICT)), `peer ${p.index} runs without ${STRICT}`)
      const mode = await waitFor(`peer ${p.index}'s fault handler line`, async () => /"unhandledRejections":"([a-z-]+)"/.exec(await readFile(p.logFile, 'utf8'))?.[1], { timeoutMs: 10_000 })
      assert.equal(mode, 'strict')
    }

    // ---- setup while everyone is up ----
    const post = async (p: LocalPeer, body: string): Promise<Json> => waitFor(`manifest applied at ${p.index}`, async () => { const r = await http(p, 'POST', '/v1/manifests', body, 'application/json'); return r.status === 201 || r.status === 200 ? r.json : undefined }, { timeoutMs: 30_000 })
    await post(peers[0], manifest('ledger', { replicas: 3, consistency: { mode: 'strong' } }))
    await waitFor('a strong write', async () => (await http(peers[0], 'PUT', '/v1/services/ledger/kv/a', '1', 'text/plain')).status === 200, { timeoutMs: 30_000 })
    await post(peers[0], manifest('far', { replicas: 1, crdtEngine: 'delta-crdts', consistency: { mode: 'eventual', maxStalenessMs: 500 } }))
    await post(peers[0], manifest('near', { replicas: 3, crdtEngine: 'delta-crdts', consistency: { mode: 'eventual', maxStalenessMs: 500 } }))
    const farReplica = await waitFor('far placed', async () => {
      const r = await http(peers[0], 'GET', '/v1/services/far')
      return r.status === 200 && r.json.replicas.length === 1 ? r.json.replicas[0].peerId as string : undefined
    }, { timeoutMs: 30_000 })
    // the survivor holds no replica of `far`: its calls there are forwarded
    const survivor = peers.find(p => p.peerId !== farReplica)!
    const doomed = peers.filter(p => p !== survivor)
    await waitFor('the survivor holds `near`', async () => (await http(survivor, 'GET', '/v1/services/near')).json?.local === true, { timeoutMs: 30_000 })
    await waitFor('the survivor knows `far`', async () => (await http(survivor, 'GET', '/v1/services/far')).status === 200, { timeoutMs: 30_000 })
    const echo = await readFile(join(REPO_ROOT, 'examples/functions/build/echo.wasm'))
    const fn = await http(doomed[0], 'POST', '/v1/functions?name=echo&abi=wasi', echo, 'application/wasm')
    assert.equal(fn.status, 201, JSON.stringify(fn.json))
    const alloc = await http(doomed[0], 'POST', '/v1/allocations', JSON.stringify({ runtime: 'wasi', constraints: { memory: '16Mi' } }), 'application/json')
    assert.equal(alloc.status, 201, JSON.stringify(alloc.json))
    const allocId = encodeURIComponent(alloc.json.id as string)
    // CIDs (raw, and dag-json for /v1/blocks) no peer has: their fetch can only end by timeout or abort
    const missingCid = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    const missingJsonCid = 'bagaaieradsesgrlmt3s5hlgsxbjxfiwn3n573c2njk6vvm5jmghxa6smev4q'

    const probes: Probe[] = [
      { name: 'strong put', method: 'PUT', path: '/v1/services/ledger/kv/a', body: 'x', contentType: 'text/plain' },
      { name: 'strong get', method: 'GET', path: '/v1/services/ledger/kv/a' },
      { name: 'strong delete', method: 'DELETE', path: '/v1/services/ledger/kv/a' },
      { name: 'strong status', method: 'GET', path: '/v1/services/ledger' },
      { name: 'eventual put (forwarded)', method: 'PUT', path: '/v1/services/far/kv/a', body: 'x', contentType: 'text/plain' },
      { name: 'eventual get (forwarded)', method: 'GET', path: '/v1/services/far/kv/a' },
      { name: 'eventual status (forwarded)', method: 'GET', path: '/v1/services/far' },
      { name: 'counter add (forwarded)', method: 'POST', path: '/v1/services/far/counters/c', body: '{"delta":1}', contentType: 'application/json' },
      { name: 'counter get (forwarded)', method: 'GET', path: '/v1/services/far/counters/c' },
      { name: 'set add (forwarded)', method: 'POST', path: '/v1/services/far/sets/s', body: '{"member":"m"}', contentType: 'application/json' },
      { name: 'set get (forwarded)', method: 'GET', path: '/v1/services/far/sets/s' },
      { name: 'set remove (forwarded)', method: 'DELETE', path: '/v1/services/far/sets/s/members/m' },
      { name: 'invoke a function held elsewhere', method: 'POST', path: `/v1/functions/${fn.json.id as string}`, body: 'hi', contentType: 'application/octet-stream' },
      { name: 'invoke a CID nobody has', method: 'POST', path: `/v1/functions/${missingCid}`, body: 'hi', contentType: 'application/octet-stream' },
      { name: 'allocate on the other peers', method: 'POST', path: '/v1/allocations', body: JSON.stringify({ runtime: 'wasi', constraints: { memory: '16Mi' }, replicas: 3 }), contentType: 'application/json' },
      { name: 'allocation owned by another peer', method: 'GET', path: `/v1/allocations/${allocId}` },
      { name: 'renew an allocation owned by another peer', method: 'POST', path: `/v1/allocations/${allocId}/renew`, body: '{}', contentType: 'application/json' },
      { name: 'release an allocation owned by another peer', method: 'DELETE', path: `/v1/allocations/${allocId}` },
      { name: 'block nobody has', method: 'GET', path: `/v1/blocks/${missingJsonCid}?timeoutMs=8000` }
    ]
    // manifests for new strong services: announcing them waits on the other members
    const manifestProbe = (phase: string) => (i: number): Probe => ({ name: 'apply a strong manifest', method: 'POST', path: '/v1/manifests', body: manifest(`chaos-${phase}-${i}`, { replicas: 3, consistency: { mode: 'strong' } }), contentType: 'application/json' })

    const site = (p: LocalPeer): string => `peer-${p.index}`

    // ---- phase 1: the other two are unreachable (silent partition) ----
    await writeLinkFaults(faults, [
      { from: [site(survivor)], to: doomed.map(site), action: 'block' },
      { from: doomed.map(site), to: [site(survivor)], action: 'block' }
    ], [survivor, ...doomed])
    const unreachable = await chaosRound(rng, survivor, [...probes.map(p => () => p), manifestProbe('blocked')])
    await assertSurvived(survivor, unreachable, 'unreachable')
    await writeLinkFaults(faults, [])
    await waitFor('a strong write after the heal', async () => (await http(survivor, 'PUT', '/v1/services/ledger/kv/healed', 'yes', 'text/plain', 10_000)).status === 200, { timeoutMs: 60_000, intervalMs: 500 })

    // ---- phase 2: the other two are gone (SIGKILL) ----
    for (const p of doomed) p.process!.kill('SIGKILL')
    await waitFor('the doomed peers exited', () => doomed.every(p => p.exited), { timeoutMs: 10_000 })
    const gone = await chaosRound(rng, survivor, [...probes.map(p => () => p), manifestProbe('gone')])
    await assertSurvived(survivor, gone, 'gone')

    // ---- and it serves the next requests correctly ----
    const notJson = await http(survivor, 'GET', `/v1/blocks/${missingCid}`)
    assert.equal(notJson.status, 400, `a raw-codec CID is a caller mistake: ${JSON.stringify(notJson.json)}`)
    const put = await http(survivor, 'PUT', '/v1/services/near/kv/after', 'chaos', 'text/plain')
    assert.equal(put.status, 200, JSON.stringify(put.json))
    const got = await http(survivor, 'GET', '/v1/services/near/kv/after')
    assert.equal(got.json?.value, 'chaos')
    const strongNow = await http(survivor, 'PUT', '/v1/services/ledger/kv/b', 'y', 'text/plain')
    assert.equal(strongNow.status, 503, `no quorum: ${JSON.stringify(strongNow.json)}`)
    assert.equal(strongNow.json?.error?.code, 'SERVICE_UNAVAILABLE')
    // one peer back: the strong service has a quorum again
    await mesh.spawnPeer(doomed[0])
    const rev = await waitFor('a strong write after a peer returned', async () => {
      const r = await http(survivor, 'PUT', '/v1/services/ledger/kv/after', 'back', 'text/plain', 10_000)
      return r.status === 200 ? r.json.revision as number : undefined
    }, { timeoutMs: 60_000, intervalMs: 500 })
    const read = await http(survivor, 'GET', '/v1/services/ledger/kv/after')
    assert.deepEqual({ value: read.json?.value, revision: read.json?.revision }, { value: 'back', revision: rev })
    assert.equal(survivor.exited, false)
  })
})
