import assert from 'node:assert/strict'
import { DescriptorRejectedError, SignatureCache, verifyDescriptor } from '../../src/registry/index.js'
import { flipSignatureBit, newIdentity, nowSeconds, signedEnd } from './fixtures.js'

describe('registry: signature cache', function () {
  it('a cached signature still goes through every other check', async function () {
    const a = await newIdentity()
    const b = await newIdentity()
    const jwt = await signedEnd(a)
    const cache = new SignatureCache()
    const first = await verifyDescriptor(jwt, { signatures: cache })
    assert.equal(cache.size, 1)
    const second = await verifyDescriptor(jwt, { signatures: cache })
    assert.deepEqual(second, first)
    // mutating a result does not poison the cache
    second.end.region = 'elsewhere'
    assert.equal((await verifyDescriptor(jwt, { signatures: cache })).end.region, first.end.region)
    // expiry, key and tampering are still checked on a cached signature
    await assert.rejects(verifyDescriptor(jwt, { signatures: cache, now: nowSeconds() + 86400 * 365 }), (e: unknown) => e instanceof DescriptorRejectedError && e.reason === 'expired')
    await assert.rejects(verifyDescriptor(jwt, { signatures: cache, expectedPeerId: b.peerId.toString() }), (e: unknown) => e instanceof DescriptorRejectedError && e.reason === 'key-mismatch')
    await assert.rejects(verifyDescriptor(flipSignatureBit(jwt), { signatures: cache }), (e: unknown) => e instanceof DescriptorRejectedError && e.reason === 'bad-signature')
    assert.equal(cache.size, 1, 'a failed signature is never cached')
  })

  it('is bounded, oldest first', async function () {
    const cache = new SignatureCache(2)
    const id = await newIdentity()
    const jwts = [await signedEnd(id), await signedEnd(id, { region: 'b' }), await signedEnd(id, { region: 'c' })]
    for (const j of jwts) await verifyDescriptor(j, { signatures: cache })
    assert.equal(cache.size, 2)
    assert.equal(cache.get(jwts[0]), undefined)
    assert.notEqual(cache.get(jwts[2]), undefined)
  })
})
