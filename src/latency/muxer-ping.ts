import { raceSignal } from 'race-signal'
import type { AbortOptions, Connection } from '@libp2p/interface'

/**
 * A connection's stream multiplexer, when it can ping by itself (yamux
 * does: a PING frame on the muxer, answered by the remote muxer, no stream).
 * Not part of libp2p's public Connection type, so it is looked up and
 * checked at run time.
 */
interface PingingMuxer {
  status?: string
  ping: (options?: AbortOptions) => Promise<number>
}

/** the connection's muxer if it can ping without a stream, else undefined */
export function muxerOf (conn: Connection): PingingMuxer | undefined {
  const muxer = (conn as unknown as { muxer?: Partial<PingingMuxer> }).muxer
  return muxer != null && typeof muxer.ping === 'function' ? muxer as PingingMuxer : undefined
}

/**
 * Round trip over an open connection without opening a stream: a yamux
 * PING frame. Resolves with the RTT in ms, or undefined when the
 * connection's muxer cannot ping (the caller then uses /ipfs/ping).
 *
 * The muxer's ping is never aborted itself, only raced against the signal:
 * yamux forgets an aborted ping, and its late answer ("ping not requested")
 * would then fail the whole connection. A ping still in flight is shared by
 * later callers, so a lost answer makes them time out too (as it should).
 */
export async function muxerPing (conn: Connection, options: AbortOptions = {}): Promise<number | undefined> {
  const muxer = muxerOf(conn)
  if (muxer === undefined || conn.status !== 'open') return undefined
  return await raceSignal(muxer.ping(), options.signal)
}
