/**
 * The federation catalogue across 3 real `dcis start` processes (as `dcis
 * up` runs them, with the link emulator on so a test can partition them):
 *
 * - `dcis fn deploy` through peer 0, then `POST /v1/functions/echo` on
 *   peers 1 and 2 (the module fetched over bitswap);
 * - a new version uploaded through peer 1 becomes current everywhere;
 *   `GET /v1/functions` is the same on every peer;
 * - the article's HealthCheck applied verbatim: on every peer, one runner;
 *   a failing version is rolled back once and every peer sees it;
 * - a partition {peer-0} | {peer-1, peer-2} with deploys on both sides,
 *   then heal: every peer converges to the same catalogue;
 * - every peer stopped, peer 2 restarted alone: its catalogue (functions
 *   and health checks) comes back from its own disk.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'
import { cliCommand, REPO_ROOT, runCli } from '../helpers/cli.js'
import { api } from '../helpers/http.js'
import type { Json } from '../helpers/http.js'
import { writeLinkFaults } from '../helpers/link-faults.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'
import { waitForFullRegistries } from '../helpers/registry.js'
import { buildExamples, cidOf, fixture } from '../wasm/helpers.js'

/** the bound for "any peer resolves any name after a deploy" is 5 s; the machine is shared, so allow slack (DCIS_TEST_SLACK) */
const SLACK = Number(process.env.DCIS_TEST_SLACK ?? 3)

describe('e2e: the federation catalogue on a 3-process mesh', function () {
  this.timeout(300_000)
  let dir: string
  let mesh: LocalMesh | undefined
  let faults: string
  let peers: LocalPeer[]
  let echo1 = ''
  let echo2 = ''

  async function deployHttp (peer: LocalPeer, name: string, bytes: Uint8Array): Promise<Json> {
    const res = await fetch(`${peer.apiUrl}/v1/functions?name=${name}`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/wasm' }, signal: AbortSignal.timeout(30_000) })
    const body = await res.json() as Json
    assert.equal(res.status, 201, JSON.stringify(body))
    return body
  }

  async function invoke (peer: LocalPeer, name: string, text: string): Promise<{ status: number, text: string }> {
    const res = await fetch(`${peer.apiUrl}/v1/functions/${name}`, { method: 'POST', body: text, headers: { 'content-type': 'application/octet-stream' }, signal: AbortSignal.timeout(20_000) })
    return { status: res.status, text: await res.text() }
  }

  async function catalogue (peer: LocalPeer): Promise<Json> {
    return (await api(`${peer.apiUrl}/v1/catalogue`, undefined, 5000)).body
  }

  before(async function () {
    this.timeout(300_000)
    await buildExamples()
    dir = await mkdtemp(join(tmpdir(), 'dcis-e2e-catalogue-'))
    faults = join(dir, 'faults.json')
    mesh = new LocalMesh({ nodes: 3, regions: ['eu-west', 'us-east', 'ap-south'], basePort: await freePortBlock(3), dataDir: dir, logLevel: 'warn', command: cliCommand(), linkFaults: faults })
    await mesh.start()
    peers = mesh.peers
    // federation members only write to the catalogue: wait until every registry lists every peer
    await waitForFullRegistries(peers, 120_000)
  })

  after(async function () {
    this.timeout(60_000)
    await mesh?.stop()
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it('dcis fn deploy through peer 0; peers 1 and 2 invoke it by name', async () => {
    const started = Date.now()
    const dep = await runCli(['fn', 'deploy', join(REPO_ROOT, 'examples/functions/build/echo.wasm'), '--name', 'echo', '--api', peers[0].apiUrl])
    assert.equal(dep.code, 0, dep.stderr)
    echo1 = dep.stdout.trim()
    const deployed = Date.now()
    for (const p of peers.slice(1)) {
      const res = await waitFor(`peer ${p.index} to invoke echo by name`, async () => {
        const r = await invoke(p, 'echo', `hello ${p.index}`)
        return r.status === 200 ? r : undefined
      }, { timeoutMs: 5000 * SLACK, intervalMs: 50 })
      assert.equal(res.text, `hello ${p.index}`)
    }
    console.log(`      echo invocable by name on peers 1 and 2 ${Date.now() - deployed} ms after the deploy returned (deploy took ${deployed - started} ms)`)
  })

  it('a new version uploaded through peer 1 becomes current on every peer; GET /v1/functions is the same everywhere', async () => {
    const bytes = await fixture('echo')
    echo2 = await cidOf(bytes)
    const r = await deployHttp(peers[1], 'echo', bytes)
    const deployed = Date.now()
    assert.equal(r.id, echo2)
    assert.equal(r.version, 2)
    for (const p of peers) {
      await waitFor(`peer ${p.index} to see version 2 as current`, async () => {
        const d = (await api(`${p.apiUrl}/v1/functions/echo`, undefined, 5000)).body
        return d.id === echo2 && d.version === 2 && d.versions.length === 2
      }, { timeoutMs: 5000 * SLACK, intervalMs: 50 })
    }
    console.log(`      version 2 current on every peer ${Date.now() - deployed} ms after its deploy returned`)
    const lists = await Promise.all(peers.map(async p => (await api(`${p.apiUrl}/v1/functions`)).body))
    for (const l of lists.slice(1)) assert.deepEqual(l, lists[0])
    assert.equal(lists[0].functions[0].id, echo2)
    const d = (await api(`${peers[2].apiUrl}/v1/functions/echo`)).body
    assert.deepEqual(d.versions.map((v: Json) => [v.version, v.id, v.deployedBy]), [[1, echo1, peers[0].peerId], [2, echo2, peers[1].peerId]])
    const out = await invoke(peers[2], 'echo', 'v2 everywhere')
    assert.equal(out.text, 'v2 everywhere')
  })

  it('the article\'s HealthCheck, applied verbatim through peer 2, is on every peer with exactly one runner', async () => {
    const res = await runCli(['apply', '-f', join(REPO_ROOT, 'examples/article/health-check.yaml'), '--api', peers[2].apiUrl])
    assert.equal(res.code, 0, res.stderr)
    for (const p of peers) {
      await waitFor(`peer ${p.index} to hold edge-func-health`, async () =>
        (await catalogue(p)).manifests.some((m: Json) => m.kind === 'HealthCheck' && m.name === 'edge-func-health' && m.spec.path === '/healthz' && m.spec.function === undefined))
    }
    const views = await Promise.all(peers.map(async p => (await api(`${p.apiUrl}/v1/functions/echo`)).body.health as Json[]))
    for (const h of views) assert.equal(h.length, 1, JSON.stringify(h))
    const runners = new Set(views.map(h => h[0].runner))
    assert.equal(runners.size, 1, 'every peer names the same runner')
    assert.equal(views.filter(h => h[0].runsHere === true).length, 1, 'exactly one peer runs it')
    // the runner probes /healthz through the function; a pass marks version 2 known-good, everywhere
    for (const p of peers) {
      await waitFor(`peer ${p.index} to see echo v2 known-good`, async () =>
        (await catalogue(p)).functions.find((f: Json) => f.name === 'echo')?.versions.find((v: Json) => v.cid === echo2)?.knownGood === true, { timeoutMs: 30_000 })
    }
  })

  it('a failing version deployed through peer 0 is rolled back once, and every peer sees the pointer move', async () => {
    const trap = await fixture('trap')
    const trapId = await cidOf(trap)
    await deployHttp(peers[0], 'echo', trap)
    for (const p of peers) {
      const d = await waitFor(`peer ${p.index} to see the rollback to v2`, async () => {
        const x = (await api(`${p.apiUrl}/v1/functions/echo`, undefined, 5000)).body
        return x.id === echo2 && x.events.some((e: Json) => e.type === 'rollback') ? x : undefined
      }, { timeoutMs: 90_000, intervalMs: 500 })
      const rollbacks = d.events.filter((e: Json) => e.type === 'rollback')
      assert.equal(rollbacks.length, 1, 'one rollback, not one per peer')
      assert.equal(rollbacks[0].from, trapId)
      assert.match(rollbacks[0].reason, /3 consecutive failed health checks \(edge-func-health\)/)
    }
    const out = await invoke(peers[1], 'echo', 'after the rollback')
    assert.equal(out.text, 'after the rollback')
  })

  it('partition {peer-0} | {peer-1, peer-2}: deploys on both sides, heal, every peer converges', async () => {
    await writeLinkFaults(faults, [
      { from: ['peer-0'], to: ['peer-1', 'peer-2'], action: 'block' },
      { from: ['peer-1', 'peer-2'], to: ['peer-0'], action: 'block' }
    ], peers)
    try {
      // two different echo modules: both pass the article's /healthz probe (no rollback churn while converging)
      const a = await fixture('echo')
      const b = new Uint8Array(await readFile(join(REPO_ROOT, 'examples/functions/build/echo.wasm')))
      await deployHttp(peers[0], 'side-a', a)
      await deployHttp(peers[1], 'side-b', b)
      // the same name on both sides at once: both versions survive, one rule picks current
      await Promise.all([deployHttp(peers[0], 'both', a), deployHttp(peers[2], 'both', b)])
      await waitFor('peer 2 to have side-b (its side of the partition)', async () => (await catalogue(peers[2])).functions.some((f: Json) => f.name === 'side-b'))
      const c0 = await catalogue(peers[0])
      assert.equal(c0.functions.some((f: Json) => f.name === 'side-b'), false, 'peer 0 is cut off from side-b')
    } finally {
      await writeLinkFaults(faults, [])
    }
    const views = await waitFor('every peer to hold the same catalogue after the heal', async () => {
      const cs = await Promise.all(peers.map(async p => await catalogue(p)))
      return cs.every(c => c.fingerprint === cs[0].fingerprint) ? cs : undefined
    }, { timeoutMs: 90_000, intervalMs: 500 })
    const names = views[0].functions.map((f: Json) => f.name)
    for (const n of ['both', 'echo', 'side-a', 'side-b']) assert.ok(names.includes(n), `${n} in ${names.join(',')}`)
    const both = views[0].functions.find((f: Json) => f.name === 'both')
    assert.equal(both.versions.length, 2)
    for (const c of views) assert.deepEqual(c.functions, views[0].functions)
  })

  it('every peer stopped, peer 2 restarted alone: functions and health checks come back from its disk', async () => {
    const before = await catalogue(peers[2])
    const m = mesh as LocalMesh
    for (const p of peers) {
      const child = p.process
      if (child == null || p.exited) continue
      const exited = new Promise(resolve => { child.once('exit', resolve) })
      child.kill('SIGTERM')
      await exited
    }
    await m.spawnPeer(peers[2])
    const after = await waitFor('peer 2 to serve its catalogue again', async () => {
      const res = await api(`${peers[2].apiUrl}/v1/catalogue`, undefined, 2000).catch(() => undefined)
      return res?.status === 200 ? res.body : undefined
    }, { timeoutMs: 60_000 })
    assert.equal(after.fingerprint, before.fingerprint)
    assert.deepEqual(after.functions, before.functions)
    assert.ok(after.manifests.some((x: Json) => x.kind === 'HealthCheck' && x.name === 'edge-func-health'))
    const d = (await api(`${peers[2].apiUrl}/v1/functions/echo`)).body
    assert.equal(d.id, echo2)
    assert.equal(d.health[0].name, 'edge-func-health')
  })
})
