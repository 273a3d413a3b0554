import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { base58btc } from 'multiformats/bases/base58'
import {
  didFromPublicKey,
  publicKeyFromDid,
  peerIdFromDid,
  didFromPeerId,
  didKeyResolver,
  InvalidDidError,
  UnsupportedKeyTypeError
} from '../../src/identity/index.js'

function hexToBytes (hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!.map(h => parseInt(h, 16)))
}

function didWithPrefix (prefix: number[], key: Uint8Array): string {
  return 'did:key:' + base58btc.encode(Uint8Array.from([...prefix, ...key]))
}

describe('identity: did:key', () => {
  it('matches the did:key spec test vector (Ed25519)', () => {
    // W3C CCG did:key test vector: public key and its DID
    const raw = base58btc.baseDecode('B12NYF8RrR3h41TDCTJojY59usg3mbtbjnFs7Eud1Y6u')
    const did = 'did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH'
    assert.equal(didFromPublicKey(raw), did)
    assert.deepEqual(publicKeyFromDid(did), raw)
  })

  it('round-trips keys and peer ids', async () => {
    for (let i = 0; i < 5; i++) {
      const key = await generateKeyPair('Ed25519')
      const peerId = peerIdFromPrivateKey(key)
      const did = didFromPeerId(peerId)
      assert.equal(did, didFromPublicKey(key.publicKey.raw))
      assert.ok(did.startsWith('did:key:z6Mk'))
      assert.deepEqual(publicKeyFromDid(did), key.publicKey.raw)
      assert.ok(peerIdFromDid(did).equals(peerId))
      assert.equal(peerIdFromDid(did).toString(), peerId.toString())
    }
  })

  it('refuses a DID of the wrong multicodec', async () => {
    const key = (await generateKeyPair('Ed25519')).publicKey.raw
    // x25519-pub (0xec) and secp256k1-pub (0xe7) prefixes
    for (const prefix of [[0xec, 0x01], [0xe7, 0x01]]) {
      assert.throws(() => publicKeyFromDid(didWithPrefix(prefix, key)), (err: unknown) => {
        assert.ok(err instanceof InvalidDidError)
        assert.equal(err.code, 'INVALID_DID')
        assert.match(err.message, /multicodec must be ed25519-pub/)
        return true
      })
    }
  })

  const bad: Array<[string, string]> = [
    ['did:web:example.com', 'not a did:key'],
    ['did:key:', 'base58btc'],
    ['did:key:f' + 'ed01'.padEnd(68, '0'), 'base58btc'],
    ['did:key:z0OIl', 'not valid base58btc'],
    ['did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH#z6Mk', 'DID URL'],
    ['not a did', 'not a did:key'],
    ['did:key:z' + 'z'.repeat(200), 'longer than']
  ]
  for (const [did, why] of bad) {
    it(`refuses ${JSON.stringify(did.slice(0, 40))} (${why})`, () => {
      assert.throws(() => publicKeyFromDid(did), (err: unknown) => {
        assert.ok(err instanceof InvalidDidError, String(err))
        assert.ok(err.message.includes(why), err.message)
        return true
      })
    })
  }

  it('refuses a key of the wrong length', () => {
    const short = didWithPrefix([0xed, 0x01], hexToBytes('00'.repeat(31)))
    const long = didWithPrefix([0xed, 0x01], hexToBytes('00'.repeat(33)))
    assert.throws(() => publicKeyFromDid(short), /must be 32 bytes, got 31/)
    assert.throws(() => publicKeyFromDid(long), /must be 32 bytes, got 33/)
  })

  it('didFromPeerId refuses non-Ed25519 peer ids', async () => {
    const peerId = peerIdFromPrivateKey(await generateKeyPair('secp256k1'))
    assert.throws(() => didFromPeerId(peerId), UnsupportedKeyTypeError)
  })

  it('the offline resolver builds a DID document from the key', async () => {
    const key = await generateKeyPair('Ed25519')
    const did = didFromPublicKey(key.publicKey.raw)
    const result = await didKeyResolver().resolve(did)
    const doc = result.didDocument
    assert.ok(doc != null)
    assert.equal(doc.id, did)
    const vm = doc.verificationMethod?.[0]
    assert.equal(vm?.type, 'Multikey')
    assert.equal(vm?.controller, did)
    assert.equal(vm?.publicKeyMultibase, did.slice('did:key:'.length))
    assert.deepEqual(doc.assertionMethod, [vm?.id])

    const bad = await didKeyResolver().resolve('did:web:example.com')
    assert.equal(bad.didDocument, null)
    assert.equal(bad.didResolutionMetadata.error, 'unsupportedDidMethod')
    const invalid = await didKeyResolver().resolve('did:key:zzzz')
    assert.equal(invalid.didResolutionMetadata.error, 'invalidDid')
  })
})
