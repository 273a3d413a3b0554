/**
 * Zero-trust roles: a token signed by a DID of the policy, for this peer
 * (aud), short-lived, grants exactly the policy's roles; a token can narrow
 * itself to one role. 401 for anything unverifiable, 403 for a valid
 * caller without the role.
 */
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import Fastify from 'fastify'
import { ApiAuth } from '../../src/api/auth.js'
import { identityFromPrivateKey, signJwt } from '../../src/identity/index.js'
import type { Role } from '../../src/api/auth.js'
import type { NodeIdentity } from '../../src/identity/index.js'
import type { FastifyInstance } from 'fastify'

describe('api: auth roles', () => {
  let node: NodeIdentity
  let deployer: NodeIdentity
  let stranger: NodeIdentity
  let app: FastifyInstance

  before(async () => {
    node = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    deployer = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    stranger = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    const auth = new ApiAuth({ nodeDid: node.did, policy: [{ did: deployer.did, roles: ['deploy'] }], trustLoopback: false })
    app = Fastify()
    auth.install(app)
    app.setErrorHandler((err: Error & { code?: string }, _req, reply) => {
      const status = (auth.errors as Record<string, number>)[err.name] ?? 500
      void reply.code(status).send({ error: { code: err.code ?? 'INTERNAL', message: err.message } })
    })
    for (const role of ['deploy', 'allocate', 'admin'] as Role[]) {
      app.post(`/${role}`, { config: { role } }, async (req) => ({ ok: true, caller: req.caller?.did }))
    }
    app.get('/read', async () => ({ ok: true }))
    await app.ready()
  })

  after(async () => { await app.close() })

  async function call (path: string, token?: string): Promise<{ status: number, code?: string }> {
    const res = await app.inject({ method: 'POST', url: path, payload: {}, headers: token != null ? { authorization: `Bearer ${token}` } : {} })
    return { status: res.statusCode, code: res.json().error?.code }
  }

  it('the peer\'s own DID is admin', async () => {
    const token = await signJwt(node, {}, { audience: node.did, expiresInSeconds: 300 })
    for (const path of ['/deploy', '/allocate', '/admin']) assert.equal((await call(path, token)).status, 200)
  })

  it('a policy DID gets exactly its roles: 200 for deploy, 403 elsewhere', async () => {
    const token = await signJwt(deployer, {}, { audience: node.did, expiresInSeconds: 300 })
    assert.equal((await call('/deploy', token)).status, 200)
    assert.deepEqual(await call('/allocate', token), { status: 403, code: 'FORBIDDEN' })
    assert.deepEqual(await call('/admin', token), { status: 403, code: 'FORBIDDEN' })
  })

  it('a DID outside the policy is authenticated but holds no role (403)', async () => {
    const token = await signJwt(stranger, {}, { audience: node.did, expiresInSeconds: 300 })
    assert.deepEqual(await call('/deploy', token), { status: 403, code: 'FORBIDDEN' })
  })

  it('a token narrowed to one role cannot use the others (least privilege)', async () => {
    const token = await signJwt(node, { role: 'deploy' }, { audience: node.did, expiresInSeconds: 300 })
    assert.equal((await call('/deploy', token)).status, 200)
    assert.deepEqual(await call('/admin', token), { status: 403, code: 'FORBIDDEN' })
    const asksMore = await signJwt(deployer, { role: 'admin' }, { audience: node.did, expiresInSeconds: 300 })
    assert.deepEqual(await call('/deploy', asksMore), { status: 403, code: 'FORBIDDEN' })
  })

  it('401 for no token, wrong audience, no audience, expired, long-lived, garbage', async () => {
    const other = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    const cases: Array<[string, string | undefined]> = [
      ['none', undefined],
      ['wrong aud', await signJwt(node, {}, { audience: other.did, expiresInSeconds: 300 })],
      ['no aud', await signJwt(node, {}, { expiresInSeconds: 300 })],
      ['expired', await signJwt(node, {}, { audience: node.did, expiresInSeconds: 60, issuedAt: Math.floor(Date.now() / 1000) - 3600 })],
      ['no exp', await signJwt(node, {}, { audience: node.did })],
      ['lives 1 day', await signJwt(node, {}, { audience: node.did, expiresInSeconds: 86400 })],
      ['garbage', 'a.b.c']
    ]
    for (const [what, token] of cases) {
      assert.deepEqual(await call('/deploy', token), { status: 401, code: 'UNAUTHENTICATED' }, what)
    }
    const tampered = (await signJwt(node, {}, { audience: node.did, expiresInSeconds: 300 })).slice(0, -4) + 'AAAA'
    assert.equal((await call('/deploy', tampered)).status, 401)
  })

  it('reads need no token', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/read' })).statusCode, 200)
  })
})
