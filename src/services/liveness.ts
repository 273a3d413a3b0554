/**
 * Peer liveness with a grace period (the input of self-healing): a peer is
 * live while this peer has a connection to it; it is "gone" once it has had
 * none for longer than `graceMs`. Disconnections are timed from the
 * `peer:disconnect` event, so a short blip (a reconnect within the grace
 * period) never counts; a peer never seen since start is timed from start.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'

export type LivenessNetwork = Pick<Libp2p, 'peerId' | 'getPeers' | 'addEventListener' | 'removeEventListener'>

/** default grace period before a replica's peer counts as gone (ms) */
export const DEFAULT_REPAIR_GRACE_MS = 15_000

export class PeerLiveness {
  private readonly lastSeen = new Map<string, number>()
  private startedAt = 0
  private readonly self: string
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => { this.lastSeen.set(evt.detail.toString(), this.now()) }
  private readonly onConnect = (evt: CustomEvent<PeerId>): void => { this.lastSeen.set(evt.detail.toString(), this.now()) }

  constructor (private readonly net: LivenessNetwork, readonly graceMs: number = DEFAULT_REPAIR_GRACE_MS, private readonly now: () => number = Date.now) {
    this.self = net.peerId.toString()
  }

  start (): void {
    this.startedAt = this.now()
    this.net.addEventListener('peer:disconnect', this.onDisconnect)
    this.net.addEventListener('peer:connect', this.onConnect)
  }

  stop (): void {
    this.net.removeEventListener('peer:disconnect', this.onDisconnect)
    this.net.removeEventListener('peer:connect', this.onConnect)
  }

  private connected (): Set<string> {
    return new Set(this.net.getPeers().map(String))
  }

  /** connected now (or this peer itself) */
  isLive (peer: string, connected = this.connected()): boolean {
    if (peer === this.self || connected.has(peer)) {
      this.lastSeen.set(peer, this.now())
      return true
    }
    return false
  }

  /** ms since `peer` was last connected (0 while it is) */
  goneForMs (peer: string, connected = this.connected()): number {
    if (this.isLive(peer, connected)) return 0
    return Math.max(0, this.now() - (this.lastSeen.get(peer) ?? this.startedAt))
  }

  /** gone for longer than the grace period: its replicas may be replaced */
  isGone (peer: string, connected = this.connected()): boolean {
    return this.goneForMs(peer, connected) > this.graceMs
  }

  /** a snapshot of the connected set, to ask several questions consistently */
  snapshot (): Set<string> {
    return this.connected()
  }
}
