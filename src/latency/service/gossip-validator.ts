/**
 * The topic validator for `dcis/latency/1`. Every inbound message passes, in
 * order: signed by its sender (StrictSign; the sender is `msg.from`), at most
 * `maxBytes`, within the sender's token bucket, UTF-8 JSON, and the
 * estimator's validation of a latency state. A message that passes is handed
 * to `accept` (validated once) and Accepted, so gossipsub forwards it; a
 * malformed one is Rejected; a rate-limited one is Ignored (dropped, not
 * forwarded, not penalised). Every drop is reported to `onDrop` with its
 * reason. Never throws.
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { SenderRateLimiter } from './token-bucket.js'
import type { LatencyState, StateLimits } from '../state.js'
import { validateRemoteState } from '../state.js'
import type { Message } from '@libp2p/gossipsub'

export type DropReason = 'unsigned' | 'oversized' | 'rate-limited' | 'not-json' | 'self' | string

export interface GossipValidatorInit {
  selfId: string
  limits: Readonly<StateLimits>
  maxBytes: number
  limiter: SenderRateLimiter
  now: () => number
  accept: (from: string, state: LatencyState) => void
  onDrop: (reason: DropReason, from: string | undefined, detail?: string) => void
}

export function createGossipValidator (init: GossipValidatorInit): (peer: unknown, msg: Message) => TopicValidatorResult {
  const decoder = new TextDecoder('utf-8', { fatal: true })
  return (_peer, msg) => {
    if (msg.type !== 'signed') {
      init.onDrop('unsigned', undefined)
      return TopicValidatorResult.Reject
    }
    const from = msg.from.toString()
    if (from === init.selfId) {
      // our own message relayed back; nothing to learn
      return TopicValidatorResult.Ignore
    }
    if (msg.data.byteLength > init.maxBytes) {
      init.onDrop('oversized', from, `${msg.data.byteLength} bytes > ${init.maxBytes}`)
      return TopicValidatorResult.Reject
    }
    if (!init.limiter.take(from, init.now())) {
      init.onDrop('rate-limited', from)
      return TopicValidatorResult.Ignore
    }
    let json: unknown
    try {
      json = JSON.parse(decoder.decode(msg.data))
    } catch (err) {
      init.onDrop('not-json', from, (err as Error).message)
      return TopicValidatorResult.Reject
    }
    const check = validateRemoteState(json, init.limits)
    if (!check.ok) {
      init.onDrop(check.code, from, check.message)
      return TopicValidatorResult.Reject
    }
    init.accept(from, check.state)
    return TopicValidatorResult.Accept
  }
}
