/**
 * /dcis/raft/1.0.0: one long-lived outbound stream per remote peer carrying
 * length-prefixed Envelope frames for every Raft group (multiplexed by
 * `group`). Sending is fire-and-forget (Raft tolerates loss): each peer has a
 * bounded queue; when it is full the oldest MsgApp/heartbeat is dropped.
 * Frames queued in the same event-loop turn (every group's Ready of that
 * turn) are coalesced: the pump starts on the next turn (setImmediate) and
 * writes everything queued as one buffer with one `stream.send()`, i.e. one
 * yamux data frame, one Noise message and one socket write per peer per turn
 * instead of one per Raft message (the profile showed socket writes, Noise
 * and yamux window updates per frame as the leader's largest cost).
 * Back-pressure: when `stream.send()` returns false the pump waits for drain.
 * A failed stream is re-dialled with backoff. Inbound frames are decoded,
 * validated, and delivered only if the remote peer (authenticated by Noise)
 * is the message's `from` and a member of the group.
 */
import * as lp from 'it-length-prefixed'
import { MessageType } from '../core/index.js'
import type { Message } from '../core/index.js'
import { decodeEnvelope, encodeEnvelope, MAX_FRAME_BYTES } from './codec.js'
import { dialPeer } from '../../registry/dial.js'
import type { InvalidRaftFrameError } from './errors.js'
import type { TransportMetrics } from './metrics.js'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Logger } from '../../telemetry/index.js'

export const RAFT_PROTOCOL = '/dcis/raft/1.0.0'

export interface GroupEndpoint {
  /** peers allowed to send to this group (voters, learners) */
  isMember: (peer: string) => boolean
  deliver: (m: Message) => void
  /** the stream to `peer` failed: the driver tells the core (reportUnreachable) */
  unreachable?: (peer: string) => void
  /** libp2p closed the last connection to `peer` (a quiesced group wakes up) */
  peerDown?: (peer: string) => void
}

export interface TransportInit {
  libp2p: Libp2p
  logger: Logger
  metrics?: TransportMetrics
  /** frames queued per peer before the oldest droppable one is discarded (default 4096) */
  maxQueue?: number
  dialTimeoutMs?: number
  /** known addresses of a peer (e.g. from the registry) when the peer store has none */
  addressesOf?: (peer: string) => string[]
}

interface Frame {
  /** the encoded Envelope, without its length prefix */
  bytes: Uint8Array
  droppable: boolean
  group: string
  onSent?: (ok: boolean) => void
}

export interface TransportStats {
  sent: number
  received: number
  dropped: number
  badFrames: number
  rejected: number
}

const DROPPABLE = new Set([MessageType.MsgApp, MessageType.MsgHeartbeat, MessageType.MsgHeartbeatResp, MessageType.MsgAppResp])

/** bytes written per stream.send() at most (frames beyond wait for the next pass) */
const MAX_BATCH_BYTES = 1024 * 1024

function varintLength (n: number): number {
  let len = 1
  while (n >= 0x80) { n = Math.floor(n / 128); len++ }
  return len
}

/** Length-prefixes (unsigned varint, as it-length-prefixed) and concatenates `frames` into one buffer. */
export function concatFrames (frames: Array<{ bytes: Uint8Array }>): Uint8Array {
  let total = 0
  for (const f of frames) total += varintLength(f.bytes.byteLength) + f.bytes.byteLength
  const out = new Uint8Array(total)
  let at = 0
  for (const f of frames) {
    let n = f.bytes.byteLength
    while (n >= 0x80) { out[at++] = (n & 0x7f) | 0x80; n = Math.floor(n / 128) }
    out[at++] = n
    out.set(f.bytes, at)
    at += f.bytes.byteLength
  }
  return out
}

class PeerLink {
  queue: Frame[] = []
  stream?: Stream
  pumping = false
  /** a pump pass is scheduled for the next turn */
  scheduled = false
  backoffMs = 0
  constructor (readonly peer: string) {}
}

export class RaftTransport {
  private readonly groups = new Map<string, GroupEndpoint>()
  private readonly links = new Map<string, PeerLink>()
  private readonly inbound = new Set<Stream>()
  private readonly maxQueue: number
  private readonly dialTimeoutMs: number
  private shutdown = new AbortController()
  private running = false
  readonly stats: TransportStats = { sent: 0, received: 0, dropped: 0, badFrames: 0, rejected: 0 }

  constructor (private readonly init: TransportInit) {
    this.maxQueue = init.maxQueue ?? 4096
    this.dialTimeoutMs = init.dialTimeoutMs ?? 3000
  }

  get selfId (): string {
    return this.init.libp2p.peerId.toString()
  }

  async start (): Promise<void> {
    if (this.running) return
    this.shutdown = new AbortController()
    await this.init.libp2p.handle(RAFT_PROTOCOL, async (stream, connection) => {
      await this.readLoop(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 256, runOnLimitedConnection: true })
    this.init.libp2p.addEventListener('peer:disconnect', this.onPeerDisconnect)
    this.running = true
  }

  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    for (const ep of this.groups.values()) {
      try { ep.peerDown?.(peer) } catch (err) { this.init.logger.debug({ peer, err: (err as Error).message }, 'raft peerDown handler failed') }
    }
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.shutdown.abort()
    this.init.libp2p.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    await this.init.libp2p.unhandle(RAFT_PROTOCOL).catch(() => {})
    for (const link of this.links.values()) {
      for (const f of link.queue) f.onSent?.(false)
      link.queue = []
      link.stream?.abort(new Error('transport stopped'))
    }
    this.links.clear()
    for (const s of this.inbound) s.abort(new Error('transport stopped'))
    this.inbound.clear()
  }

  register (group: string, ep: GroupEndpoint): void {
    this.groups.set(group, ep)
  }

  unregister (group: string): void {
    this.groups.delete(group)
  }

  /** Queue `m` for its `to` peer. `onSent` learns whether it was written (for MsgSnap reporting). */
  send (group: string, m: Message, onSent?: (ok: boolean) => void): void {
    if (!this.running) { onSent?.(false); return }
    let link = this.links.get(m.to)
    if (link === undefined) {
      link = new PeerLink(m.to)
      this.links.set(m.to, link)
    }
    const frame: Frame = { bytes: encodeEnvelope(group, m), droppable: DROPPABLE.has(m.type), group, onSent }
    link.queue.push(frame)
    if (link.queue.length > this.maxQueue) {
      let i = link.queue.findIndex(f => f.droppable)
      if (i < 0) i = 0
      const [gone] = link.queue.splice(i, 1)
      gone.onSent?.(false)
      this.stats.dropped++
      this.init.metrics?.frames.inc({ dir: 'out', result: 'dropped' })
    }
    if (!link.pumping && !link.scheduled) {
      link.scheduled = true
      const l = link
      setImmediate(() => {
        l.scheduled = false
        if (l.pumping) return
        this.pump(l).catch((err: unknown) => { this.init.logger.warn({ peer: l.peer, err: (err as Error)?.message }, 'raft send loop failed') })
      })
    }
  }

  private async pump (link: PeerLink): Promise<void> {
    link.pumping = true
    const signal = this.shutdown.signal
    try {
      while (link.queue.length > 0 && !signal.aborted) {
        if (link.stream === undefined || link.stream.status !== 'open' || link.stream.writeStatus !== 'writable') {
          if (link.backoffMs > 0) await sleep(link.backoffMs, signal)
          try {
            link.stream = await this.dial(link.peer, signal)
            link.backoffMs = 0
          } catch (err) {
            if (signal.aborted) break
            link.backoffMs = Math.min(Math.max(link.backoffMs * 2, 50), 2000)
            this.init.logger.debug({ peer: link.peer, err: (err as Error).message }, 'raft dial failed')
            this.failQueued(link)
            continue
          }
        }
        let n = 0
        let bytes = 0
        while (n < link.queue.length && (n === 0 || bytes + link.queue[n].bytes.byteLength <= MAX_BATCH_BYTES)) bytes += link.queue[n++].bytes.byteLength
        const batch = link.queue.splice(0, n)
        const stream = link.stream
        try {
          if (!stream.send(concatFrames(batch))) await stream.onDrain({ signal })
          for (const f of batch) {
            f.onSent?.(true)
            this.stats.sent++
          }
          this.init.metrics?.frames.inc({ dir: 'out', result: 'sent' }, batch.length)
        } catch (err) {
          this.init.logger.debug({ peer: link.peer, err: (err as Error).message }, 'raft stream failed')
          stream.abort(err as Error)
          link.stream = undefined
          for (const f of batch) f.onSent?.(false)
          this.reportUnreachable(link.peer, batch)
        }
      }
    } finally {
      link.pumping = false
    }
  }

  /** Dial failed: drop what is queued (Raft resends), tell the groups. */
  private failQueued (link: PeerLink): void {
    const q = link.queue
    link.queue = []
    for (const f of q) f.onSent?.(false)
    this.stats.dropped += q.length
    this.init.metrics?.frames.inc({ dir: 'out', result: 'dropped' }, q.length)
    this.reportUnreachable(link.peer, q)
  }

  private reportUnreachable (peer: string, frames: Frame[]): void {
    const groups = new Set(frames.map(f => f.group))
    for (const g of groups) this.groups.get(g)?.unreachable?.(peer)
  }

  private async dial (peer: string, signal: AbortSignal): Promise<Stream> {
    const s = AbortSignal.any([signal, AbortSignal.timeout(this.dialTimeoutMs)])
    const stream = await dialPeer(this.init.libp2p, peer, RAFT_PROTOCOL, () => this.init.addressesOf?.(peer) ?? [], s)
    // the outbound stream is write-only; a raft stream may be idle between groups' activity
    stream.inactivityTimeout = 0
    return stream
  }

  private async readLoop (stream: Stream, remote: string): Promise<void> {
    this.inbound.add(stream)
    stream.inactivityTimeout = 0
    const self = this.selfId
    try {
      for await (const buf of lp.decode(stream, { maxDataLength: MAX_FRAME_BYTES })) {
        this.stats.received++
        this.accept(buf.subarray(), remote, self)
      }
    } catch (err) {
      if ((err as Error).name === 'InvalidDataLengthError' || (err as Error).name === 'InvalidDataLengthLengthError') {
        this.stats.badFrames++
        this.init.metrics?.frames.inc({ dir: 'in', result: 'bad-frame' })
      }
      this.init.logger.debug({ remote, err: (err as Error).message }, 'raft inbound stream ended')
      stream.abort(err as Error)
    } finally {
      this.inbound.delete(stream)
    }
  }

  /** One inbound frame: decode, validate, authorise, deliver. Never throws. */
  accept (bytes: Uint8Array, remote: string, self: string = this.selfId): boolean {
    let frame
    try {
      frame = decodeEnvelope(bytes, self)
    } catch (err) {
      this.stats.badFrames++
      this.init.metrics?.frames.inc({ dir: 'in', result: 'bad-frame' })
      this.init.logger.debug({ remote, field: (err as InvalidRaftFrameError).field, err: (err as Error).message }, 'bad raft frame dropped')
      return false
    }
    const ep = this.groups.get(frame.group)
    if (ep === undefined || frame.message.from !== remote || !ep.isMember(remote)) {
      this.stats.rejected++
      this.init.metrics?.frames.inc({ dir: 'in', result: 'rejected' })
      return false
    }
    this.init.metrics?.frames.inc({ dir: 'in', result: 'accepted' })
    try {
      ep.deliver(frame.message)
    } catch (err) {
      this.stats.badFrames++
      this.init.logger.debug({ remote, err: (err as Error).message }, 'raft message refused by the core')
      return false
    }
    return true
  }
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const t = setTimeout(done, ms)
    function done (): void {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
