import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createJWT, EdDSASigner, ES256KSigner } from 'did-jwt'
import { base58btc } from 'multiformats/bases/base58'
import {
  identityFromPrivateKey,
  signJwt,
  verifyJwt,
  JwtVerificationError
} from '../../src/identity/index.js'
import type { JwtFailureReason, NodeIdentity } from '../../src/identity/index.js'
import { didKeyResolver } from '../../src/identity/did-resolver.js'

async function rejectsWith (p: Promise<unknown>, reason: JwtFailureReason): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof JwtVerificationError, String(err))
    assert.equal(err.code, 'JWT_VERIFICATION_FAILED')
    assert.equal(err.reason, reason, err.message)
    return true
  })
}

function b64urlJson (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

describe('identity: JWT', () => {
  let alice: NodeIdentity
  let bob: NodeIdentity
  const T0 = 1_800_000_000

  before(async () => {
    alice = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    bob = identityFromPrivateKey(await generateKeyPair('Ed25519'))
  })

  it('signs on native Ed25519 exactly what did-jwt\'s createJWT signs (byte for byte), and did-jwt verifies it', async () => {
    const { verifyJWT } = await import('did-jwt')
    const cases: Array<[Record<string, unknown>, Parameters<typeof signJwt>[2]]> = [
      [{ role: 'admin', n: 1, nested: { a: [1, 'é', null] } }, { issuedAt: T0, subject: alice.did, expiresInSeconds: 300, audience: bob.did }],
      [{ iss: 'did:key:zOther', exp: 5, x: 'y' }, { issuedAt: T0 }],
      [{}, { issuedAt: T0 + 1 }]
    ]
    for (const [payload, options] of cases) {
      const ours = await signJwt(alice, payload, options)
      const claims: Record<string, unknown> = { ...payload, iat: options?.issuedAt }
      if (options?.expiresInSeconds != null) claims.exp = (options.issuedAt as number) + options.expiresInSeconds
      if (options?.audience != null) claims.aud = options.audience
      if (options?.subject != null) claims.sub = options.subject
      const kid = `${alice.did}#${alice.did.slice('did:key:'.length)}`
      const theirs = await createJWT(claims, { issuer: alice.did, signer: EdDSASigner(alice.privateKey.raw) }, { alg: 'EdDSA', typ: 'JWT', kid })
      assert.equal(ours, theirs)
    }
    const jwt = await signJwt(alice, { k: 1 }, { issuedAt: Math.floor(Date.now() / 1000) })
    const verified = await verifyJWT(jwt, { resolver: didKeyResolver() })
    assert.equal(verified.issuer, alice.did)
  })

  it('a signed JWT verifies and names its issuer', async () => {
    const jwt = await signJwt(alice, { role: 'admin', n: 1 }, { subject: alice.did, expiresInSeconds: 300 })
    const header = JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString())
    assert.equal(header.alg, 'EdDSA')
    const { payload, issuer, signer, peerId } = await verifyJwt(jwt)
    assert.equal(issuer, alice.did)
    assert.equal(payload.iss, alice.did)
    assert.equal(payload.sub, alice.did)
    assert.equal(payload.role, 'admin')
    assert.equal(typeof payload.iat, 'number')
    assert.equal(payload.exp, (payload.iat as number) + 300)
    assert.equal(signer.controller, alice.did)
    assert.ok(peerId.equals(alice.peerId))
  })

  it('iss is always the signer DID', async () => {
    const jwt = await signJwt(alice, { iss: bob.did })
    assert.equal((await verifyJwt(jwt)).issuer, alice.did)
  })

  it('a tampered payload fails (bad-signature)', async () => {
    const jwt = await signJwt(alice, { role: 'reader' })
    const [h, p, s] = jwt.split('.')
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString())
    payload.role = 'admin'
    await rejectsWith(verifyJwt([h, b64urlJson(payload), s].join('.')), 'bad-signature')
  })

  it('a tampered signature fails (bad-signature)', async () => {
    const jwt = await signJwt(alice, { role: 'reader' })
    const [h, p, s] = jwt.split('.')
    const sig = Buffer.from(s, 'base64url')
    for (const i of [0, 31, 63]) {
      const t = Buffer.from(sig)
      t[i] ^= 0x80
      await rejectsWith(verifyJwt([h, p, t.toString('base64url')].join('.')), 'bad-signature')
    }
    await rejectsWith(verifyJwt([h, p, sig.subarray(0, 40).toString('base64url')].join('.')), 'bad-signature')
  })

  it('a token re-issued under another DID fails (bad-signature)', async () => {
    const jwt = await signJwt(alice, { role: 'admin' })
    const [h, p, s] = jwt.split('.')
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString())
    payload.iss = bob.did
    await rejectsWith(verifyJwt([h, b64urlJson(payload), s].join('.')), 'bad-signature')
  })

  it('an expired token fails; within the clock skew it passes', async () => {
    const jwt = await signJwt(alice, {}, { expiresInSeconds: 60, issuedAt: T0 })
    await verifyJwt(jwt, { now: T0 + 30, clockSkewSeconds: 0 })
    await rejectsWith(verifyJwt(jwt, { now: T0 + 60, clockSkewSeconds: 0 }), 'expired')
    await rejectsWith(verifyJwt(jwt, { now: T0 + 1000 }), 'expired')
    await verifyJwt(jwt, { now: T0 + 61, clockSkewSeconds: 5 })
  })

  it('requireExpiry refuses tokens without exp', async () => {
    const forever = await signJwt(alice, {})
    await verifyJwt(forever)
    await rejectsWith(verifyJwt(forever, { requireExpiry: true }), 'malformed')
    await verifyJwt(await signJwt(alice, {}, { expiresInSeconds: 60 }), { requireExpiry: true })
  })

  it('a token from the future fails (not-yet-valid)', async () => {
    const jwt = await signJwt(alice, {}, { issuedAt: T0 })
    await rejectsWith(verifyJwt(jwt, { now: T0 - 600 }), 'not-yet-valid')
    await verifyJwt(jwt, { now: T0 - 30 })
    const nbf = await signJwt(alice, { nbf: T0 + 1000 }, { issuedAt: T0 })
    await rejectsWith(verifyJwt(nbf, { now: T0 + 10 }), 'not-yet-valid')
    await verifyJwt(nbf, { now: T0 + 1000 })
  })

  it('a wrong audience fails (wrong-audience)', async () => {
    const jwt = await signJwt(alice, {}, { audience: bob.did })
    assert.equal((await verifyJwt(jwt, { audience: bob.did })).payload.aud, bob.did)
    await rejectsWith(verifyJwt(jwt, { audience: alice.did }), 'wrong-audience')
    await rejectsWith(verifyJwt(jwt), 'wrong-audience')
    const multi = await signJwt(alice, {}, { audience: ['x', bob.did] })
    await verifyJwt(multi, { audience: bob.did })
  })

  it('malformed tokens fail (malformed)', async () => {
    const good = await signJwt(alice, {})
    const [h, p, s] = good.split('.')
    const cases = [
      '',
      'abc',
      'a.b',
      `${h}.${p}.${s}.x`,
      `${h}..${s}`,
      `${h}.${p}.${s}!`,
      `${b64urlJson('str')}.${p}.${s}`,
      `${h}.${b64urlJson([1, 2])}.${s}`,
      `${h}.${Buffer.from('{not json').toString('base64url')}.${s}`,
      `${h}.${b64urlJson({ role: 'x' })}.${s}`,
      // correctly signed, but exp is not a NumericDate
      await signJwt(alice, { exp: 'soon' }),
      'a'.repeat(70_000)
    ]
    for (const jwt of cases) {
      await rejectsWith(verifyJwt(jwt), 'malformed')
    }
    await rejectsWith(verifyJwt(42 as unknown as string), 'malformed')
  })

  it('a non-did:key issuer fails (unsupported-did), as does a did:key of another key type', async () => {
    const signer = EdDSASigner(alice.privateKey.raw)
    const web = await createJWT({}, { issuer: 'did:web:example.com', signer }, { alg: 'EdDSA' })
    await rejectsWith(verifyJwt(web), 'unsupported-did')
    const x25519 = 'did:key:' + base58btc.encode(Uint8Array.from([0xec, 0x01, ...alice.publicKey]))
    const other = await createJWT({}, { issuer: x25519, signer }, { alg: 'EdDSA' })
    await rejectsWith(verifyJwt(other), 'unsupported-did')
  })

  it('another algorithm fails (unsupported-algorithm)', async () => {
    const signer = ES256KSigner(new Uint8Array(32).fill(7))
    const jwt = await createJWT({}, { issuer: alice.did, signer }, { alg: 'ES256K' })
    await rejectsWith(verifyJwt(jwt), 'unsupported-algorithm')
    const [, p, s] = (await signJwt(alice, {})).split('.')
    await rejectsWith(verifyJwt(`${b64urlJson({ alg: 'none', typ: 'JWT' })}.${p}.${s}`), 'unsupported-algorithm')
  })

  it('signJwt validates its options', async () => {
    await assert.rejects(signJwt(alice, {}, { expiresInSeconds: -1 }), RangeError)
    await assert.rejects(signJwt(alice, {}, { expiresInSeconds: 1.5 }), RangeError)
  })
})
