/**
 * Rollouts on a 6-process mesh in 3 regions (`dcis start` processes as
 * `dcis up` runs them; peers 0,3 eu-west, 1,4 us-east, 2,5 ap-south):
 *
 * - the article's call `curl -F artifact=@app.wasm -F region=... -F canary=true`
 *   as written: the first version of `app` becomes current everywhere;
 * - a good version canaried in eu-west is promoted automatically after
 *   minHealthyTime (region by region), then served everywhere;
 * - a failing version (examples/functions failing.wasm) breaks the
 *   error-rate SLA and is reverted automatically: no peer outside eu-west
 *   ever ran it, current never moved;
 * - the driving peer is killed mid-rollout: another peer takes the lease
 *   and the rollout ends in one state on every peer, with one current.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'
import { cliCommand, REPO_ROOT } from '../helpers/cli.js'
import { api } from '../helpers/http.js'
import type { Json } from '../helpers/http.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'
import { waitForFullRegistries } from '../helpers/registry.js'
import { buildExamples, cidOf, example } from '../wasm/helpers.js'

const run = promisify(execFile)
const REGIONS = ['eu-west', 'us-east', 'ap-south']

describe('e2e: canary rollouts on a 6-process, 3-region mesh', function () {
  this.timeout(600_000)
  let dir: string
  let mesh: LocalMesh | undefined
  let peers: LocalPeer[]
  /** every invocation the traffic loop made: entry peer, status, body, where it ran */
  let calls: Array<{ entry: number, status: number, text: string, ranOn: string | null }> = []
  let traffic: { stop: () => Promise<void> } | undefined

  const live = (): LocalPeer[] => peers.filter(p => !p.exited)

  async function invoke (peer: LocalPeer, name: string, text: string): Promise<{ status: number, text: string, ranOn: string | null }> {
    const res = await fetch(`${peer.apiUrl}/v1/functions/${name}`, { method: 'POST', body: text, headers: { 'content-type': 'application/octet-stream' }, signal: AbortSignal.timeout(20_000) })
    return { status: res.status, text: await res.text(), ranOn: res.headers.get('x-dcis-ran-on') }
  }

  /** one call at a time, round robin over the live peers (the machine is shared: light load) */
  function startTraffic (name: string): { stop: () => Promise<void> } {
    let stopped = false
    let i = 0
    const loop = (async () => {
      while (!stopped) {
        const ps = live()
        const peer = ps[i++ % ps.length]
        try {
          const r = await invoke(peer, name, `hello ${i}`)
          calls.push({ entry: peer.index, ...r })
        } catch {
          // a peer being killed: not a call that ran
        }
        await new Promise(resolve => setTimeout(resolve, 40))
      }
    })()
    return { stop: async () => { stopped = true; await loop } }
  }

  async function rollout (peer: LocalPeer, name: string): Promise<Json | undefined> {
    const r = await api(`${peer.apiUrl}/v1/rollouts`, undefined, 5000)
    assert.equal(r.status, 200)
    return r.body.rollouts.find((x: Json) => x.function === name)
  }

  async function current (peer: LocalPeer, name: string): Promise<string> {
    const r = await api(`${peer.apiUrl}/v1/functions/${name}`, undefined, 5000)
    return r.body.current ?? r.body.id
  }

  async function waitState (name: string, id: string, states: string[], timeoutMs: number): Promise<Json> {
    return await waitFor(`rollout ${id} of ${name} to be ${states.join('|')} on every live peer`, async () => {
      let last: Json
      for (const p of live()) {
        const r = await rollout(p, name)
        if (r?.id !== id || !states.includes(r.state)) return false
        if (last != null && last.state !== r.state) return false
        last = r
      }
      return last
    }, { timeoutMs, intervalMs: 500 })
  }

  before(async function () {
    await buildExamples()
    dir = await mkdtemp(join(tmpdir(), 'dcis-e2e-rollout-'))
    mesh = new LocalMesh({ nodes: 6, regions: REGIONS, basePort: await freePortBlock(6), dataDir: dir, logLevel: 'warn', command: cliCommand() })
    await mesh.start()
    peers = mesh.peers
    await waitForFullRegistries(peers, 180_000)
  })

  after(async function () {
    await traffic?.stop()
    await mesh?.stop()
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it('the article\'s deploy call works with curl -F as written (first version: current everywhere)', async () => {
    const file = join(dir, 'app.wasm')
    await copyFile(join(REPO_ROOT, 'examples/functions/build/echo.wasm'), file)
    // as in the article (the token header is what a remote CI sends; loopback is trusted here)
    const { stdout } = await run('curl', ['-sS', '-X', 'POST', `${peers[0].apiUrl}/dc/v1/deploy`,
      '-F', `artifact=@${file}`,
      '-F', 'region=eu-west',
      '-F', 'canary=true'], { timeout: 60_000 })
    const body = JSON.parse(stdout) as Json
    assert.equal(body.name, 'app', stdout)
    assert.equal(body.id, await cidOf(await example('echo')))
    assert.equal(body.rollout, null)
    for (const p of peers) {
      await waitFor(`peer ${p.index} to run app`, async () => (await invoke(p, 'app', 'x')).text === 'x', { timeoutMs: 60_000 })
    }
    // bad input: a clear 4xx, nothing deployed
    const bad = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', `${peers[1].apiUrl}/dc/v1/deploy`, '-F', `artifact=@${file}`, '-F', 'canary=maybe'], { timeout: 30_000 })
    assert.equal(bad.stdout, '400')
  })

  it('a good version canaried in eu-west is promoted automatically after minHealthyTime', async () => {
    const v2 = await cidOf(await example('echo-v2'))
    const file = join(dir, 'app.wasm')
    await copyFile(join(REPO_ROOT, 'examples/functions/build/echo-v2.wasm'), file)
    calls = []
    traffic = startTraffic('app')
    const { stdout } = await run('curl', ['-sS', '-X', 'POST', `${peers[3].apiUrl}/dc/v1/deploy`,
      '-F', `artifact=@${file}`, '-F', 'region=eu-west', '-F', 'canary=true',
      '-F', 'minHealthyTime=4s', '-F', 'stagger=1s', '-F', 'maxParallel=1', '-F', 'minSamples=8', '-F', 'errorRate=0.2', '-F', 'latencyP95Ms=2000'], { timeout: 60_000 })
    const started = JSON.parse(stdout) as Json
    // the driver may already have moved it to canary before the answer left
    assert.ok(['pending', 'canary'].includes(started.rollout?.state), stdout)
    assert.equal(started.id, v2)
    const canary = await waitState('app', started.rollout.id, ['canary', 'promoting', 'promoted'], 60_000)
    assert.deepEqual(canary.spec.canaryRegions, ['eu-west'])
    const done = await waitState('app', started.rollout.id, ['promoted'], 180_000)
    await traffic.stop(); traffic = undefined
    assert.deepEqual([...done.cohort].sort(), [...REGIONS].sort())
    assert.ok(done.figures.canary.count >= 8, JSON.stringify(done.figures))
    assert.equal(done.figures.canary.errors, 0)
    for (const p of peers) assert.equal(await current(p, 'app'), v2, `peer ${p.index}`)
    for (const p of peers) assert.equal((await invoke(p, 'app', 'y')).text, 'v2:y')
    assert.ok(calls.every(c => c.status === 200), 'no failed call during the rollout')
    const fn = (await api(`${peers[1].apiUrl}/v1/functions/app`)).body
    const types = fn.events.map((e: Json) => e.type)
    for (const t of ['rollout-started', 'rollout-step', 'rollout-promoted']) assert.ok(types.includes(t), `${t} in ${types.join(',')}`)
  })

  it('a failing version breaks the error-rate SLA and is reverted; no peer outside the cohort ever ran it', async () => {
    const v2 = await cidOf(await example('echo-v2'))
    const bad = await example('failing')
    const badId = await cidOf(bad)
    calls = []
    traffic = startTraffic('app')
    const res = await api(`${peers[0].apiUrl}/v1/functions?name=app&canaryRegions=eu-west&minSamples=5&errorRate=0.2&minHealthyTime=60s&healthyDeadline=5m`, { method: 'POST', body: bad, headers: { 'content-type': 'application/wasm' } })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    const id = res.body.rollout.id
    const end = await waitState('app', id, ['reverted'], 120_000)
    await traffic.stop(); traffic = undefined
    assert.match(end.reason, /error rate/)
    assert.deepEqual(end.cohort, [])
    for (const p of peers) assert.equal(await current(p, 'app'), v2, `peer ${p.index}: current never moved`)
    const nonEu = new Set(peers.filter(p => p.region !== 'eu-west').map(p => p.peerId))
    // every peer outside eu-west: its own figures never counted the failing version, and every call entering there succeeded
    for (const r of end.peers) {
      if (nonEu.has(r.peerId)) assert.equal(r.canary, undefined, `peer ${r.peerId} (${r.region}) ran the canary`)
    }
    for (const c of calls) {
      const entry = peers[c.entry]
      if (entry.region !== 'eu-west') assert.equal(c.status, 200, `a call entering ${entry.region} failed: ${c.text}`)
      if (c.ranOn != null && nonEu.has(c.ranOn)) assert.equal(c.status, 200, `the canary ran on ${c.ranOn}`)
    }
    assert.ok(calls.some(c => peers[c.entry].region === 'eu-west' && c.status !== 200), 'the cohort did serve the canary')
    const ev = (await api(`${peers[4].apiUrl}/v1/functions/app`)).body.events.filter((e: Json) => e.type === 'rollout-reverted')
    assert.equal(ev.length, 1, 'one decision, recorded once')
    assert.equal(ev[0].id, badId)
    for (const p of peers) assert.equal((await invoke(p, 'app', 'z')).text, 'v2:z', `peer ${p.index} serves the current version again`)
  })

  it('killing the driving peer mid-rollout ends in one consistent state', async () => {
    const v1 = await cidOf(await example('echo'))
    const v2 = await cidOf(await example('echo-v2'))
    calls = []
    traffic = startTraffic('app')
    const res = await api(`${peers[1].apiUrl}/v1/functions?name=app&canaryRegions=eu-west&minSamples=5&errorRate=0.5&minHealthyTime=8s&stagger=1s&maxParallel=0`, { method: 'POST', body: await example('echo'), headers: { 'content-type': 'application/wasm' } })
    assert.equal(res.status, 201, JSON.stringify(res.body))
    const id = res.body.rollout.id
    const leased = await waitFor('a driver to hold the lease in the canary phase', async () => {
      const r = await rollout(peers[1], 'app')
      return r?.id === id && r.state === 'canary' && r.driver != null ? r : undefined
    }, { timeoutMs: 60_000, intervalMs: 200 })
    const driver = peers.find(p => p.peerId === leased.driver.peerId)
    assert.ok(driver != null)
    driver.process?.kill('SIGKILL')
    await waitFor('the driver to exit', () => driver.exited, { timeoutMs: 30_000 })
    const end = await waitState('app', id, ['promoted', 'reverted', 'failed'], 180_000)
    await traffic.stop(); traffic = undefined
    const currents = new Set<string>()
    for (const p of live()) currents.add(await current(p, 'app'))
    assert.equal(currents.size, 1, `one current on every live peer: ${[...currents].join(', ')}`)
    assert.equal([...currents][0], end.state === 'promoted' ? v1 : v2)
    const expect = end.state === 'promoted' ? 'w' : 'v2:w'
    for (const p of live()) assert.equal((await invoke(p, 'app', 'w')).text, expect, `peer ${p.index}`)
    const decided = (await api(`${live()[0].apiUrl}/v1/functions/app`)).body.events.filter((e: Json) => /^rollout-(promoted|reverted|failed)$/.test(e.type) && e.id === v1)
    assert.equal(decided.length, 1, 'one final decision')
    assert.notEqual(decided[0].by, driver.peerId, 'another peer finished the rollout')
  })
})
