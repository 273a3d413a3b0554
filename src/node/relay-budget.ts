/**
 * The relay server's cap on total relayed bytes: admission control by
 * worst case. Every circuit the relay opens may carry at most its byte cap
 * (`nat.relayCircuitBytes`, both directions together; the relay resets it
 * beyond that), so a new circuit is admitted only while the caps of the
 * circuits opened within the last hour, plus its own, stay within
 * `nat.relayBytesPerHour`. The relay can then never move more than that
 * per hour, whatever the circuits carry. It also caps the circuits open
 * at once over all peers (`nat.relayMaxCircuits`; libp2p's own stream
 * limits are per connection). Used as libp2p's connection gater hook
 * `denyOutboundRelayedConnection`.
 */
export interface RelayBudgetInit {
  /** bytes per rolling hour; 0 = no cap */
  bytesPerHour: number
  /** circuits open at once, all peers together (default: no cap) */
  maxOpen?: number
  /** how many circuits are open now (set once libp2p exists) */
  open?: () => number
  /** the byte cap of one circuit */
  circuitBytes: number
  now?: () => number
  windowMs?: number
}

export class RelayBudget {
  private readonly opened: number[] = []
  private readonly now: () => number
  private readonly windowMs: number
  /** circuits refused since start */
  refused = 0
  /** circuits admitted since start */
  admitted = 0

  constructor (private readonly init: RelayBudgetInit) {
    this.now = init.now ?? Date.now
    this.windowMs = init.windowMs ?? 3_600_000
  }

  /** bytes the circuits of the current window may still carry at most */
  committed (): number {
    this.expire()
    return this.opened.length * this.init.circuitBytes
  }

  /** counts open circuits; set after libp2p is created */
  setOpenCounter (open: () => number): void {
    this.init.open = open
  }

  /** true = admit a new circuit (and count it), false = refuse */
  admit (): boolean {
    if (this.init.maxOpen != null && this.init.open != null && this.init.open() >= this.init.maxOpen) { this.refused++; return false }
    if (this.init.bytesPerHour <= 0) { this.admitted++; return true }
    if (this.committed() + this.init.circuitBytes > this.init.bytesPerHour) { this.refused++; return false }
    this.opened.push(this.now())
    this.admitted++
    return true
  }

  private expire (): void {
    const since = this.now() - this.windowMs
    while (this.opened.length > 0 && this.opened[0] <= since) this.opened.shift()
  }
}
