/**
 * verifyDescriptor: a good END VC-JWT verifies; every bad input is refused
 * with its own reason, whatever path it came by.
 */
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import {
  DescriptorRejectedError,
  MAX_DESCRIPTOR_BYTES,
  signDescriptor,
  verifyDescriptor,
  peekIssuedAt
} from '../../src/registry/index.js'
import { identityFromPrivateKey, signJwt } from '../../src/identity/index.js'
import { issueCredential } from '../../src/identity/federation/index.js'
import { flipSignatureBit, makeEnd, newIdentity, nowSeconds, payloadOf, prng, resignedWith, signRaw, signedEnd, testSeed } from './fixtures.js'
import type { EdgeNodeDescriptor, RejectReason } from '../../src/registry/index.js'
import type { NodeIdentity } from '../../src/identity/index.js'

async function rejects (input: string | Uint8Array, reason: RejectReason, options: Parameters<typeof verifyDescriptor>[1] = {}, messageMatch?: RegExp): Promise<void> {
  await assert.rejects(verifyDescriptor(input, options), (err: unknown) => {
    assert.ok(err instanceof DescriptorRejectedError, `expected DescriptorRejectedError, got ${String(err)}`)
    assert.equal(err.reason, reason, `reason of: ${err.message}`)
    assert.equal(err.code, 'DESCRIPTOR_REJECTED')
    assert.equal(err.name, 'DescriptorRejectedError')
    if (messageMatch != null) assert.match(err.message, messageMatch)
    return true
  })
}

/** Signs an END (possibly schema-invalid) as a proper VC-JWT of `id`. */
async function signAny (id: NodeIdentity, mutate: (end: Record<string, unknown>) => void, now = nowSeconds()): Promise<string> {
  const end = makeEnd(id, { now }) as unknown as Record<string, unknown>
  mutate(end)
  return signDescriptor(id, end as unknown as EdgeNodeDescriptor)
}

describe('registry: verifyDescriptor', function () {
  let a: NodeIdentity
  let b: NodeIdentity
  let good: string

  before(async function () {
    a = await newIdentity()
    b = await newIdentity()
    good = await signedEnd(a)
  })

  it('accepts a good descriptor (string and UTF-8 bytes) and returns END, iat, exp', async function () {
    const v = await verifyDescriptor(good)
    assert.equal(v.end.peerId, a.peerId.toString())
    assert.equal(v.end.id, a.did)
    assert.equal(v.jwt, good)
    assert.equal(v.exp - v.iat, 600)
    assert.equal(v.iat, Math.floor(Date.parse(v.end.issuedAt) / 1000))
    assert.equal(peekIssuedAt(good), v.iat)
    const fromBytes = await verifyDescriptor(new TextEncoder().encode(good), { expectedPeerId: a.peerId.toString() })
    assert.deepEqual(fromBytes.end, v.end)
    const p = payloadOf(good)
    assert.equal(p.iss, a.did)
    assert.equal(p.sub, a.did)
    assert.deepEqual((p.vc as { type: string[] }).type, ['VerifiableCredential', 'EdgeNodeDescriptor'])
  })

  describe('forged signatures', function () {
    it('rejects a flipped bit in any of several signature bytes (bad-signature)', async function () {
      for (const [i, bit] of [[0, 0], [31, 7], [32, 3], [63, 6]]) {
        await rejects(flipSignatureBit(good, i, bit), 'bad-signature')
      }
    })

    it('rejects the payload re-signed by ANOTHER key with iss kept (bad-signature)', async function () {
      await rejects(await resignedWith(good, b), 'bad-signature')
      // and the attacker's edit makes no difference
      await rejects(await resignedWith(good, b, e => { e.region = 'us-east'; e.cpu.cores = 4096 }), 'bad-signature')
    })

    it('rejects a payload edited under the original signature (bad-signature)', async function () {
      const [h, , s] = good.split('.')
      const p = payloadOf(good) as { vc: { credentialSubject: EdgeNodeDescriptor } }
      p.vc.credentialSubject.memory.totalMb = 1 << 20
      const edited = `${h}.${Buffer.from(JSON.stringify(p)).toString('base64url')}.${s}`
      await rejects(edited, 'bad-signature')
    })

    it('rejects a signature of the wrong length and alg "none"', async function () {
      const [h, p] = good.split('.')
      await rejects(`${h}.${p}.${Buffer.alloc(32).toString('base64url')}`, 'bad-signature')
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.${Buffer.alloc(64, 1).toString('base64url')}`
      await rejects(none, 'malformed')
    })

    it('rejects an issuer that is not a did:key (unsupported-did)', async function () {
      const p = payloadOf(good)
      await rejects(await signRaw(a.privateKey, { ...p, iss: 'did:web:evil.example' }), 'unsupported-did')
      await rejects(await signRaw(a.privateKey, { ...p, iss: 'did:key:zNotAKey' }), 'unsupported-did')
    })
  })

  describe('identity binding', function () {
    it('rejects an END whose id (and sub) is another DID than the issuer (issuer-mismatch)', async function () {
      await rejects(await signAny(a, e => { e.id = b.did }), 'issuer-mismatch')
      // sub alone differing from iss
      const p = payloadOf(good)
      await rejects(await signRaw(a.privateKey, { ...p, sub: b.did }), 'issuer-mismatch')
    })

    it('rejects an END whose peerId belongs to another key (peer-mismatch)', async function () {
      await rejects(await signAny(a, e => { e.peerId = b.peerId.toString() }), 'peer-mismatch')
    })

    it('rejects a genuine descriptor offered as another peer\'s (key-mismatch)', async function () {
      await rejects(good, 'key-mismatch', { expectedPeerId: b.peerId.toString() })
      await verifyDescriptor(good, { expectedPeerId: a.peerId.toString() })
    })
  })

  describe('time', function () {
    const now = 1_800_000_000

    it('rejects an expired descriptor; tolerates the skew allowance at the boundary', async function () {
      // exp = now - 31: expired beyond the default 30 s skew
      const expired = await signedEnd(a, { now: now - 631, ttlSeconds: 600 })
      await rejects(expired, 'expired', { now })
      await rejects(await signedEnd(a, { now: now - 7200, ttlSeconds: 60 }), 'expired', { now })
      // exp = now - 30 is the last second refused, now - 29 still accepted
      await rejects(await signedEnd(a, { now: now - 630 }), 'expired', { now })
      await verifyDescriptor(await signedEnd(a, { now: now - 629 }), { now })
      // a smaller skew refuses it
      await rejects(await signedEnd(a, { now: now - 605 }), 'expired', { now, skewSeconds: 0 })
    })

    it('rejects a descriptor from the future beyond the skew; accepts within it', async function () {
      await rejects(await signedEnd(a, { now: now + 3600 }), 'future', { now })
      await rejects(await signedEnd(a, { now: now + 31 }), 'future', { now })
      await verifyDescriptor(await signedEnd(a, { now: now + 30 }), { now })
      await verifyDescriptor(await signedEnd(a, { now: now + 5 }), { now, skewSeconds: 10 })
      await rejects(await signedEnd(a, { now: now + 11 }), 'future', { now, skewSeconds: 10 })
    })

    it('rejects missing or inconsistent iat/exp (malformed)', async function () {
      const p = payloadOf(good)
      const { exp: _exp, ...noExp } = p
      await rejects(await signRaw(a.privateKey, noExp), 'malformed')
      await rejects(await signRaw(a.privateKey, { ...p, exp: p.iat }), 'malformed')
      await rejects(await signRaw(a.privateKey, { ...p, iat: 'yesterday' }), 'malformed')
    })
  })

  describe('schema', function () {
    const cases: Array<[string, (e: Record<string, unknown>) => void, RegExp]> = [
      ['an extra top-level field', e => { e.admin = true }, /additional/],
      ['an extra nested field', e => { (e.cpu as Record<string, unknown>).turbo = true }, /\/cpu/],
      ['a bad region', e => { e.region = 'EU West' }, /\/region/],
      ['an overlong zone', e => { e.zone = 'z'.repeat(64) }, /\/zone/],
      ['negative memory', e => { e.memory = { totalMb: -1 } }, /\/memory\/totalMb/],
      ['zero cores', e => { e.cpu = { cores: 0, model: 'x' } }, /\/cpu\/cores/],
      ['fractional cores', e => { e.cpu = { cores: 1.5, model: 'x' } }, /\/cpu\/cores/],
      ['an unknown runtime', e => { e.runtimes = ['wasi', 'docker'] }, /\/runtimes/],
      ['trust claimed as attested', e => { e.trust = { level: 10, source: 'credential' } }, /\/trust\/source/],
      ['trust above 10', e => { e.trust = { level: 11, source: 'self-asserted' } }, /\/trust\/level/],
      ['a missing field', e => { delete e.capacity }, /capacity/],
      ['a bad peerId text', e => { e.peerId = 'QmNotAnEd25519PeerIdAtAllxxxxxxxxxxxxxxxxxxxxxx' }, /\/peerId/],
      ['five credentials', e => { e.credentials = ['a.b.c', 'a.b.c', 'a.b.c', 'a.b.c', 'a.b.c'] }, /\/credentials/],
      ['a load memory fraction above 1', e => { e.load = { cpu: 0, memory: 1.5 } }, /\/load\/memory/],
      ['a bad accelerator kind', e => { e.accelerators = [{ kind: 'quantum', model: 'q', count: 1, source: 'config' }] }, /\/accelerators/]
    ]
    for (const [what, mutate, field] of cases) {
      it(`rejects ${what} (schema, naming the field)`, async function () {
        await rejects(await signAny(a, mutate), 'schema', {}, field)
      })
    }

    it('rejects a bad issuedAt or expiresAt (schema; signed raw, as signDescriptor cannot sign it)', async function () {
      const p = payloadOf(good) as { vc: { credentialSubject: Record<string, unknown> } }
      p.vc.credentialSubject.issuedAt = 'yesterday'
      await rejects(await signRaw(a.privateKey, p), 'schema', {}, /\/issuedAt/)
      const q = payloadOf(good) as { vc: { credentialSubject: Record<string, unknown> } }
      q.vc.credentialSubject.expiresAt = '2026-13-40T25:00:00Z'
      await rejects(await signRaw(a.privateKey, q), 'schema', {}, /\/expiresAt/)
    })

    it('rejects a credentialSubject that is not an object (schema)', async function () {
      const p = payloadOf(good) as { vc: Record<string, unknown> }
      await rejects(await signRaw(a.privateKey, { ...p, vc: { ...p.vc, credentialSubject: 'hello' } }), 'schema')
      await rejects(await signRaw(a.privateKey, { ...p, vc: { ...p.vc, credentialSubject: null } }), 'schema')
    })
  })

  describe('size and shape', function () {
    it('rejects more than 16 KiB before parsing (oversized), as string and bytes', async function () {
      const big = 'x'.repeat(MAX_DESCRIPTOR_BYTES + 1)
      await rejects(big, 'oversized')
      await rejects(new Uint8Array(MAX_DESCRIPTOR_BYTES + 1), 'oversized')
      // multi-byte characters count in bytes, not UTF-16 units
      await rejects('é'.repeat(MAX_DESCRIPTOR_BYTES / 2 + 1), 'oversized')
    })

    it('rejects a properly signed descriptor over 16 KiB (oversized); refuses to sign one', async function () {
      const end = makeEnd(a)
      end.latency = { pad: 'p'.repeat(MAX_DESCRIPTOR_BYTES) }
      await assert.rejects(signDescriptor(a, end), (err: unknown) => err instanceof DescriptorRejectedError && err.reason === 'oversized')
      const p = payloadOf(good) as { vc: { credentialSubject: EdgeNodeDescriptor } }
      p.vc.credentialSubject.latency = { pad: 'p'.repeat(MAX_DESCRIPTOR_BYTES) }
      const jwt = await signRaw(a.privateKey, p)
      assert.ok(jwt.length > MAX_DESCRIPTOR_BYTES)
      await rejects(jwt, 'oversized')
    })

    it('rejects a plain JWT and a federation credential (not-a-descriptor)', async function () {
      await rejects(await signJwt(a, { hello: 'world' }, { expiresInSeconds: 60, subject: a.did }), 'not-a-descriptor')
      const p = payloadOf(good) as { vc: Record<string, unknown> }
      await rejects(await signRaw(a.privateKey, { ...p, vc: { ...p.vc, type: ['VerifiableCredential'] } }), 'not-a-descriptor')
      await rejects(await signRaw(a.privateKey, { ...p, vc: { ...p.vc, type: 'EdgeNodeDescriptor' } }), 'not-a-descriptor')
      const cred = await issueCredential(a, { subject: b.did, federation: 'local', trustLevel: 3 })
      await rejects(cred, 'not-a-descriptor')
    })

    it('rejects garbage: empty, text, two parts, bad base64url, non-JSON, invalid UTF-8, random bytes (malformed)', async function () {
      const [h, p, s] = good.split('.')
      const inputs: Array<string | Uint8Array> = [
        '',
        'hello',
        `${h}.${p}`,
        `${h}.${p}.${s}.${s}`,
        `${h}..${s}`,
        `${h}.${p}!.${s}`,
        `${Buffer.from('not json').toString('base64url')}.${p}.${s}`,
        `${h}.${Buffer.from('[1,2]').toString('base64url')}.${s}`,
        `${h}.${Buffer.from([0xff, 0xfe, 0xfd]).toString('base64url')}.${s}`,
        new Uint8Array([0xff, 0x00, 0x2e, 0x2e, 0xc3]),
        new Uint8Array(0)
      ]
      for (const input of inputs) await rejects(input, 'malformed')
    })

    it('rejects every seeded random mutation of a good descriptor, or verifies it unchanged', async function () {
      const seed = testSeed()
      const rnd = prng(seed)
      const bytes = new TextEncoder().encode(good)
      const original = (await verifyDescriptor(good)).end
      try {
        for (let i = 0; i < 150; i++) {
          const m = bytes.slice()
          const edits = 1 + Math.floor(rnd() * 3)
          for (let k = 0; k < edits; k++) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256)
          try {
            const v = await verifyDescriptor(m)
            assert.deepEqual(v.end, original, 'a mutation verified with a different END')
          } catch (err) {
            assert.ok(err instanceof DescriptorRejectedError, `mutation ${i}: ${String(err)}`)
          }
        }
      } catch (err) {
        console.error(`registry vc fuzz failed with seed ${seed} (rerun with DCIS_TEST_SEED=${seed})`)
        throw err
      }
    })
  })

  it('a descriptor signed by a key from generateKeyPair verifies for that key only', async function () {
    const c = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    const jwt = await signedEnd(c)
    await verifyDescriptor(jwt, { expectedPeerId: c.peerId.toString() })
    await rejects(jwt, 'key-mismatch', { expectedPeerId: a.peerId.toString() })
  })
})
