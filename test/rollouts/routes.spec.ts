/**
 * The rollout routes on one in-process peer (real libp2p, helia, Wasm
 * runtime, catalogue): the article's multipart call and its bad inputs,
 * GET /v1/rollouts, promote/abort, deploy flags, a Function manifest with
 * `spec.rollout`. The peer's region is "unknown" (no registry entry), so
 * a canary in region "unknown" is served here.
 */
import assert from 'node:assert/strict'
import { createApiServer } from '../../src/api/index.js'
import { rolloutRoutes } from '../../src/rollouts/index.js'
import { manifestRoutes } from '../../src/services/manifests/index.js'
import type { ApiServer } from '../../src/api/index.js'
import { buildExamples, cidOf, example } from '../wasm/helpers.js'
import { deploy, http, removeDir, silent, startFnPeer } from '../wasm/integration-mesh.js'
import type { FnPeer } from '../wasm/integration-mesh.js'
import { waitFor } from '../helpers/wait.js'
import type { Json } from '../helpers/http.js'

describe('rollouts: HTTP routes on one peer', function () {
  this.timeout(120_000)
  let peer: FnPeer
  let api: ApiServer
  let url: string

  async function dcDeploy (fields: Record<string, string | { bytes: Uint8Array, filename: string }>): Promise<{ status: number, body: Json }> {
    const form = new FormData()
    for (const [k, v] of Object.entries(fields)) {
      if (typeof v === 'string') form.append(k, v)
      else form.append(k, new Blob([v.bytes], { type: 'application/wasm' }), v.filename)
    }
    const res = await fetch(`${url}/dc/v1/deploy`, { method: 'POST', body: form, signal: AbortSignal.timeout(30_000) })
    return { status: res.status, body: await res.json() }
  }

  before(async () => {
    await buildExamples()
    peer = await startFnPeer({ name: 'rollout-routes', rollouts: { tickMs: 100, reportMs: 100 } })
    api = createApiServer({ node: { info: () => ({ peerId: peer.id, did: 'did:key:test', multiaddrs: [], region: 'unknown', zone: 'z', end: null, endJwt: null }), peers: async () => [], isReady: () => true }, metrics: peer.metrics, logger: silent }, {
      host: '127.0.0.1',
      port: 0,
      routes: [peer.fns.routes(), rolloutRoutes({ rollouts: () => peer.fns.rollouts, store: () => peer.fns.store }), manifestRoutes(() => peer.manifests)]
    })
    await api.start()
    url = api.url
  })

  after(async () => {
    await api?.stop()
    await peer?.stop()
    if (peer != null) await removeDir(peer.dir)
  })

  it('refuses bad article calls with a clear 4xx and deploys nothing', async () => {
    const echo = await example('echo')
    const file = { bytes: echo, filename: 'app.wasm' }
    const notMultipart = await http(`${url}/dc/v1/deploy`, { method: 'POST', body: 'x', type: 'text/plain' })
    assert.equal(notMultipart.status, 415)
    const cases: Array<[Record<string, string | { bytes: Uint8Array, filename: string }>, string]> = [
      [{ region: 'eu', canary: 'true' }, 'artifact'],
      [{ artifact: file, canary: 'maybe' }, 'canary'],
      [{ artifact: file, canary: 'true' }, 'region'],
      [{ artifact: file, colour: 'red' }, 'colour'],
      [{ artifact: file, canary: 'true', region: 'eu', minHealthyTime: 'soon' }, 'minHealthyTime'],
      [{ artifact: { bytes: echo, filename: '...wasm' } }, 'name'],
    ]
    for (const [fields, field] of cases) {
      const r = await dcDeploy(fields)
      assert.equal(r.status, 400, JSON.stringify(r.body))
      assert.equal(r.body.error.code, 'ROLLOUT_INVALID', JSON.stringify(r.body))
      assert.match(r.body.error.message, new RegExp(field))
    }
    // a second file: refused by the multipart reader (one file per call)
    const two = await dcDeploy({ artifact: file, other: file })
    assert.equal(two.status, 400)
    assert.ok(['INVALID_MULTIPART', 'ROLLOUT_INVALID'].includes(two.body.error.code), JSON.stringify(two.body))
    const junk = await dcDeploy({ artifact: { bytes: new Uint8Array([1, 2, 3]), filename: 'app.wasm' } })
    assert.equal(junk.status, 400)
    assert.equal(peer.fns.store.get('app'), undefined)
  })

  it('first version current at once; a canary here; 409 while it runs; promote; list and 404s', async () => {
    const first = await dcDeploy({ artifact: { bytes: await example('echo'), filename: 'target/release/app.wasm' }, region: 'unknown', canary: 'true' })
    assert.equal(first.status, 201, JSON.stringify(first.body))
    assert.equal(first.body.rollout, null)
    assert.match(first.body.note, /first version/)
    const v2 = await cidOf(await example('echo-v2'))
    const second = await dcDeploy({ artifact: { bytes: await example('echo-v2'), filename: 'app.wasm' }, region: 'unknown', canary: 'true', autoPromote: 'false', minHealthyTime: '0s', minSamples: '1' })
    assert.equal(second.status, 201, JSON.stringify(second.body))
    assert.equal(second.body.rollout.state, 'pending')
    assert.equal(second.body.id, v2)
    assert.equal(peer.fns.store.get('app')?.current, first.body.id, 'current did not move')
    const again = await dcDeploy({ artifact: { bytes: await example('failing'), filename: 'app.wasm' }, region: 'unknown', canary: 'true' })
    assert.equal(again.status, 409)
    assert.equal(again.body.error.code, 'ROLLOUT_IN_PROGRESS')
    const viaQuery = await deploy(peer, await example('failing'), 'name=app&canaryRegions=unknown')
    assert.equal(viaQuery.status, 409)
    // the canary is served here (this peer is the cohort), and counted
    await waitFor('the canary phase', async () => (await http(`${url}/v1/rollouts/app`)).json().state === 'canary', { timeoutMs: 20_000 })
    const out = await http(`${url}/v1/functions/app`, { method: 'POST', body: 'hi', type: 'application/octet-stream' })
    assert.equal(out.text, 'v2:hi')
    await waitFor('the canary figures to be reported', async () => (await http(`${url}/v1/rollouts/app`)).json().figures.canary.count >= 1, { timeoutMs: 20_000 })
    const waiting = await waitFor('healthy, waiting for promote', async () => { const b = (await http(`${url}/v1/rollouts/app`)).json(); return /waiting/.test(b.reason ?? '') ? b : undefined }, { timeoutMs: 20_000 })
    assert.equal(waiting.state, 'canary')
    const list = await http(`${url}/v1/rollouts`)
    assert.equal(list.status, 200)
    assert.equal(list.json().rollouts.length, 1)
    assert.equal(list.json().rollouts[0].servedHere, true)
    assert.equal((await http(`${url}/v1/rollouts/nope`)).status, 404)
    assert.equal((await http(`${url}/v1/rollouts/nope/abort`, { method: 'POST' })).status, 404)
    const promoted = await http(`${url}/v1/rollouts/app/promote`, { method: 'POST' })
    assert.equal(promoted.status, 200, promoted.text)
    assert.equal(promoted.json().state, 'promoted')
    assert.equal(peer.fns.store.get('app')?.current, v2)
    assert.equal((await http(`${url}/v1/rollouts/app/promote`, { method: 'POST' })).status, 409)
  })

  it('a Function manifest with spec.rollout starts a rollout; a bad spec is a 400', async () => {
    const failing = await example('failing')
    const id = await cidOf(failing)
    await peer.helia.blockstore.put((await import('../../src/wasm/store/cid.js')).parseModuleCid(id)!, failing)
    const bad = ['apiVersion: edge/v1', 'kind: Function', 'metadata:', '  name: app', 'spec:', `  source: ${id}`, '  rollout:', '    canary: { regions: [unknown] }', '    minHealthyTime: soon', ''].join('\n')
    const r1 = await http(`${url}/v1/manifests`, { method: 'POST', body: bad, type: 'application/yaml' })
    assert.equal(r1.status, 400, r1.text)
    const good = ['apiVersion: edge/v1', 'kind: Function', 'metadata:', '  name: app', 'spec:', `  source: ${id}`, '  rollout:', '    canary: { regions: [unknown] }', '    minHealthyTime: 30s', '    sla: { errorRate: 0.1, minSamples: 2 }', ''].join('\n')
    const r2 = await http(`${url}/v1/manifests`, { method: 'POST', body: good, type: 'application/yaml' })
    assert.equal(r2.status, 201, r2.text)
    // the failing canary is served here, fails, and is reverted by this peer (the only driver)
    await waitFor('the canary phase', async () => (await http(`${url}/v1/rollouts/app`)).json().state === 'canary', { timeoutMs: 20_000 })
    for (let i = 0; i < 3; i++) {
      const out = await http(`${url}/v1/functions/app`, { method: 'POST', body: 'hi', type: 'application/octet-stream' })
      assert.notEqual(out.status, 200)
    }
    const end = await waitFor('the revert', async () => { const b = (await http(`${url}/v1/rollouts/app`)).json(); return b.state === 'reverted' ? b : undefined }, { timeoutMs: 30_000 })
    assert.match(end.reason, /error rate 1 > 0.1/)
    assert.equal((await http(`${url}/v1/functions/app`, { method: 'POST', body: 'hi', type: 'application/octet-stream' })).text, 'v2:hi')
  })

  it('dcis fn deploy --canary, dcis rollout status|abort against the peer', async () => {
    const { runFnDeploy } = await import('../../src/cli/commands/fn-run.js')
    const { runRolloutAction, runRolloutStatus } = await import('../../src/cli/commands/rollout-run.js')
    const { writeFile } = await import('node:fs/promises')
    const { join } = await import('node:path')
    let text = ''
    const out = { write: (x: string | Uint8Array) => { text += typeof x === 'string' ? x : new TextDecoder().decode(x) } }
    const f1 = join(peer.dir, 'cli1.wasm')
    const f2 = join(peer.dir, 'cli2.wasm')
    await writeFile(f1, await example('echo'))
    await writeFile(f2, await example('echo-v2'))
    await runFnDeploy(f1, { name: 'cli', api: url }, out)
    text = ''
    const r = await runFnDeploy(f2, { name: 'cli', api: url, canary: 'unknown', minSamples: '1', minHealthyTime: '1m', json: true }, out) as { rollout?: { state: string } }
    assert.equal(r.rollout?.state, 'pending')
    text = ''
    await runRolloutStatus('cli', { api: url }, out)
    assert.match(text, /^cli: (pending|canary) {2}v2 /)
    assert.match(text, /cohort: /)
    text = ''
    await runRolloutAction('abort', 'cli', { api: url }, out)
    assert.match(text, /^cli: reverted/)
    assert.match(text, /reason: {3}aborted by the operator/)
    assert.equal(peer.fns.store.get('cli')?.current, await cidOf(await example('echo')))
  })

  it('a slow version (examples/functions slow.wasm) breaks the p95 SLA and is reverted', async () => {
    assert.equal((await deploy(peer, await example('echo'), 'name=lat')).status, 201)
    const res = await deploy(peer, await example('slow'), 'name=lat&canaryRegions=unknown&latencyP95Ms=20&minSamples=3&minHealthyTime=5m')
    assert.equal(res.status, 201, res.text)
    await waitFor('the canary phase', async () => (await http(`${url}/v1/rollouts/lat`)).json().state === 'canary', { timeoutMs: 20_000 })
    for (let i = 0; i < 3; i++) {
      const out = await http(`${url}/v1/functions/lat`, { method: 'POST', body: 'slowly', type: 'application/octet-stream' })
      assert.equal(out.text, 'slowly')
    }
    const end = await waitFor('the revert', async () => { const b = (await http(`${url}/v1/rollouts/lat`)).json(); return b.state === 'reverted' ? b : undefined }, { timeoutMs: 30_000 })
    assert.match(end.reason, /latency p95 [0-9]+ ms > 20 ms/)
    assert.ok(end.figures.canary.p95Ms > 20)
    assert.equal(peer.fns.store.get('lat')?.current, await cidOf(await example('echo')))
  })
})
