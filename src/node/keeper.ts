import { repeatingTask } from '@libp2p/utils'
import type { Logger } from '../telemetry/index.js'
import type { Identify } from '@libp2p/identify'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { RepeatingTask } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface FederationKeeperInit {
  bootstrap: Multiaddr[]
  /** below this many connections the keeper dials; default 8 */
  targetConnections?: number
  intervalMs?: number
  /** longest back-off between attempts on one address, default 60 s */
  maxBackoffMs?: number
  /** least time between two self lookups in the DHT, default 15 s */
  lookupIntervalMs?: number
  /**
   * a lookup that teaches nothing new doubles the wait before the next one,
   * up to this (default 10 min); losing a connection or learning a peer
   * resets it. A small federation (fewer peers than the target) is then not
   * walked every 15 s forever.
   */
  maxLookupIntervalMs?: number
}

/** a connection this old whose peer has no recorded protocol is identified again */
const IDENTIFY_GRACE_MS = 45_000
/** ...at most this many times (a peer that speaks no protocol at all stays as it is) */
const MAX_REIDENTIFY = 3

/** addresses whose back-off the keeper remembers (oldest forgotten first) */
const MAX_BACKOFF_ENTRIES = 1024

/**
 * Keeps a peer attached to its federation: when it has fewer connections
 * than the target (at start, after a network blip, after the connection
 * monitor dropped peers that answered pings too slowly) it dials its
 * bootstrap peers, and then peers it already knows from the persistent peer
 * store, with exponential back-off per address. libp2p itself does not
 * redial discovered peers.
 */
export class FederationKeeper {
  private readonly libp2p: Libp2p
  private readonly log: Logger
  private readonly init: FederationKeeperInit
  private task?: RepeatingTask
  private readonly backoff = new Map<string, { until: number, delay: number }>()
  private lastLookup = 0
  private lookupWaitMs = 0
  private lastConnected = 0
  private lastKnown = 0
  /** connections whose peer's protocols are on record (see reidentify) */
  private readonly identified = new WeakSet<object>()
  private readonly reidentified = new WeakMap<object, number>()
  /** nothing to do before this (unless a connection is lost): skips the peer-store scan */
  private quietUntil = 0

  constructor (libp2p: Libp2p, log: Logger, init: FederationKeeperInit) {
    this.libp2p = libp2p
    this.log = log
    this.init = init
  }

  start (): void {
    if (this.task != null) return
    this.task = repeatingTask(async (options) => { await this.tick(options?.signal) }, this.init.intervalMs ?? 5_000, {
      runImmediately: true,
      timeout: 20_000
    })
    this.task.start()
  }

  stop (): void {
    this.task?.stop()
    this.task = undefined
  }

  private async selfLookup (signal?: AbortSignal): Promise<void> {
    const lookup = AbortSignal.any([signal ?? new AbortController().signal, AbortSignal.timeout(10_000)])
    try {
      for await (const peer of this.libp2p.peerRouting.getClosestPeers(this.libp2p.peerId.toMultihash().bytes, { signal: lookup })) {
        void peer
      }
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'self lookup ended')
    }
  }

  private ready (key: string, now: number): boolean {
    const b = this.backoff.get(key)
    return b == null || b.until <= now
  }

  private failed (key: string, now: number): void {
    const prev = this.backoff.get(key)?.delay ?? 1_000
    const delay = Math.min(this.init.maxBackoffMs ?? 60_000, prev * 2)
    this.backoff.delete(key)
    this.backoff.set(key, { until: now + delay * (0.8 + Math.random() * 0.4), delay })
    // bounded: a Map iterates in insertion order, the first key is the oldest
    while (this.backoff.size > MAX_BACKOFF_ENTRIES) this.backoff.delete(this.backoff.keys().next().value as string)
  }

  /**
   * Connections over which identify never completed (the peer store records
   * no protocol for the peer after IDENTIFY_GRACE_MS, longer than identify's
   * own 30 s timeout) are identified again.
   * libp2p does not retry a failed identify (e.g. timed out on a loaded box),
   * and without it no topology (gossipsub, kad-dht) ever uses the
   * connection: a peer whose only link is such a connection learnt nothing,
   * forever. Runs only while below the connection target.
   */
  private async reidentify (signal?: AbortSignal): Promise<void> {
    const identify = (this.libp2p as Libp2p<{ identify?: Identify }>).services.identify
    if (identify == null) return
    const now = Date.now()
    for (const conn of this.libp2p.getConnections()) {
      const tries = this.reidentified.get(conn) ?? 0
      if (this.identified.has(conn) || tries >= MAX_REIDENTIFY || conn.status !== 'open' || now - conn.timeline.open < IDENTIFY_GRACE_MS) continue
      let known = 0
      try {
        known = (await this.libp2p.peerStore.get(conn.remotePeer, { signal })).protocols.length
      } catch {
        // not in the peer store at all: identify never ran
      }
      if (known > 0) {
        // checked once per connection: no peer-store read at every tick
        this.identified.add(conn)
        continue
      }
      this.reidentified.set(conn, tries + 1)
      try {
        await identify.identify(conn, { signal: AbortSignal.any([signal ?? new AbortController().signal, AbortSignal.timeout(10_000)]) })
        this.log.info({ peer: conn.remotePeer.toString() }, 'identified a connection again (its first identify had failed)')
      } catch (err) {
        this.log.debug({ peer: conn.remotePeer.toString(), err: (err as Error).message }, 'identify again failed')
      }
    }
  }

  /** the wait before the next self lookup (exposed for tests) */
  get lookupIntervalMs (): number {
    return Math.max(this.lookupWaitMs, this.init.lookupIntervalMs ?? 15_000)
  }

  private async tick (signal?: AbortSignal): Promise<void> {
    const connected = new Set(this.libp2p.getPeers().map(p => p.toString()))
    const target = this.init.targetConnections ?? 8
    // a lost connection is news: look for peers again soon
    if (connected.size < this.lastConnected) {
      this.lookupWaitMs = 0
      this.quietUntil = 0
    }
    this.lastConnected = connected.size
    if (connected.size >= target) return
    await this.reidentify(signal)
    if (Date.now() < this.quietUntil) return
    const self = this.libp2p.peerId.toString()
    const now = Date.now()
    const dials: Array<{ key: string, addr: Multiaddr | PeerId }> = []
    for (const ma of this.init.bootstrap) {
      const id = ma.getComponents().find(c => c.name === 'p2p')?.value
      if (id == null || id === self || connected.has(id)) continue
      dials.push({ key: ma.toString(), addr: ma })
    }
    let known = 0
    if (connected.size + dials.length < target) {
      for (const peer of await this.libp2p.peerStore.all({ signal })) {
        const id = peer.id.toString()
        if (id === self || peer.addresses.length === 0) continue
        known++
        if (connected.has(id) || connected.size + dials.length >= target) continue
        dials.push({ key: id, addr: peer.id })
      }
    }
    const due = dials.filter(d => this.ready(d.key, now))
    if (connected.size > 0 && due.length === 0 && now - this.lastLookup > this.lookupIntervalMs) {
      // nothing known to dial: a DHT lookup of our own id walks towards our
      // neighbours and teaches the peer store (and the routing table) about them
      this.lastLookup = now
      await this.selfLookup(signal)
      let after = 0
      for (const peer of await this.libp2p.peerStore.all({ signal })) {
        if (!peer.id.equals(this.libp2p.peerId) && peer.addresses.length > 0) after++
      }
      const base = this.init.lookupIntervalMs ?? 15_000
      this.lookupWaitMs = after > Math.max(known, this.lastKnown)
        ? 0
        : Math.min(this.init.maxLookupIntervalMs ?? 600_000, Math.max(base, this.lookupWaitMs) * 2)
      this.lastKnown = after
      this.quietUntil = this.lastLookup + this.lookupIntervalMs
      return
    }
    if (due.length === 0 && connected.size > 0) {
      // everything known is connected or backing off: sleep until the first can be tried or the next lookup
      let next = this.lastLookup + this.lookupIntervalMs
      for (const d of dials) next = Math.min(next, this.backoff.get(d.key)?.until ?? now)
      this.quietUntil = next
      return
    }
    await Promise.all(due.map(async (d) => {
      try {
        await this.libp2p.dial(d.addr, { signal })
        this.backoff.delete(d.key)
      } catch (err) {
        this.failed(d.key, Date.now())
        this.log.debug({ addr: d.key, err: (err as Error).message }, 'federation dial failed')
      }
    }))
  }
}
