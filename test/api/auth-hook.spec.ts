import assert from 'node:assert/strict'
import { ApiAuth, AUTH_ERROR_STATUS } from '../../src/api/auth.js'
import { buildOpenApiDocument } from '../../src/api/index.js'
import { parseEnvelope, startHarness, testRoutes } from './fixtures.js'
import type { ApiAuthHook } from '../../src/api/index.js'

const nodeDid = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'

function authHook (trustLoopback: boolean): ApiAuthHook {
  const auth = new ApiAuth({ nodeDid, policy: [], trustLoopback })
  return { install: (app) => { auth.install(app) }, errors: AUTH_ERROR_STATUS }
}

const echo = (url: string, headers: Record<string, string> = {}): Promise<Response> => fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify({ name: 'x', constraints: {} })
})

describe('api: auth hook (ApiServerInit.auth)', () => {
  it('reads stay open; a mutating call without a token is 401 UNAUTHENTICATED', async () => {
    const h = await startHarness({ auth: authHook(false) })
    try {
      assert.equal((await fetch(h.url('/healthz'))).status, 200)
      assert.equal((await fetch(h.url('/v1/node'))).status, 200)
      const res = await echo(h.url('/v1/test/echo'))
      assert.equal(res.status, 401)
      assert.equal(parseEnvelope(await res.text()).code, 'UNAUTHENTICATED')
      const bad = await echo(h.url('/v1/test/echo'), { authorization: 'Bearer not.a.jwt' })
      assert.equal(bad.status, 401)
      assert.equal(parseEnvelope(await bad.text()).code, 'UNAUTHENTICATED')
      const del = await fetch(h.url('/v1/test/items/abc'), { method: 'DELETE' })
      assert.equal(del.status, 401)
    } finally {
      await h.server.stop()
    }
  })

  it('with trustLoopback a loopback client may act without a token', async () => {
    const h = await startHarness({ auth: authHook(true) })
    try {
      assert.equal((await echo(h.url('/v1/test/echo'))).status, 200)
    } finally {
      await h.server.stop()
    }
  })

  it('the OpenAPI document declares bearer auth on every call that is not a read', async () => {
    const doc = await buildOpenApiDocument({ routes: [testRoutes()] }) as {
      components: { securitySchemes: Record<string, { type: string, scheme: string }> }
      paths: Record<string, Record<string, { security?: unknown }>>
    }
    assert.deepEqual(doc.components.securitySchemes.bearerAuth?.type, 'http')
    assert.deepEqual(doc.components.securitySchemes.bearerAuth?.scheme, 'bearer')
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (method === 'get' || method === 'head') assert.equal(op.security, undefined, `${method} ${path} is open`)
        else assert.deepEqual(op.security, [{ bearerAuth: [] }], `${method} ${path} needs a token`)
      }
    }
  })
})
