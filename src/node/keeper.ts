import { repeatingTask } from '@libp2p/utils'
import type { Logger } from '../telemetry/index.js'
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
}

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
    this.backoff.set(key, { until: now + delay * (0.8 + Math.random() * 0.4), delay })
  }

  private async tick (signal?: AbortSignal): Promise<void> {
    const connected = new Set(this.libp2p.getPeers().map(p => p.toString()))
    const target = this.init.targetConnections ?? 8
    if (connected.size >= target) return
    const self = this.libp2p.peerId.toString()
    const now = Date.now()
    const dials: Array<{ key: string, addr: Multiaddr | PeerId }> = []
    for (const ma of this.init.bootstrap) {
      const id = ma.getComponents().find(c => c.name === 'p2p')?.value
      if (id == null || id === self || connected.has(id)) continue
      dials.push({ key: ma.toString(), addr: ma })
    }
    if (connected.size + dials.length < target) {
      for (const peer of await this.libp2p.peerStore.all({ signal })) {
        const id = peer.id.toString()
        if (id === self || connected.has(id) || peer.addresses.length === 0) continue
        dials.push({ key: id, addr: peer.id })
        if (connected.size + dials.length >= target) break
      }
    }
    const due = dials.filter(d => this.ready(d.key, now))
    if (connected.size > 0 && due.length === 0 && now - this.lastLookup > (this.init.lookupIntervalMs ?? 15_000)) {
      // nothing known to dial: a DHT lookup of our own id walks towards our
      // neighbours and teaches the peer store (and the routing table) about them
      this.lastLookup = now
      await this.selfLookup(signal)
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
