/**
 * Seeded property tests at the identity trust boundary: did:key round-trips,
 * and random or mutated DIDs/JWTs only ever fail with the typed errors.
 * fast-check prints the seed and the shrunk input on failure; replay with
 * FUZZ_SEED=<seed>.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import {
  didFromPublicKey,
  identityFromPrivateKey,
  InvalidDidError,
  JwtVerificationError,
  publicKeyFromDid,
  signJwt,
  verifyJwt
} from '../../src/identity/index.js'

const seed = process.env.FUZZ_SEED != null ? Number(process.env.FUZZ_SEED) : 20261127

describe(`identity: properties (seed ${seed})`, () => {
  it('didFromPublicKey / publicKeyFromDid round-trip any 32 bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (raw) => {
      const did = didFromPublicKey(raw)
      assert.ok(did.startsWith('did:key:z6Mk'))
      assert.deepEqual(publicKeyFromDid(did), raw)
    }), { seed, numRuns: 300 })
  })

  it('random strings and mutated DIDs fail only with InvalidDidError', () => {
    const good = didFromPublicKey(new Uint8Array(32).fill(9))
    const mutated = fc.tuple(fc.nat({ max: good.length - 1 }), fc.string({ minLength: 0, maxLength: 3 }))
      .map(([i, s]) => good.slice(0, i) + s + good.slice(i + 1))
    fc.assert(fc.property(fc.oneof(fc.string(), mutated), (did) => {
      try {
        const key = publicKeyFromDid(did)
        assert.equal(key.length, 32)
        assert.equal(didFromPublicKey(key), did) // anything accepted is canonical
      } catch (err) {
        assert.ok(err instanceof InvalidDidError, `unexpected ${String(err)} for ${JSON.stringify(did)}`)
      }
    }), { seed, numRuns: 500 })
  })

  it('any change to a signed JWT is rejected with a JwtVerificationError', async () => {
    const key = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(1))
    const id = identityFromPrivateKey(key)
    const jwt = await signJwt(id, { role: 'admin' }, { issuedAt: 1_800_000_000, expiresInSeconds: 600 })
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'
    await fc.assert(fc.asyncProperty(fc.nat({ max: jwt.length - 1 }), fc.nat({ max: alphabet.length - 1 }), async (i, c) => {
      const ch = alphabet[c]
      if (jwt[i] === ch) return
      const tampered = jwt.slice(0, i) + ch + jwt.slice(i + 1)
      try {
        await verifyJwt(tampered, { now: 1_800_000_100 })
      } catch (err) {
        assert.ok(err instanceof JwtVerificationError, `unexpected ${String(err)}`)
        return
      }
      // base64url has spare low bits in the last character of a part: a change there may decode
      // to the same bytes. Then the token is the same token, which is fine; anything else is not.
      assert.deepEqual(decodeParts(tampered), decodeParts(jwt), `tampered token accepted at index ${i}`)
    }), { seed, numRuns: 300 })
  })
})

function decodeParts (jwt: string): string[] {
  return jwt.split('.').map(p => Buffer.from(p, 'base64url').toString('hex'))
}
