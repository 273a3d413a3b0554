/**
 * EmulatedTcp: @libp2p/tcp with an emulated WAN link under every connection.
 *
 * The wrapping point is the Upgrader. @libp2p/tcp builds its
 * MultiaddrConnection from the net.Socket and then calls
 * `options.upgrader.upgradeOutbound(maConn)` (dial) or
 * `upgrader.upgradeInbound(maConn)` (listener, with the upgrader it was given
 * in createListener). We hand tcp a proxy upgrader whose two upgrade methods
 * first turn the raw maConn into an EmulatedLinkConnection (preamble exchange,
 * then delayed sends) and then call the real upgrader with it. Everything
 * above (multistream-select, noise, yamux, every protocol) therefore runs over
 * the delayed link, in both directions, and tcp itself is used unmodified.
 */
import { serviceCapabilities, transportSymbol } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createJitter } from './jitter.js'
import { EmulatedLinkConnection } from './link-connection.js'
import { fromComponentLogger } from './log.js'
import type { Scheduler } from './delay-queue.js'
import type { EmulatorLog } from './log.js'
import type { LinkFaults } from './faults.js'
import type { DelayTable } from './matrix.js'
import type {
  ClearableSignal, ConnectionEncrypter, Connection, CounterGroup, CreateListenerOptions, DialTransportOptions,
  InboundConnectionUpgradeEvents, Listener, MultiaddrConnection, OutboundConnectionUpgradeEvents,
  StreamMuxerFactory, Transport, Upgrader, UpgraderOptions, UpgraderWithoutEncryptionOptions
} from '@libp2p/interface'
import type { TCPComponents, TCPDialEvents, TCPOptions } from '@libp2p/tcp'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface EmulatedTcpSettings {
  region: string
  /** this peer's site for link faults (default: the region) */
  site: string
  /** RTTs between regions; no added delay without one */
  table?: DelayTable
  /** link faults in force (partitions, one-way loss, extra delay) */
  faults?: LinkFaults
  jitterMs: number
  seed: number
  handshakeTimeoutMs: number
  maxQueuedBytes: number
  scheduler: Scheduler
  logger?: EmulatorLog
  onLink?: (info: LinkInfo) => void
}

/** Reported once per connection after the preamble exchange. */
export interface LinkInfo {
  direction: 'inbound' | 'outbound'
  remoteAddr: Multiaddr
  remoteRegion: string
  remoteSite: string
  /** delay applied to this side's outbound bytes (before jitter) */
  oneWayDelayMs: number
}

export class EmulatedTcp implements Transport<TCPDialEvents> {
  readonly [transportSymbol] = true as const
  readonly [Symbol.toStringTag] = '@dcis/emulated-tcp'
  readonly [serviceCapabilities]: string[] = ['@libp2p/transport']

  private readonly inner: Transport<TCPDialEvents>
  private readonly settings: EmulatedTcpSettings
  private readonly log: EmulatorLog
  private readonly warnedRegions = new Set<string>()
  /** dcis_link_emulator_events_total{event=open|rejected_<reason>|unknown_region} via libp2p's metrics, when configured */
  private readonly events?: CounterGroup
  private links = 0

  constructor (components: TCPComponents, settings: EmulatedTcpSettings, tcpInit: TCPOptions = {}) {
    this.inner = tcp(tcpInit)(components) as Transport<TCPDialEvents>
    this.settings = settings
    this.log = settings.logger ?? fromComponentLogger(components.logger, 'dcis:latency:emulator')
    this.events = components.metrics?.registerCounterGroup('dcis_link_emulator_events_total', {
      label: 'event',
      help: 'Link emulator events: links opened, connections rejected by reason, unknown regions'
    })
    if (settings.table != null && !settings.table.has(settings.region)) this.warnUnknown(settings.region, 'local')
  }

  readonly listenFilter = (multiaddrs: Multiaddr[]): Multiaddr[] => this.inner.listenFilter(multiaddrs)
  readonly dialFilter = (multiaddrs: Multiaddr[]): Multiaddr[] => this.inner.dialFilter(multiaddrs)

  async dial (ma: Multiaddr, options: DialTransportOptions<TCPDialEvents>): Promise<Connection> {
    return this.inner.dial(ma, { ...options, upgrader: this.wrapUpgrader(options.upgrader) })
  }

  createListener (options: CreateListenerOptions): Listener {
    return this.inner.createListener({ ...options, upgrader: this.wrapUpgrader(options.upgrader) })
  }

  private wrapUpgrader (upgrader: Upgrader): Upgrader {
    return new LinkOpeningUpgrader(upgrader, async (maConn, signal) => this.openLink(maConn, signal))
  }

  private async openLink (maConn: MultiaddrConnection, signal: AbortSignal): Promise<EmulatedLinkConnection> {
    const s = this.settings
    const linkNo = this.links++
    try {
      const link = await EmulatedLinkConnection.open(maConn, {
        localRegion: s.region,
        localSite: s.site,
        faults: s.faults,
        oneWayDelayMs: (remote) => this.oneWayDelayMs(remote),
        jitter: createJitter(s.jitterMs, s.seed, linkNo),
        scheduler: s.scheduler,
        handshakeTimeoutMs: s.handshakeTimeoutMs,
        maxQueuedBytes: s.maxQueuedBytes
      }, { signal })
      this.log.debug({ direction: maConn.direction, remoteAddr: maConn.remoteAddr.toString(), remoteRegion: link.remoteRegion, remoteSite: link.remoteSite, oneWayDelayMs: link.oneWayDelayMs }, 'emulated link open')
      this.events?.increment({ open: true })
      s.onLink?.({ direction: maConn.direction, remoteAddr: maConn.remoteAddr, remoteRegion: link.remoteRegion, remoteSite: link.remoteSite, oneWayDelayMs: link.oneWayDelayMs })
      return link
    } catch (err) {
      const e = err as Error & { code?: string, reason?: string }
      this.events?.increment({ [`rejected_${e.reason ?? e.name}`]: true })
      this.log.warn({ direction: maConn.direction, remoteAddr: maConn.remoteAddr.toString(), error: e.name, code: e.code, reason: e.reason, detail: e.message }, 'emulated link rejected: connection closed')
      throw err
    }
  }

  private oneWayDelayMs (remoteRegion: string): number {
    const table = this.settings.table
    if (table == null) return 0
    const d = table.oneWayMs(this.settings.region, remoteRegion)
    if (d !== undefined) return d
    if (!table.has(remoteRegion)) this.warnUnknown(remoteRegion, 'remote')
    else if (table.has(this.settings.region)) this.warnUnknownPair(remoteRegion)
    return 0
  }

  private warnUnknownPair (remoteRegion: string): void {
    const key = `${this.settings.region}\u0000${remoteRegion}`
    if (this.warnedRegions.has(key)) return
    this.warnedRegions.add(key)
    this.log.warn({ from: this.settings.region, to: remoteRegion }, 'RTT matrix entry is null (unknown): this pair gets no emulated delay')
  }

  private warnUnknown (region: string, side: 'local' | 'remote'): void {
    if (this.warnedRegions.has(region)) return
    this.warnedRegions.add(region)
    this.events?.increment({ unknown_region: true })
    this.log.warn({ region, side, regions: this.settings.table?.regions() ?? [] }, 'region not in the RTT matrix: its links get no emulated delay')
  }
}

type OpenLink = (maConn: MultiaddrConnection, signal: AbortSignal) => Promise<MultiaddrConnection>

/** The real upgrader, fed the emulated link instead of the raw TCP connection. */
class LinkOpeningUpgrader implements Upgrader {
  private readonly upgrader: Upgrader
  private readonly openLink: OpenLink

  constructor (upgrader: Upgrader, openLink: OpenLink) {
    this.upgrader = upgrader
    this.openLink = openLink
  }

  upgradeOutbound (maConn: MultiaddrConnection, opts: UpgraderOptions<OutboundConnectionUpgradeEvents>): Promise<Connection>
  upgradeOutbound (maConn: MultiaddrConnection, opts: UpgraderWithoutEncryptionOptions): Promise<Connection>
  async upgradeOutbound (maConn: MultiaddrConnection, opts: UpgraderOptions<OutboundConnectionUpgradeEvents> | UpgraderWithoutEncryptionOptions): Promise<Connection> {
    const link = await this.openLink(maConn, opts.signal)
    return this.upgrader.upgradeOutbound(link, opts as UpgraderOptions<OutboundConnectionUpgradeEvents>)
  }

  upgradeInbound (maConn: MultiaddrConnection, opts: UpgraderOptions<InboundConnectionUpgradeEvents>): Promise<void>
  upgradeInbound (maConn: MultiaddrConnection, opts: UpgraderWithoutEncryptionOptions): Promise<void>
  async upgradeInbound (maConn: MultiaddrConnection, opts: UpgraderOptions<InboundConnectionUpgradeEvents> | UpgraderWithoutEncryptionOptions): Promise<void> {
    const link = await this.openLink(maConn, opts.signal)
    await this.upgrader.upgradeInbound(link, opts as UpgraderOptions<InboundConnectionUpgradeEvents>)
  }

  createInboundAbortSignal (signal: AbortSignal): ClearableSignal {
    return this.upgrader.createInboundAbortSignal(signal)
  }

  getStreamMuxers (): Map<string, StreamMuxerFactory> {
    return this.upgrader.getStreamMuxers()
  }

  getConnectionEncrypters (): Map<string, ConnectionEncrypter> {
    return this.upgrader.getConnectionEncrypters()
  }
}
