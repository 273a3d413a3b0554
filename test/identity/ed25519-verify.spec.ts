import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { verifyJWT } from 'did-jwt'
import { didKeyResolver, identityFromPrivateKey, signJwt, verifyJwt } from '../../src/identity/index.js'
import { verifyJwsEd25519 } from '../../src/identity/ed25519-verify.js'
import { createPrng } from '../../src/latency/prng.js'
import type { NodeIdentity } from '../../src/identity/index.js'

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** did-jwt's own verification (JavaScript Ed25519) as the reference */
async function reference (jwt: string): Promise<boolean> {
  try {
    await verifyJWT(jwt, { resolver: didKeyResolver(), policies: { nbf: false, iat: false, exp: false, aud: false } })
    return true
  } catch {
    return false
  }
}

async function native (jwt: string): Promise<boolean> {
  try {
    await verifyJwt(jwt, { clockSkewSeconds: 10 * 365 * 86400 })
    return true
  } catch {
    return false
  }
}

describe('identity: native Ed25519 JWS verification', () => {
  let alice: NodeIdentity
  let bob: NodeIdentity

  before(async () => {
    alice = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    bob = identityFromPrivateKey(await generateKeyPair('Ed25519'))
  })

  it('accepts what did-jwt signs, under the issuer key only', async () => {
    const jwt = await signJwt(alice, { n: 1 }, { expiresInSeconds: 60 })
    const sig = Buffer.from(jwt.split('.')[2], 'base64url')
    assert.equal(verifyJwsEd25519(jwt, alice.publicKey, sig), true)
    assert.equal(verifyJwsEd25519(jwt, bob.publicKey, sig), false)
    assert.equal(verifyJwsEd25519(jwt, alice.publicKey, sig.subarray(0, 63)), false)
    assert.equal(verifyJwsEd25519(jwt, alice.publicKey.subarray(0, 31), sig), false)
    assert.equal(verifyJwsEd25519('no-dot', alice.publicKey, sig), false)
  })

  it('a token re-issued under another DID fails with bad-signature', async () => {
    const jwt = await signJwt(alice, { n: 1 }, { expiresInSeconds: 60 })
    const [h, p, s] = jwt.split('.')
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>
    payload.iss = bob.did
    const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`
    await assert.rejects(verifyJwt(forged), (err: Error & { reason?: string }) => err.reason === 'bad-signature')
  })

  it('agrees with did-jwt on seeded random single-character mutations', async function () {
    this.timeout(60_000)
    const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31)
    const rng = createPrng(seed)
    const jwt = await signJwt(alice, { vc: { x: 'y'.repeat(200) } }, { expiresInSeconds: 600 })
    for (let i = 0; i < 150; i++) {
      const at = Math.floor(rng.next() * jwt.length)
      if (jwt[at] === '.') continue
      const ch = B64[Math.floor(rng.next() * B64.length)]
      const mutated = jwt.slice(0, at) + ch + jwt.slice(at + 1)
      assert.equal(await native(mutated), await reference(mutated), `seed ${seed}, position ${at}, char ${ch}`)
    }
  })
})
