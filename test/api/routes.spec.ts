import assert from 'node:assert/strict'
import { parseEnvelope, rawRequest, startHarness } from './fixtures.js'
import type { Harness } from './fixtures.js'

describe('api: core routes', () => {
  let h: Harness

  beforeEach(async () => {
    h = await startHarness()
  })

  afterEach(async () => {
    await h.server.stop()
  })

  it('GET /healthz -> 200 {"status":"ok"}', async () => {
    const res = await fetch(h.url('/healthz'))
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    assert.deepEqual(await res.json(), { status: 'ok' })
  })

  it('GET /readyz is 503 NOT_READY until the node is ready, then 200', async () => {
    const before = await fetch(h.url('/readyz'))
    assert.equal(before.status, 503)
    assert.equal(parseEnvelope(await before.text()).code, 'NOT_READY')

    h.node.ready = true
    const after = await fetch(h.url('/readyz'))
    assert.equal(after.status, 200)
    assert.deepEqual(await after.json(), { status: 'ready' })

    h.node.ready = false
    assert.equal((await fetch(h.url('/readyz'))).status, 503)
  })

  it('GET /v1/node returns the node info', async () => {
    const res = await fetch(h.url('/v1/node'))
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), h.node.nodeInfo)
  })

  it('GET /v1/node serializes null END fields', async () => {
    h.node.nodeInfo = { ...h.node.nodeInfo, end: null, endJwt: null }
    const res = await fetch(h.url('/v1/node'))
    assert.deepEqual(await res.json(), h.node.nodeInfo)
  })

  it('GET /v1/node drops fields that are not in the schema', async () => {
    h.node.nodeInfo = { ...h.node.nodeInfo, privateKey: 'do-not-send' } as typeof h.node.nodeInfo
    const body = await (await fetch(h.url('/v1/node'))).json() as Record<string, unknown>
    assert.equal(body.privateKey, undefined)
    assert.equal(body.peerId, h.node.nodeInfo.peerId)
  })

  it('GET /v1/node is a 500 INTERNAL when the node breaks the response contract', async () => {
    h.node.nodeInfo = { ...h.node.nodeInfo, peerId: undefined } as unknown as typeof h.node.nodeInfo
    const res = await fetch(h.url('/v1/node'))
    assert.equal(res.status, 500)
    assert.equal(parseEnvelope(await res.text()).code, 'INTERNAL')
  })

  it('GET /v1/peers -> {"peers": [...]} and hands the node an AbortSignal', async () => {
    const res = await fetch(h.url('/v1/peers'))
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { peers: h.node.peerList })
    assert.ok(h.node.lastPeersSignal instanceof AbortSignal)
    assert.equal(h.node.lastPeersSignal.aborted, false)
  })

  it('GET /v1/peers with no peers -> {"peers": []}', async () => {
    h.node.peerList = []
    assert.deepEqual(await (await fetch(h.url('/v1/peers'))).json(), { peers: [] })
  })

  it('GET /openapi.json serves an OpenAPI 3 document listing the routes', async () => {
    const res = await fetch(h.url('/openapi.json'))
    assert.equal(res.status, 200)
    const doc = await res.json() as { openapi: string, paths: Record<string, unknown> }
    assert.match(doc.openapi, /^3\.0\.\d+$/)
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/v1/node', '/v1/peers', '/v1/test/echo', '/v1/test/items/{id}']) {
      assert.ok(doc.paths[path] != null, `missing ${path}`)
    }
  })

  it('HEAD works on GET routes', async () => {
    const res = await rawRequest(h.url('/healthz'), 'HEAD')
    assert.equal(res.status, 200)
    assert.equal(res.body, '')
  })

  it('a capability route validates and serializes by schema (extra response fields dropped)', async () => {
    const res = await fetch(h.url('/v1/test/echo?times=2'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'n', constraints: { cpu: 2 } })
    })
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { name: 'n', times: 2 })
  })

  it('route params are validated and passed through', async () => {
    const ok = await fetch(h.url('/v1/test/items/abc'))
    assert.deepEqual(await ok.json(), { id: 'abc' })
    const bad = await fetch(h.url('/v1/test/items/ABC1'))
    assert.equal(bad.status, 400)
    const err = parseEnvelope(await bad.text())
    assert.equal(err.code, 'BAD_REQUEST')
    assert.match(err.message, /params\/id/)
  })

  it('DELETE with 204 sends no body', async () => {
    const res = await rawRequest(h.url('/v1/test/items/abc'), 'DELETE')
    assert.equal(res.status, 204)
    assert.equal(res.body, '')
  })
})
