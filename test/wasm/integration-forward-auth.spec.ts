/**
 * A forwarded invocation is re-authorised by the peer that runs it: C runs
 * nothing and forwards every call to A over /dcis/invoke/1.0.0 with the
 * caller's token; A checks that token against its own policy. A caller
 * C's policy accepts but A's does not gets 403 at C's API.
 */
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { ApiAuth, AUTH_ERROR_STATUS, invokeForwardAuthorizer } from '../../src/api/auth.js'
import { didFromPeerId, identityFromPrivateKey, signJwt } from '../../src/identity/index.js'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { decodeRequestHeader, encodeHeader } from '../../src/wasm/routing/index.js'
import { cidOf } from './helpers.js'
import { buildExamples, connect, deploy, example, http, removeDir, startFnPeer } from './integration-mesh.js'
import type { FnPeer } from './integration-mesh.js'
import type { NodeIdentity } from '../../src/identity/index.js'
import type { PrivateKey } from '@libp2p/interface'
import type { InvokeRequestHeader } from '../../src/wasm/routing/index.js'

describe('wasm integration: forwarded invocations are re-authorised', function () {
  this.timeout(60_000)
  let a: FnPeer
  let c: FnPeer
  let both: NodeIdentity
  let onlyC: NodeIdentity
  let cDid: string
  let echoId: string
  const refused: string[] = []

  before(async function () {
    this.timeout(240_000)
    await buildExamples()
    both = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    onlyC = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    const aKey: PrivateKey = await generateKeyPair('Ed25519')
    const cKey: PrivateKey = await generateKeyPair('Ed25519')
    const aDid = didFromPeerId(peerIdFromPrivateKey(aKey))
    cDid = didFromPeerId(peerIdFromPrivateKey(cKey))
    const aAuth = new ApiAuth({ nodeDid: aDid, policy: [{ did: both.did, roles: ['deploy'] }], trustLoopback: true })
    const cAuth = new ApiAuth({ nodeDid: cDid, policy: [{ did: both.did, roles: ['deploy'] }, { did: onlyC.did, roles: ['deploy'] }], trustLoopback: false })
    a = await startFnPeer({
      name: 'a',
      key: aKey,
      runtime: { workers: 1 },
      auth: { install: (app) => { aAuth.install(app) }, errors: AUTH_ERROR_STATUS },
      authorizeCall: invokeForwardAuthorizer(aAuth, (info) => { refused.push(info.reason) })
    })
    c = await startFnPeer({
      name: 'c',
      key: cKey,
      runtime: { workers: 1 },
      invoker: { localExecution: false },
      store: { fetchTimeoutMs: 5000 },
      auth: { install: (app) => { cAuth.install(app) }, errors: AUTH_ERROR_STATUS }
    })
    await connect(c, a)
    c.registry.push({ end: { peerId: a.id, runtimes: ['wasi', 'reactor'] } })
    const echo = await example('echo')
    echoId = await cidOf(echo)
    // A trusts its loopback clients: the deploy needs no token there
    assert.equal((await deploy(a, echo, 'name=echo')).status, 201)
  })

  after(async () => {
    for (const p of [c, a]) {
      await p?.stop()
      if (p != null) await removeDir(p.dir)
    }
  })

  const invokeWith = async (token: string | undefined, body: string): Promise<{ status: number, text: string, ranOn: string | null }> => {
    const res = await http(`${c.url}/v1/functions/${echoId}`, { method: 'POST', body, type: 'application/octet-stream', headers: token != null ? { authorization: `Bearer ${token}` } : {} })
    return { status: res.status, text: res.text, ranOn: res.headers.get('x-dcis-ran-on') }
  }

  it('a caller both peers accept is forwarded and served by A', async () => {
    const r = await invokeWith(await signJwt(both, {}, { audience: cDid, expiresInSeconds: 300 }), 'hello')
    assert.equal(r.status, 200, r.text)
    assert.equal(r.text, 'hello')
    assert.equal(r.ranOn, a.id)
  })

  it('a caller only C accepts is refused by A (403), though C let it through', async () => {
    const r = await invokeWith(await signJwt(onlyC, {}, { audience: cDid, expiresInSeconds: 300 }), 'nope')
    assert.equal(r.status, 403, r.text)
    assert.equal(JSON.parse(r.text).error.code, 'FORBIDDEN')
    assert.ok(refused.some(m => m.includes('deploy')), refused.join('; '))
  })

  it('function scopes: a token naming the CID passes, one naming another function is refused', async () => {
    const r = await invokeWith(await signJwt(both, { scope: { functions: ['other', echoId] } }, { audience: cDid, expiresInSeconds: 300 }), 'x')
    assert.equal(r.status, 200, 'the scope names the CID: allowed')
    const narrow = await signJwt(both, { scope: { functions: [echoId] } }, { audience: cDid, expiresInSeconds: 300 })
    assert.equal((await invokeWith(narrow, 'y')).status, 200)
    const wrong = await signJwt(both, { scope: { functions: ['other'] } }, { audience: cDid, expiresInSeconds: 300 })
    assert.equal((await invokeWith(wrong, 'z')).status, 403, 'C refuses a token not scoped to this function')
  })

  it('the token field of an invoke header is validated', () => {
    const header = (token: unknown): Uint8Array => encodeHeader({ v: 1, id: echoId, name: 'echo', spec: { abi: 'wasi' }, token } as unknown as InvokeRequestHeader)
    assert.equal(decodeRequestHeader(header('a.b.c')).token, 'a.b.c')
    for (const bad of [7, '', 'has space', 'x'.repeat(8 * 1024 + 1), { a: 1 }]) {
      assert.throws(() => decodeRequestHeader(header(bad)), (err: Error & { field?: string }) => err.name === 'InvalidInvokeFrameError', JSON.stringify(bad).slice(0, 40))
    }
  })
})
