/**
 * Raft transport over libp2p (/dcis/raft/1.0.0): many groups multiplexed on
 * one stream per peer pair, bounded queues, back-pressure, validated frames.
 *
 *   const t = createRaftTransport({ libp2p, logger, metrics })
 *   await t.start()
 *   t.register(group, { isMember, deliver, unreachable })
 *   t.send(group, message, onSent?)
 *   await t.stop()
 */
import { RaftTransport } from './transport.js'
import type { TransportInit } from './transport.js'

export { RaftTransport, RAFT_PROTOCOL } from './transport.js'
export type { GroupEndpoint, TransportInit, TransportStats } from './transport.js'
export { encodeEnvelope, decodeEnvelope, MAX_FRAME_BYTES, MAX_ENTRIES_PER_MESSAGE, GROUP_ID_RE } from './codec.js'
export type { DecodedFrame } from './codec.js'
export { InvalidRaftFrameError, TransportStoppedError } from './errors.js'
export { createTransportMetrics } from './metrics.js'
export type { TransportMetrics } from './metrics.js'

export function createRaftTransport (init: TransportInit): RaftTransport {
  return new RaftTransport(init)
}
