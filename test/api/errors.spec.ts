import assert from 'node:assert/strict'
import { SECRET, parseEnvelope, rawRequest, startHarness } from './fixtures.js'
import { waitFor } from '../helpers/wait.js'
import type { Harness } from './fixtures.js'

const json = { 'content-type': 'application/json' }

describe('api: errors', () => {
  let h: Harness

  beforeEach(async () => {
    h = await startHarness({ bodyLimit: 1024 })
  })

  afterEach(async () => {
    await h.server.stop()
  })

  async function expectError (res: Response | Promise<Response>, status: number, code: string, message?: RegExp): Promise<string> {
    const r = await res
    const text = await r.text()
    assert.equal(r.status, status, `status for ${text}`)
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/)
    const err = parseEnvelope(text)
    assert.equal(err.code, code)
    if (message != null) assert.match(err.message, message)
    return err.message
  }

  const echo = (body: string, headers: Record<string, string> = json, query = ''): Promise<Response> =>
    fetch(h.url(`/v1/test/echo${query}`), { method: 'POST', headers, body })

  describe('request validation', () => {
    it('malformed JSON -> 400 MALFORMED_BODY', async () => {
      await expectError(echo('{"name": "x",'), 400, 'MALFORMED_BODY')
    })

    it('empty JSON body -> 400 MALFORMED_BODY', async () => {
      await expectError(echo(''), 400, 'MALFORMED_BODY')
    })

    it('prototype poisoning in JSON -> 400 MALFORMED_BODY', async () => {
      await expectError(echo('{"name":"x","constraints":{},"__proto__":{"admin":true}}'), 400, 'MALFORMED_BODY')
    })

    it('a missing required field -> 400 BAD_REQUEST naming it', async () => {
      await expectError(echo(JSON.stringify({ constraints: {} })), 400, 'BAD_REQUEST', /^body\/name is required$/)
    })

    it('a nested field of the wrong type -> 400 naming its path', async () => {
      await expectError(echo(JSON.stringify({ name: 'x', constraints: { cpu: 'lots' } })), 400, 'BAD_REQUEST', /^body\/constraints\/cpu must be number$/)
    })

    it('an unknown field -> 400 naming it (not silently dropped)', async () => {
      await expectError(echo(JSON.stringify({ name: 'x', constraints: { gpu: 1 } })), 400, 'BAD_REQUEST', /^body\/constraints\/gpu is not an allowed property$/)
    })

    it('JSON bodies are not type-coerced: a numeric string is not a number', async () => {
      await expectError(echo(JSON.stringify({ name: 'x', constraints: { cpu: '2' } })), 400, 'BAD_REQUEST', /^body\/constraints\/cpu must be number$/)
      await expectError(echo(JSON.stringify({ name: 7, constraints: {} })), 400, 'BAD_REQUEST', /^body\/name must be string$/)
    })

    it('query strings are coerced to the schema type', async () => {
      const res = await echo(JSON.stringify({ name: 'x', constraints: {} }), json, '?times=3')
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), { name: 'x', times: 3 })
    })

    it('a body of the wrong JSON type -> 400', async () => {
      await expectError(echo('[1,2,3]'), 400, 'BAD_REQUEST', /^body must be object$/)
      await expectError(echo('null'), 400, 'BAD_REQUEST')
    })

    it('a bad query parameter -> 400 naming it', async () => {
      const body = JSON.stringify({ name: 'x', constraints: {} })
      await expectError(echo(body, json, '?times=9'), 400, 'BAD_REQUEST', /^querystring\/times must be <= 3$/)
      await expectError(echo(body, json, '?times=abc'), 400, 'BAD_REQUEST', /querystring\/times/)
      await expectError(echo(body, json, '?nope=1'), 400, 'BAD_REQUEST', /querystring\/nope/)
    })

    it('an unsupported content type -> 415 UNSUPPORTED_MEDIA_TYPE', async () => {
      await expectError(echo('<x/>', { 'content-type': 'application/xml' }), 415, 'UNSUPPORTED_MEDIA_TYPE')
    })

    it('text/plain on a JSON route -> 400 (schema rejects a string)', async () => {
      await expectError(echo('hello', { 'content-type': 'text/plain' }), 400, 'BAD_REQUEST', /^body must be object$/)
    })

    it('a body over the limit -> 413 PAYLOAD_TOO_LARGE', async () => {
      const big = JSON.stringify({ name: 'x'.repeat(2000), constraints: {} })
      await expectError(echo(big), 413, 'PAYLOAD_TOO_LARGE')
    })

    it('a Content-Length that does not match the body -> 4xx envelope or closed connection, never a crash', async () => {
      const { connect } = await import('node:net')
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect(h.server.port, '127.0.0.1')
        let data = ''
        socket.on('data', d => { data += String(d) })
        socket.on('end', () => { resolve(data) })
        socket.on('close', () => { resolve(data) })
        socket.on('error', reject)
        socket.end('POST /v1/test/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\nconnection: close\r\n\r\n{"name":')
      })
      if (reply.length > 0) {
        assert.match(reply, /^HTTP\/1\.1 4\d\d /)
      }
      assert.equal((await fetch(h.url('/healthz'))).status, 200)
    })
  })

  describe('routing', () => {
    it('unknown route -> 404 NOT_FOUND', async () => {
      await expectError(fetch(h.url('/v1/nope')), 404, 'NOT_FOUND', /GET \/v1\/nope/)
      await expectError(fetch(h.url('/')), 404, 'NOT_FOUND')
    })

    it('known path, wrong method -> 405 METHOD_NOT_ALLOWED with Allow', async () => {
      const res = await fetch(h.url('/healthz'), { method: 'POST' })
      assert.equal(res.headers.get('allow'), 'GET, HEAD')
      await expectError(res, 405, 'METHOD_NOT_ALLOWED')
      const put = await fetch(h.url('/v1/test/items/abc'), { method: 'PUT', headers: json, body: '{}' })
      assert.equal(put.headers.get('allow'), 'DELETE, GET, HEAD')
      await expectError(put, 405, 'METHOD_NOT_ALLOWED')
    })

    it('an HTTP method no route uses -> 405 envelope, and the server keeps serving', async () => {
      const res = await rawRequest(h.url('/healthz'), 'PROPFIND')
      assert.equal(res.status, 405)
      assert.equal(parseEnvelope(res.body).code, 'METHOD_NOT_ALLOWED')
      assert.equal((await fetch(h.url('/healthz'))).status, 200)
    })

    it('a malformed percent-encoding in the path -> 400 envelope', async () => {
      const res = await rawRequest(h.url('/v1/test/items/%E0%A4%A'), 'GET')
      assert.equal(res.status, 400)
      assert.equal(parseEnvelope(res.body).code, 'BAD_REQUEST')
    })
  })

  describe('capability errors', () => {
    it('an error with a code maps by name and keeps its code', async () => {
      await expectError(fetch(h.url('/v1/test/fail?kind=coded')), 404, 'KEY_NOT_FOUND', /no key k1/)
      await expectError(fetch(h.url('/v1/test/items/missing')), 404, 'KEY_NOT_FOUND')
    })

    it('an error without a code gets the status\'s default code', async () => {
      await expectError(fetch(h.url('/v1/test/fail?kind=named')), 409, 'CONFLICT', /revision mismatch/)
    })

    it('registerErrorStatus maps a new error name at run time', async () => {
      await expectError(fetch(h.url('/v1/test/fail?kind=quota')), 500, 'INTERNAL')
      h.server.registerErrorStatus('QuotaExceededError', 429)
      await expectError(fetch(h.url('/v1/test/fail?kind=quota')), 429, 'TOO_MANY_REQUESTS', /quota exceeded/)
    })

    it('registerErrorStatus rejects statuses outside 400..599 and bad names', () => {
      assert.throws(() => { h.server.registerErrorStatus('XError', 200) }, { name: 'InvalidErrorStatusError' })
      assert.throws(() => { h.server.registerErrorStatus('XError', 600) }, { name: 'InvalidErrorStatusError' })
      assert.throws(() => { h.server.registerErrorStatus('', 400) }, { name: 'InvalidErrorStatusError' })
      assert.throws(() => { h.server.registerErrorStatus('has space', 400) }, { name: 'InvalidErrorStatusError' })
    })

    it('an unknown error -> 500 INTERNAL with a generic message; the real one is logged, not sent', async () => {
      const message = await expectError(fetch(h.url('/v1/test/fail?kind=unknown')), 500, 'INTERNAL')
      assert.equal(message, 'internal error')
      const logged = h.lines().find(l => l.msg === 'request failed' && l.level === 50)
      assert.ok(logged != null, 'the error is logged at error level')
      assert.match(JSON.stringify(logged), /hunter2/)
    })

    it('thrown non-Error values -> 500 INTERNAL without leaking', async () => {
      for (const kind of ['string', 'null']) {
        const res = await fetch(h.url(`/v1/test/fail?kind=${kind}`))
        const text = await res.text()
        assert.equal(res.status, 500)
        assert.equal(parseEnvelope(text).code, 'INTERNAL')
        assert.doesNotMatch(text, new RegExp(SECRET))
      }
    })

    it('a handler returning data that breaks its response schema -> 500 INTERNAL', async () => {
      await expectError(fetch(h.url('/v1/test/fail?kind=bad-output')), 500, 'INTERNAL')
    })
  })

  describe('timeouts and aborts', () => {
    it('a handler that outlives its timeout gets an aborted signal and the client a 504 TIMEOUT', async () => {
      await h.server.stop()
      h = await startHarness({ handlerTimeoutMs: 50 })
      h.node.hangPeers = true
      await expectError(fetch(h.url('/v1/peers')), 504, 'TIMEOUT')
      assert.equal(h.node.lastPeersSignal?.aborted, true)
    })

    it('a client that goes away aborts the handler\'s signal', async () => {
      h.node.hangPeers = true
      const controller = new AbortController()
      const pending = fetch(h.url('/v1/peers'), { signal: controller.signal }).catch(err => err as Error)
      await waitFor('the handler to start', () => h.node.lastPeersSignal != null, { timeoutMs: 5000, intervalMs: 10 })
      controller.abort()
      await pending
      await waitFor('the handler signal to abort', () => h.node.lastPeersSignal?.aborted === true, { timeoutMs: 5000, intervalMs: 10 })
      assert.equal((await fetch(h.url('/healthz'))).status, 200)
    })
  })
})
