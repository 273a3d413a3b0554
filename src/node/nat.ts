/**
 * NAT traversal bookkeeping (docs/nat.md): what this peer's END says about
 * its reachability, what its connections are (direct or through a relay),
 * how many relayed connections were followed by a direct one (DCUtR hole
 * punching, or a direct dial that got through), the reservations it holds
 * and loses, and — behind NAT — dialling relays the registry lists when it
 * holds fewer reservations than configured. `GET /v1/nat` shows it.
 */
import { isPeerId } from '@libp2p/interface'
import { circuitRelayAddressesLast, isPrivate, loopbackAddressLast, publicAddressesFirst, reliableTransportsFirst, repeatingTask } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { NatConfig } from '../config/index.js'
import type { EndReachability, ReachabilityStatus } from '../registry/descriptor.js'
import type { EndRegistry } from '../registry/index.js'
import type { RelayBudget } from './relay-budget.js'
import type { Logger } from '../telemetry/index.js'
import type { Address, Connection, Libp2p, PeerId } from '@libp2p/interface'
import type { RepeatingTask } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

/** at most this many relayed addresses go into the END */
export const MAX_END_RELAYS = 8
const MAX_EVENTS = 64

export function isRelayed (ma: Multiaddr | string): boolean {
  return String(ma).includes('/p2p-circuit')
}

export interface NatEvent {
  /** ms since the epoch */
  at: number
  kind: 'reserved' | 'lost' | 'upgraded'
  /** the relay peer id (reserved/lost) or the remote peer (upgraded) */
  peer: string
}

export interface NatView {
  configured: NatConfig['reachability']
  reachability: EndReachability
  /** relays this peer holds a reservation on */
  reservations: string[]
  wantedReservations: number
  connections: { direct: number, relayed: number }
  /** relayed connections followed by a direct one to the same peer while the relayed one was open */
  upgradedToDirect: number
  /** relayed connections opened since start, both directions (each is a circuit on a relay) */
  relayedConnectionsOpened: number
  /** times the peer store's addresses of a relayed peer were set to its END's */
  relayedPeersRefreshed: number
  relayServer: { enabled: boolean, reservations: number | null, circuitsAdmitted: number | null, circuitsRefused: number | null }
  events: NatEvent[]
}

/** the relay server service's part we read (reservations of others on this peer) */
interface RelayServerLike { reservations: { size: number } }

export interface NatMonitorInit {
  config: NatConfig
  /** config `announce` was set: the operator says which addresses are public */
  announced: boolean
  relayBudget?: { current?: RelayBudget }
  logger: Logger
  /** how often reservations are checked against the wanted count (default 10 s) */
  intervalMs?: number
}

export class NatMonitor {
  private readonly libp2p: Libp2p
  private readonly init: NatMonitorInit
  private registry?: EndRegistry
  private task?: RepeatingTask
  private held = new Set<string>()
  private readonly events: NatEvent[] = []
  private upgrades = 0
  private relayedOpened = 0
  /** peer store entries of relayed peers set to their END's addresses */
  private refreshed = 0
  private readonly onOpen = (evt: CustomEvent<Connection>): void => { this.opened(evt.detail) }
  private readonly onUpdate = (): void => { this.refreshReservations() }
  /** a lost connection to a relayed peer: set its addresses right away, not at the next tick */
  private readonly onDisconnect = (): void => {
    this.refreshRelayedPeers().catch((err: Error) => { this.init.logger.debug({ err: err.message }, 'refreshing relayed peers failed') })
  }

  constructor (libp2p: Libp2p, init: NatMonitorInit) {
    this.libp2p = libp2p
    this.init = init
  }

  start (registry?: EndRegistry): void {
    if (this.task != null) return
    this.registry = registry
    this.libp2p.addEventListener('connection:open', this.onOpen)
    this.libp2p.addEventListener('self:peer:update', this.onUpdate)
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.refreshReservations()
    this.task = repeatingTask(async (options) => { await this.tick(options?.signal) }, this.init.intervalMs ?? 10_000, { timeout: 20_000 })
    this.task.start()
  }

  stop (): void {
    this.task?.stop()
    this.task = undefined
    this.libp2p.removeEventListener('connection:open', this.onOpen)
    this.libp2p.removeEventListener('self:peer:update', this.onUpdate)
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
  }

  /** relayed addresses of this peer (`/p2p/<relay>/p2p-circuit/p2p/<self>`) */
  relayAddrs (): string[] {
    return this.libp2p.getMultiaddrs().filter(isRelayed).map(String)
  }

  reachability (): EndReachability {
    const relays = this.relayAddrs().slice(0, MAX_END_RELAYS)
    const r: EndReachability = { status: this.status(relays.length > 0), relays }
    if (this.init.config.relayServer) r.relay = true
    return r
  }

  private status (hasRelays: boolean): ReachabilityStatus {
    const c = this.init.config.reachability
    if (c === 'public') return 'public'
    if (c === 'private') return hasRelays ? 'relayed' : 'unknown'
    // auto: announced addresses, or an address AutoNAT (or the interface) shows public
    if (this.init.announced) return 'public'
    const direct = this.libp2p.getMultiaddrs().filter(ma => !isRelayed(ma))
    if (direct.some(ma => isPrivate(ma) === false)) return 'public'
    return hasRelays ? 'relayed' : 'unknown'
  }

  view (): NatView {
    let direct = 0
    let relayed = 0
    for (const c of this.libp2p.getConnections()) {
      if (isRelayed(c.remoteAddr)) relayed++
      else direct++
    }
    const server = (this.libp2p.services as Record<string, unknown>).relay as RelayServerLike | undefined
    const budget = this.init.relayBudget?.current
    return {
      configured: this.init.config.reachability,
      reachability: this.reachability(),
      reservations: [...this.held].sort(),
      wantedReservations: this.init.config.reachability === 'private' ? this.init.config.reservations : 0,
      connections: { direct, relayed },
      upgradedToDirect: this.upgrades,
      relayedConnectionsOpened: this.relayedOpened,
      relayedPeersRefreshed: this.refreshed,
      relayServer: {
        enabled: this.init.config.relayServer,
        reservations: server?.reservations.size ?? null,
        circuitsAdmitted: budget?.admitted ?? null,
        circuitsRefused: budget?.refused ?? null
      },
      events: [...this.events]
    }
  }

  private note (kind: NatEvent['kind'], peer: string): void {
    this.events.push({ at: Date.now(), kind, peer })
    if (this.events.length > MAX_EVENTS) this.events.shift()
  }

  /** a direct connection to a peer we so far reached only through a relay */
  private opened (conn: Connection): void {
    if (isRelayed(conn.remoteAddr)) { this.relayedOpened++; return }
    const others = this.libp2p.getConnections(conn.remotePeer).filter(c => c !== conn)
    if (others.length > 0 && others.every(c => isRelayed(c.remoteAddr))) {
      this.upgrades++
      this.note('upgraded', conn.remotePeer.toString())
      this.init.logger.info({ peer: conn.remotePeer.toString() }, 'relayed connection upgraded to a direct one')
    }
  }

  private refreshReservations (): void {
    const now = new Set<string>()
    for (const a of this.relayAddrs()) {
      // /.../p2p/<relay>/p2p-circuit/p2p/<self>
      const m = a.match(/\/p2p\/([^/]+)\/p2p-circuit/)
      if (m != null) now.add(m[1])
    }
    for (const r of now) if (!this.held.has(r)) { this.note('reserved', r); this.init.logger.info({ relay: r }, 'relay reservation held') }
    for (const r of this.held) if (!now.has(r)) { this.note('lost', r); this.init.logger.info({ relay: r }, 'relay reservation gone') }
    this.held = now
  }

  /**
   * A peer reached through relays changes its relayed addresses when a relay
   * goes away; we learn the new ones from its signed END (gossip, within
   * seconds), but libp2p dials from the peer store, which still holds the
   * dead relay's address until identify runs again — over a connection that
   * can no longer be made. Worse, its private LAN addresses: a TCP dial to
   * another site's private address is rarely refused at once (on the
   * internet the SYN is dropped; in the lab the router's ICMP unreachable
   * is rate-limited), it waits until the dial times out, and libp2p dials
   * a peer's addresses one after the other, relayed ones last. So for
   * relayed peers we are not connected to, the peer store holds the END's
   * relayed addresses, plus its direct ones only where they are on one of
   * our own subnets (the same LAN).
   */
  private async refreshRelayedPeers (signal?: AbortSignal): Promise<void> {
    if (this.registry == null) return
    const self = this.libp2p.peerId.toString()
    const connected = new Set(this.libp2p.getPeers().map(p => p.toString()))
    for (const e of this.registry.list()) {
      if (signal?.aborted === true) return
      const end = e.end
      if (end.peerId === self || end.reachability?.status !== 'relayed' || connected.has(end.peerId)) continue
      try {
        const id = peerIdFromString(end.peerId)
        const want = dialableOf(end.multiaddrs, this.ownSubnets()).map(a => multiaddr(a))
        const have = await this.libp2p.peerStore.get(id).then(p => p.addresses.map(a => a.multiaddr.toString()), () => [] as string[])
        if (have.length === want.length && want.every(a => have.includes(a.toString()))) continue
        await this.libp2p.peerStore.patch(id, { multiaddrs: want })
        this.refreshed++
      } catch (err) {
        this.init.logger.debug({ peer: end.peerId, err: (err as Error).message }, 'could not refresh a relayed peer\'s addresses')
      }
    }
  }

  /** /24 prefixes ("10.1.2.") of this peer's own IPv4 addresses */
  private ownSubnets (): Set<string> {
    const out = new Set<string>()
    for (const ma of this.libp2p.getMultiaddrs()) {
      if (isRelayed(ma)) continue
      const m = ma.toString().match(/^\/ip4\/(\d+\.\d+\.\d+\.)\d+\//)
      if (m != null) out.add(m[1])
    }
    return out
  }

  /**
   * Behind NAT with fewer reservations than wanted: connect to relays the
   * registry lists (END reachability.relay) that we are not connected to;
   * the relay transport reserves on connected peers that speak the hop
   * protocol. Bootstrap peers are dialled by the federation keeper.
   */
  private async tick (signal?: AbortSignal): Promise<void> {
    this.refreshReservations()
    await this.refreshRelayedPeers(signal)
    const want = this.init.config.reachability === 'private' ? this.init.config.reservations : 0
    if (this.held.size >= want || this.registry == null) return
    const connected = new Set(this.libp2p.getPeers().map(p => p.toString()))
    const self = this.libp2p.peerId.toString()
    const relays = this.registry.list().filter(e => e.end.reachability?.relay === true && e.end.peerId !== self && !this.held.has(e.end.peerId) && !connected.has(e.end.peerId))
    for (const e of relays.slice(0, want - this.held.size + 1)) {
      if (signal?.aborted === true) return
      try {
        const addrs = e.end.multiaddrs.filter(a => !isRelayed(a)).map(a => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${e.end.peerId}`))
        if (addrs.length === 0) continue
        await this.libp2p.dial(addrs, { signal })
      } catch (err) {
        this.init.logger.debug({ relay: e.end.peerId, err: (err as Error).message }, 'dialling a registry relay failed')
      }
    }
  }
}

/**
 * The addresses worth dialling for a peer reached through relays: its
 * relayed ones, and its direct IPv4 ones only on one of `subnets` (/24
 * prefixes of our own addresses: the same LAN).
 */
export function dialableOf (addrs: string[], subnets: Set<string>): string[] {
  return addrs.filter(a => {
    if (isRelayed(a)) return true
    const m = a.match(/^\/ip4\/(\d+\.\d+\.\d+\.)\d+\//)
    return m != null && subnets.has(m[1])
  })
}

/**
 * The order libp2p dials a peer's addresses in: direct ones before relayed
 * ones, then (as libp2p's default) public before private, certified first,
 * TCP first, loopback last. libp2p's default puts public before relayed, and
 * a relayed address through a public relay counts as public: two peers behind
 * the same NAT, each holding a reservation, then talked through the relay
 * (two trips across the internet) instead of over their LAN.
 */
export function directFirstAddressSorter (a: Address, b: Address): -1 | 0 | 1 {
  return loopbackAddressLast(a.multiaddr, b.multiaddr) ||
    circuitRelayAddressesLast(a.multiaddr, b.multiaddr) ||
    publicAddressesFirst(a.multiaddr, b.multiaddr) ||
    (a.isCertified === b.isCertified ? 0 : a.isCertified ? -1 : 1) ||
    reliableTransportsFirst(a.multiaddr, b.multiaddr)
}

/** the open connection to reuse for a new stream: undefined when an unlimited one exists (libp2p picks it) */
export function limitedConnectionToReuse (connections: Connection[]): Connection | undefined {
  const open = connections.filter(c => c.status === 'open')
  if (open.length === 0 || open.some(c => c.limits == null)) return undefined
  // the oldest: every protocol converges on one circuit, later duplicates stay idle
  return open.reduce((a, b) => (b.timeline.open < a.timeline.open ? b : a))
}

/**
 * Makes `libp2p.dialProtocol(peerId, …, { runOnLimitedConnection: true })`
 * open its stream on an open limited (relayed) connection when the peer has
 * no other. libp2p reuses only unlimited connections (connection manager
 * `findExistingConnection`): each dial to a peer reached through a relay
 * built a new circuit (a hop and a stop stream on the relay, a Noise
 * handshake and yamux across two hops, identify and DCUtR on the new
 * connection) and, when its remote address equalled an open one's, threw it
 * away at the end. In the nat-sites lab a NAT'd peer opened ~20 circuits in
 * 70 s for 3 relayed peers. Under load such a dial took longer than the Raft
 * transport's (3 s) and the Raft forward's (5 s shared by the members) dial
 * budgets, every retry started a new circuit, and a voter behind the other
 * NAT stayed cut off from its leader for minutes (issue 19, the flaky
 * strong-service test). If the stream cannot be opened there (the circuit
 * is going away) it falls back to libp2p's dial.
 */
export function reuseLimitedConnections (node: Pick<Libp2p, 'dialProtocol' | 'getConnections'>): void {
  const dial = node.dialProtocol.bind(node)
  node.dialProtocol = async (peer, protocols, options = {}) => {
    if (options.runOnLimitedConnection === true && isPeerId(peer)) {
      const conn = limitedConnectionToReuse(node.getConnections(peer as PeerId))
      if (conn != null) {
        try {
          return await conn.newStream(protocols, options)
        } catch (err) {
          if (options.signal?.aborted === true) throw err
        }
      }
    }
    return await dial(peer, protocols, options)
  }
}
