/**
 * Reads of service data are authorised (the read right, unless the service
 * is public), tokens can be scoped to services / functions / allocations,
 * info reads can be closed by config, and a forwarded request is checked
 * against the caller's rights on the receiving peer.
 */
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import Fastify from 'fastify'
import { ApiAuth, parseScope, UnauthenticatedError, ForbiddenError } from '../../src/api/auth.js'
import { identityFromPrivateKey, signJwt } from '../../src/identity/index.js'
import type { ApiAuthInit } from '../../src/api/auth.js'
import type { NodeIdentity } from '../../src/identity/index.js'
import type { FastifyInstance } from 'fastify'

describe('api: read authorisation and scoped tokens', () => {
  let node: NodeIdentity
  let entry: NodeIdentity
  let reader: NodeIdentity
  let writer: NodeIdentity
  let stranger: NodeIdentity
  const apps: FastifyInstance[] = []

  before(async () => {
    node = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    entry = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    reader = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    writer = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    stranger = identityFromPrivateKey(await generateKeyPair('Ed25519'))
  })

  after(async () => { await Promise.all(apps.map(async a => { await a.close() })) })

  function policy (): ApiAuthInit['policy'] {
    return [{ did: reader.did, roles: ['read'] }, { did: writer.did, roles: ['services', 'deploy', 'allocate'] }]
  }

  async function build (init: Partial<ApiAuthInit> = {}): Promise<FastifyInstance> {
    const auth = new ApiAuth({ nodeDid: node.did, policy: policy(), trustLoopback: false, isPublicService: (n) => n === 'open', ...init })
    const app = Fastify()
    auth.install(app)
    app.setErrorHandler((err: Error & { code?: string }, _req, reply) => {
      const status = (auth.errors as Record<string, number>)[err.name] ?? 500
      void reply.code(status).send({ error: { code: err.code ?? 'INTERNAL', message: err.message } })
    })
    const svc = { kind: 'service', param: 'name' } as const
    app.get('/v1/services/:name/kv/:key', { config: { read: true, target: svc } }, async () => ({ ok: true }))
    app.put('/v1/services/:name/kv/:key', { config: { role: 'services', target: svc } }, async () => ({ ok: true }))
    app.post('/v1/functions/:id', { config: { role: 'deploy', target: { kind: 'function', param: 'id' } } }, async () => ({ ok: true }))
    app.delete('/v1/allocations/:id', { config: { role: 'allocate', target: { kind: 'allocation', param: 'id' } } }, async () => ({ ok: true }))
    app.post('/v1/allocations', { config: { role: 'allocate' } }, async () => ({ ok: true }))
    app.post('/v1/manifests', { config: { role: 'per-request' } }, async () => ({ ok: true }))
    app.get('/healthz', async () => ({ ok: true }))
    await app.ready()
    apps.push(app)
    return app
  }

  async function call (app: FastifyInstance, method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, token?: string): Promise<{ status: number, code?: string }> {
    const res = await app.inject({ method, url, ...(method === 'GET' || method === 'DELETE' ? {} : { payload: {} }), headers: token != null ? { authorization: `Bearer ${token}` } : {} })
    return { status: res.statusCode, code: res.json().error?.code }
  }

  const tok = async (who: NodeIdentity, claims: Record<string, unknown> = {}, aud?: string): Promise<string> => signJwt(who, claims, { audience: aud ?? node.did, expiresInSeconds: 300 })

  it('a read of service data without a token is 401; public services and info reads stay open', async () => {
    const app = await build()
    assert.deepEqual(await call(app, 'GET', '/v1/services/a/kv/k'), { status: 401, code: 'UNAUTHENTICATED' })
    assert.equal((await call(app, 'GET', '/v1/services/open/kv/k')).status, 200)
    assert.equal((await call(app, 'GET', '/healthz')).status, 200)
  })

  it('the read right: read and services roles read, a stranger gets 403, read cannot write', async () => {
    const app = await build()
    assert.equal((await call(app, 'GET', '/v1/services/a/kv/k', await tok(reader))).status, 200)
    assert.equal((await call(app, 'GET', '/v1/services/a/kv/k', await tok(writer))).status, 200)
    assert.deepEqual(await call(app, 'GET', '/v1/services/a/kv/k', await tok(stranger)), { status: 403, code: 'FORBIDDEN' })
    assert.deepEqual(await call(app, 'PUT', '/v1/services/a/kv/k', await tok(reader)), { status: 403, code: 'FORBIDDEN' })
    // a token narrowed to read cannot write even if its issuer may
    assert.deepEqual(await call(app, 'PUT', '/v1/services/a/kv/k', await tok(writer, { role: 'read' })), { status: 403, code: 'FORBIDDEN' })
  })

  it('a token scoped to service a reads and writes a, gets 403 on b and on untargeted routes', async () => {
    const app = await build()
    const scoped = await tok(writer, { scope: { services: ['a'] } })
    assert.equal((await call(app, 'GET', '/v1/services/a/kv/k', scoped)).status, 200)
    assert.equal((await call(app, 'PUT', '/v1/services/a/kv/k', scoped)).status, 200)
    assert.deepEqual(await call(app, 'GET', '/v1/services/b/kv/k', scoped), { status: 403, code: 'FORBIDDEN' })
    assert.deepEqual(await call(app, 'PUT', '/v1/services/b/kv/k', scoped), { status: 403, code: 'FORBIDDEN' })
    assert.deepEqual(await call(app, 'POST', '/v1/functions/f', scoped), { status: 403, code: 'FORBIDDEN' })
    assert.deepEqual(await call(app, 'POST', '/v1/allocations', scoped), { status: 403, code: 'FORBIDDEN' })
    assert.deepEqual(await call(app, 'POST', '/v1/manifests', scoped), { status: 403, code: 'FORBIDDEN' })
    // public data stays public, but a scoped token presented there is held to its scope
    assert.deepEqual(await call(app, 'GET', '/v1/services/open/kv/k', scoped), { status: 403, code: 'FORBIDDEN' })
  })

  it('function and allocation scopes', async () => {
    const app = await build()
    const fn = await tok(writer, { scope: { functions: ['f'] } })
    assert.equal((await call(app, 'POST', '/v1/functions/f', fn)).status, 200)
    assert.deepEqual(await call(app, 'POST', '/v1/functions/g', fn), { status: 403, code: 'FORBIDDEN' })
    const alloc = await tok(writer, { scope: { allocations: ['x1'] } })
    assert.equal((await call(app, 'DELETE', '/v1/allocations/x1', alloc)).status, 200)
    assert.deepEqual(await call(app, 'DELETE', '/v1/allocations/x2', alloc), { status: 403, code: 'FORBIDDEN' })
  })

  it('a malformed scope or role claim rejects the token (never widens it)', async () => {
    const app = await build()
    for (const scope of ['a', ['a'], { services: 'a' }, { services: [1] }, { tables: ['a'] }, null]) {
      assert.deepEqual(await call(app, 'GET', '/v1/services/a/kv/k', await tok(writer, { scope })), { status: 401, code: 'UNAUTHENTICATED' }, JSON.stringify(scope))
    }
    assert.deepEqual(await call(app, 'GET', '/v1/services/a/kv/k', await tok(writer, { role: 'root' })), { status: 401, code: 'UNAUTHENTICATED' })
    assert.throws(() => parseScope({ services: new Array(300).fill('a') }), UnauthenticatedError)
  })

  it('openInfo: false closes info reads to callers without a token', async () => {
    const app = await build({ openInfo: false })
    assert.deepEqual(await call(app, 'GET', '/healthz'), { status: 401, code: 'UNAUTHENTICATED' })
    assert.equal((await call(app, 'GET', '/healthz', await tok(stranger))).status, 200)
  })

  it('trustLoopback: loopback clients read without a token (local meshes)', async () => {
    const app = await build({ trustLoopback: true })
    const res = await app.inject({ method: 'GET', url: '/v1/services/a/kv/k', remoteAddress: '127.0.0.1' })
    assert.equal(res.statusCode, 200)
    const remote = await app.inject({ method: 'GET', url: '/v1/services/a/kv/k', remoteAddress: '10.0.0.5' })
    assert.equal(remote.statusCode, 401)
  })

  describe('forwarded requests are re-authorised by the receiving peer', () => {
    const target = { kind: 'service', name: 'a' } as const

    it('the caller\'s token, addressed to the entry peer, is checked against this peer\'s own policy', async () => {
      // this peer's policy does not list the writer: the entry peer accepted it, this one refuses
      const here = new ApiAuth({ nodeDid: node.did, policy: [{ did: reader.did, roles: ['read'] }], trustLoopback: false })
      const token = await tok(writer, {}, entry.did)
      await assert.rejects(here.authorizeForwarded({ token, viaDid: entry.did, role: 'services', target }), ForbiddenError)
      // a reader may read through the forward, not write
      const rtoken = await tok(reader, {}, entry.did)
      assert.equal((await here.authorizeForwarded({ token: rtoken, viaDid: entry.did, role: 'read', target })).did, reader.did)
      await assert.rejects(here.authorizeForwarded({ token: rtoken, viaDid: entry.did, role: 'services', target }), ForbiddenError)
    })

    it('a token for some other peer, a forged token, a missing token and a scope miss are refused', async () => {
      const here = new ApiAuth({ nodeDid: node.did, policy: policy(), trustLoopback: false })
      const other = identityFromPrivateKey(await generateKeyPair('Ed25519'))
      // addressed to a third peer: the forwarding peer cannot replay it here
      await assert.rejects(here.authorizeForwarded({ token: await tok(writer, {}, other.did), viaDid: entry.did, role: 'services', target }), UnauthenticatedError)
      const good = await tok(writer, {}, entry.did)
      const forged = good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA')
      await assert.rejects(here.authorizeForwarded({ token: forged, viaDid: entry.did, role: 'services', target }), UnauthenticatedError)
      await assert.rejects(here.authorizeForwarded({ viaDid: entry.did, role: 'services', target }), UnauthenticatedError)
      await assert.rejects(here.authorizeForwarded({ token: 'not a token', viaDid: entry.did, role: 'services', target }), UnauthenticatedError)
      const scoped = await tok(writer, { scope: { services: ['b'] } }, entry.did)
      await assert.rejects(here.authorizeForwarded({ token: scoped, viaDid: entry.did, role: 'services', target }), ForbiddenError)
      assert.equal((await here.authorizeForwarded({ token: good, viaDid: entry.did, role: 'services', target })).did, writer.did)
    })

    it('without a token a forward passes only on a peer that trusts loopback (a local mesh)', async () => {
      const local = new ApiAuth({ nodeDid: node.did, policy: [], trustLoopback: true })
      assert.equal((await local.authorizeForwarded({ viaDid: entry.did, role: 'services', target })).did, 'loopback')
    })
  })
})
