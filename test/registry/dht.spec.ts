/**
 * The kad-dht validator and selector for `/dcis-end/<peerId>`: a record is
 * stored or believed only if it is the key's peer's own valid descriptor;
 * among valid records the latest `iat` wins.
 */
import assert from 'node:assert/strict'
import { DescriptorRejectedError, END_NAMESPACE, endKey, endSelector, endValidator, peerIdFromEndKey } from '../../src/registry/index.js'
import { newIdentity, nowSeconds, resignedWith, signedEnd } from './fixtures.js'
import type { RejectReason } from '../../src/registry/index.js'
import type { NodeIdentity } from '../../src/identity/index.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('registry: DHT records', function () {
  let a: NodeIdentity
  let b: NodeIdentity
  let aJwt: string

  before(async function () {
    a = await newIdentity()
    b = await newIdentity()
    aJwt = await signedEnd(a)
  })

  describe('keys', function () {
    it('endKey is /dcis-end/<peerId> and round-trips', function () {
      const id = a.peerId.toString()
      assert.equal(END_NAMESPACE, 'dcis-end')
      assert.equal(new TextDecoder().decode(endKey(id)), `/dcis-end/${id}`)
      assert.equal(peerIdFromEndKey(endKey(id)), id)
    })

    it('peerIdFromEndKey refuses other namespaces, an empty id and overlong keys (key-mismatch)', function () {
      for (const k of ['/pk/abc', '/dcis-end/', 'dcis-end/abc', '/dcis-endx/abc', `/dcis-end/${'1'.repeat(129)}`, '']) {
        assert.throws(() => peerIdFromEndKey(enc(k)), (err: unknown) => err instanceof DescriptorRejectedError && err.reason === 'key-mismatch', k)
      }
    })
  })

  describe('validator', function () {
    function recording (): { validate: ReturnType<typeof endValidator>, seen: Array<[RejectReason, string]> } {
      const seen: Array<[RejectReason, string]> = []
      return { validate: endValidator({ onReject: (reason, source) => { seen.push([reason, source]) } }), seen }
    }

    async function refuses (key: Uint8Array, value: Uint8Array, reason: RejectReason): Promise<void> {
      const { validate, seen } = recording()
      await assert.rejects(validate(key, value), (err: unknown) => err instanceof DescriptorRejectedError && err.reason === reason)
      assert.deepEqual(seen, [[reason, 'dht']], 'the rejection is reported once with source dht')
    }

    it('accepts the key\'s peer\'s own valid descriptor and reports nothing', async function () {
      const { validate, seen } = recording()
      await validate(endKey(a.peerId.toString()), enc(aJwt))
      assert.deepEqual(seen, [])
      // works without hooks too
      await endValidator()(endKey(a.peerId.toString()), enc(aJwt))
    })

    it('refuses a genuine descriptor stored under another peer\'s key (key-mismatch)', async function () {
      await refuses(endKey(b.peerId.toString()), enc(aJwt), 'key-mismatch')
    })

    it('refuses a key outside the namespace (key-mismatch)', async function () {
      await refuses(enc('/dcis-end/'), enc(aJwt), 'key-mismatch')
    })

    it('refuses a forged descriptor of the victim signed by another key (bad-signature)', async function () {
      const forged = await resignedWith(aJwt, b, e => { e.region = 'attacker-land' })
      await refuses(endKey(a.peerId.toString()), enc(forged), 'bad-signature')
    })

    it('refuses expired, future, oversized and garbage values with their reasons', async function () {
      const key = endKey(a.peerId.toString())
      await refuses(key, enc(await signedEnd(a, { now: nowSeconds() - 3600, ttlSeconds: 60 })), 'expired')
      await refuses(key, enc(await signedEnd(a, { now: nowSeconds() + 3600 })), 'future')
      await refuses(key, new Uint8Array(16 * 1024 + 1).fill(0x61), 'oversized')
      await refuses(key, new Uint8Array([1, 2, 3, 0xff]), 'malformed')
      await refuses(key, new Uint8Array(0), 'malformed')
    })
  })

  describe('selector', function () {
    it('picks the record with the latest iat wherever it is', async function () {
      const t = nowSeconds()
      const old = enc(await signedEnd(a, { now: t - 20 }))
      const mid = enc(await signedEnd(a, { now: t - 10 }))
      const newest = enc(await signedEnd(a, { now: t }))
      const select = endSelector()
      const key = endKey(a.peerId.toString())
      assert.equal(select(key, [old, mid, newest]), 2)
      assert.equal(select(key, [newest, old, mid]), 0)
      assert.equal(select(key, [old, newest, mid]), 1)
      assert.equal(select(key, [mid]), 0)
    })

    it('never prefers an unparseable record over a parseable one', async function () {
      const select = endSelector()
      const key = endKey(a.peerId.toString())
      const good = enc(aJwt)
      assert.equal(select(key, [enc('garbage'), good]), 1)
      assert.equal(select(key, [good, enc('x.y.z'), new Uint8Array([0xff])]), 0)
    })

    it('on equal iat keeps the first', async function () {
      const t = nowSeconds()
      const one = enc(await signedEnd(a, { now: t, region: 'eu-west' }))
      const two = enc(await signedEnd(a, { now: t, region: 'us-east' }))
      assert.equal(endSelector()(endKey(a.peerId.toString()), [one, two]), 0)
    })
  })
})
