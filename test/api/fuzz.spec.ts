import assert from 'node:assert/strict'
import fc from 'fast-check'
import { parseEnvelope, rawRequest, startHarness } from './fixtures.js'
import type { Harness } from './fixtures.js'

/**
 * Seeded random requests (paths, methods, content types, bodies): the server
 * must answer every one with a 2xx or a 4xx error envelope, never a 5xx, and
 * keep serving. fast-check prints the seed and the shrunk request on failure;
 * replay with FUZZ_SEED=<seed>.
 */
describe('api: random bad input', () => {
  let h: Harness

  before(async () => {
    h = await startHarness({ bodyLimit: 4096 })
    h.node.ready = true
  })

  after(async () => {
    await h.server.stop()
  })

  it('never answers a random request with a 5xx or a non-envelope error', async function () {
    const seed = process.env.FUZZ_SEED != null ? Number(process.env.FUZZ_SEED) : 20261127
    const segment = fc.oneof(
      fc.constantFrom('v1', 'test', 'echo', 'items', 'node', 'peers', 'healthz', 'readyz', 'openapi.json', 'fail', '%2e%2e', '%00', '..', ''),
      fc.string({ maxLength: 12 }).map(s => encodeURIComponent(s))
    )
    const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map(parts => '/' + parts.join('/'))
    const query = fc.oneof(fc.constant(''), fc.constantFrom('?times=1', '?times=-1', '?times=1&times=2', '?kind=x', '?a[b]=c', '?%zz'))
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD')
    const contentType = fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', '')
    const body = fc.oneof(
      fc.json().map(j => Buffer.from(j)),
      fc.string().map(s => Buffer.from(s)),
      fc.uint8Array({ maxLength: 256 }).map(b => Buffer.from(b)),
      fc.constant(Buffer.from('{"name":"x","constraints":{"cpu":1e999}}')),
      fc.constant(Buffer.alloc(5000, 0x61))
    )

    await fc.assert(fc.asyncProperty(method, path, query, contentType, body, async (m, p, q, ct, b) => {
      const headers: Record<string, string> = {}
      if (ct !== '') headers['content-type'] = ct
      const withBody = m !== 'GET' && m !== 'HEAD'
      const res = await rawRequest(h.url(p + q), m, { headers, body: withBody ? b : undefined })
      assert.ok(res.status < 500, `${m} ${p}${q} (${ct}) -> ${res.status} ${res.body}`)
      if (res.status >= 400 && m !== 'HEAD') {
        parseEnvelope(res.body)
      }
    }), { seed, numRuns: 300 })

    assert.equal((await fetch(h.url('/healthz'))).status, 200)
  })
})
