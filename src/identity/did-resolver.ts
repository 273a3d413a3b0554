/**
 * An offline resolver for did:key (Ed25519 only). The DID document is built
 * from the key inside the DID itself; nothing touches the network. It has the
 * shape did-jwt's `verifyJWT` wants (`{ resolve(didUrl) }`).
 */
import type { JWTVerified, JWTVerifyOptions } from 'did-jwt'
import { publicKeyFromDid } from './did-key.js'
import { InvalidDidError } from './errors.js'

export type DidResolver = NonNullable<JWTVerifyOptions['resolver']>
export type DidResolutionResult = JWTVerified['didResolutionResult']
export type DidDocument = NonNullable<DidResolutionResult['didDocument']>

const DID_JSON = 'application/did+json'

/** The DID document of an Ed25519 did:key, with one Multikey verification method. */
export function didKeyDocument (did: string): DidDocument {
  publicKeyFromDid(did) // validates; throws InvalidDidError
  const multibase = did.slice('did:key:'.length)
  const vmId = `${did}#${multibase}`
  return {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
    id: did,
    verificationMethod: [{
      id: vmId,
      type: 'Multikey',
      controller: did,
      publicKeyMultibase: multibase
    }],
    authentication: [vmId],
    assertionMethod: [vmId],
    capabilityInvocation: [vmId],
    capabilityDelegation: [vmId]
  }
}

/** `didKeyResolver().resolve('did:key:z6Mk…')` -> a DID resolution result, never a network call. */
export function didKeyResolver (): DidResolver {
  return {
    async resolve (didUrl: string): Promise<DidResolutionResult> {
      const did = typeof didUrl === 'string' ? didUrl.split(/[#?/]/, 1)[0] : ''
      if (!did.startsWith('did:key:')) {
        return failure('unsupportedDidMethod', `only did:key is resolved offline, got ${JSON.stringify(did.slice(0, 40))}`)
      }
      try {
        return {
          didResolutionMetadata: { contentType: DID_JSON },
          didDocument: didKeyDocument(did),
          didDocumentMetadata: {}
        }
      } catch (err) {
        if (err instanceof InvalidDidError) {
          return failure('invalidDid', err.reason)
        }
        throw err
      }
    }
  }
}

function failure (error: string, message: string): DidResolutionResult {
  return {
    didResolutionMetadata: { error, message },
    didDocument: null,
    didDocumentMetadata: {}
  }
}
