/**
 * DHT records for descriptors: key `/dcis-end/<peerId>`, value = the END
 * VC-JWT (UTF-8). The validator runs on every record our DHT stores or
 * returns — including PUT_VALUE from remote peers — so a forged or stale
 * record is never stored; the selector picks the newest valid one.
 */
import { DescriptorRejectedError } from './errors.js'
import { peekIssuedAt, verifyDescriptor } from './vc.js'
import type { SignatureCache } from './vc.js'
import type { RejectReason } from './errors.js'

export const END_NAMESPACE = 'dcis-end'
const PREFIX = `/${END_NAMESPACE}/`

export function endKey (peerId: string): Uint8Array {
  return new TextEncoder().encode(`${PREFIX}${peerId}`)
}

export function peerIdFromEndKey (key: Uint8Array): string {
  const text = new TextDecoder().decode(key)
  if (!text.startsWith(PREFIX) || text.length === PREFIX.length || text.length > PREFIX.length + 128) {
    throw new DescriptorRejectedError('key-mismatch', `not a /${END_NAMESPACE}/<peerId> key`)
  }
  return text.slice(PREFIX.length)
}

export interface EndRecordHooks {
  /** called with the reason of every rejected record */
  onReject?: (reason: RejectReason, source: 'dht') => void
  /**
   * The iat of the newest verified descriptor this peer holds for a peer id.
   * kad-dht stores a remote PUT_VALUE after validation without consulting the
   * selector, so without this a replayed older (genuine) descriptor would
   * overwrite a newer record.
   */
  newestIat?: (peerId: string) => number | undefined
  /** the registry's signature memo, so a record it already verified is not checked again */
  signatures?: () => SignatureCache | undefined
}

/** kad-dht ValidateFn for the `dcis-end` namespace. */
export function endValidator (hooks: EndRecordHooks = {}): (key: Uint8Array, value: Uint8Array) => Promise<void> {
  return async (key, value) => {
    try {
      const peerId = peerIdFromEndKey(key)
      const { iat } = await verifyDescriptor(value, { expectedPeerId: peerId, signatures: hooks.signatures?.() })
      const newest = hooks.newestIat?.(peerId)
      if (newest != null && iat < newest) {
        throw new DescriptorRejectedError('stale', `iat ${iat} is older than the descriptor held (iat ${newest})`)
      }
    } catch (err) {
      if (err instanceof DescriptorRejectedError) hooks.onReject?.(err.reason, 'dht')
      throw err
    }
  }
}

/** kad-dht SelectFn: the record with the latest `iat` (records were validated already). */
export function endSelector (): (key: Uint8Array, records: Uint8Array[]) => number {
  return (_key, records) => {
    let best = 0
    let bestIat = -Infinity
    records.forEach((rec, i) => {
      const iat = peekIssuedAt(new TextDecoder().decode(rec))
      if (iat > bestIat) { best = i; bestIat = iat }
    })
    return best
  }
}
