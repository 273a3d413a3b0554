/**
 * An END verifier that shares no code with src/identity: did-jwt's own
 * `verifyJWT` with its default claim policies (exp, nbf, iat), a
 * `did-resolver` Resolver and a did:key method written here from the
 * did:key spec (multibase base58btc, multicodec 0xed01 = Ed25519 public key,
 * an Ed25519VerificationKey2018 method with publicKeyBase58). The peer id is
 * derived from the same key with @libp2p/peer-id, not our helpers.
 */
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { verifyJWT } from 'did-jwt'
import { Resolver } from 'did-resolver'
import { base58btc } from 'multiformats/bases/base58'
import type { DIDResolutionResult, ParsedDID } from 'did-resolver'

function keyFromDidKey (id: string): Uint8Array | null {
  let bytes: Uint8Array
  try {
    bytes = base58btc.decode(id)
  } catch {
    return null
  }
  // varint(0xed) = 0xed 0x01, then the 32-byte Ed25519 public key
  if (bytes.length !== 34 || bytes[0] !== 0xed || bytes[1] !== 0x01) return null
  return bytes.subarray(2)
}

async function resolveDidKey (did: string, parsed: ParsedDID): Promise<DIDResolutionResult> {
  const key = keyFromDidKey(parsed.id)
  if (key == null) {
    return { didResolutionMetadata: { error: 'invalidDid', message: 'not an Ed25519 did:key' }, didDocument: null, didDocumentMetadata: {} }
  }
  const vm = `${did}#${parsed.id}`
  return {
    didResolutionMetadata: { contentType: 'application/did+ld+json' },
    didDocument: {
      '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/suites/ed25519-2018/v1'],
      id: did,
      verificationMethod: [{
        id: vm,
        type: 'Ed25519VerificationKey2018',
        controller: did,
        // publicKeyBase58 is plain base58btc, without the multibase 'z'
        publicKeyBase58: base58btc.baseEncode(key)
      }],
      authentication: [vm],
      assertionMethod: [vm]
    },
    didDocumentMetadata: {}
  }
}

export const independentResolver = new Resolver({ key: resolveDidKey })

export interface IndependentResult {
  issuer: string
  peerIdOfIssuer: string
  payload: Record<string, unknown>
}

/** Throws unless did-jwt accepts the JWT; returns the issuer and the peer id of its key. */
export async function independentVerify (jwt: string): Promise<IndependentResult> {
  const v = await verifyJWT(jwt, { resolver: independentResolver })
  const parsedId = v.issuer.startsWith('did:key:') ? v.issuer.slice('did:key:'.length) : ''
  const key = keyFromDidKey(parsedId)
  if (key == null) throw new Error(`issuer ${v.issuer} is not an Ed25519 did:key`)
  return {
    issuer: v.issuer,
    peerIdOfIssuer: peerIdFromPublicKey(publicKeyFromRaw(key)).toString(),
    payload: v.payload as Record<string, unknown>
  }
}
