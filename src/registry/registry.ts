import { json } from '@helia/json'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream, repeatingTask } from '@libp2p/utils'
import { buildDescriptor, detectResources, materiallyChanged } from './descriptor.js'
import { endKey } from './dht.js'
import { END_TOPIC } from './gossip-id.js'
import { DescriptorNotFoundError, DescriptorRejectedError } from './errors.js'
import { createGossipMetrics, createRegistryMetrics } from './metrics.js'
import { RegistryCache } from './cache.js'
import { LruMap } from '../latency/lru.js'
import { MAX_DESCRIPTOR_BYTES, SignatureCache, signDescriptor, verifyDescriptor } from './vc.js'
import type { DescriptorSource, RegistryEntry, RegistryFilter } from './cache.js'
import type { EdgeNodeDescriptor, EndReachability, ResourceOverrides } from './descriptor.js'
import type { RejectReason } from './errors.js'
import type { GossipView, RegistryMetrics } from './metrics.js'
import { CredentialRejectedError, REVOCATION_TOPIC, verifyRevocationList } from '../identity/federation/index.js'
import type { TrustPolicy } from '../identity/federation/index.js'
import type { NodeIdentity } from '../identity/index.js'
import type { HeliaOnLibp2p } from '../storage/index.js'
import type { Logger } from '../telemetry/index.js'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { KadDHT, SingleKadDHT } from '@libp2p/kad-dht'
import type { AbortOptions, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { RepeatingTask } from '@libp2p/utils'
import type { Registry as PromRegistry } from 'prom-client'
import { inSpan, SpanKind } from '../telemetry/tracing/spans.js'

export { END_TOPIC }
export const END_SYNC_PROTOCOL = '/dcis/end-sync/1.0.0'
/** descriptors one sync answer may carry */
export const MAX_SYNC_DESCRIPTORS = 2_000
/** neighbours whose last pull time is remembered */
const MAX_TRACKED_PEERS = 1_024
/** learn(): how long one pull from an unknown caller may take, and how soon that caller is asked again */
const LEARN_TIMEOUT_MS = 5_000
const LEARN_RETRY_MS = 10_000
/** descriptors one relay flush publishes at most (the rest wait for the next) */
const MAX_RELAYS_PER_FLUSH = 64
/** relays are coalesced over this window */
const RELAY_FLUSH_MS = 50
/** up to this many descriptors held, our own END keeps its configured lifetime and republish period */
export const END_SCALE_PEERS = 50
/** the most they grow (a 600 s lifetime to at most 6 h) */
export const MAX_END_SCALE = 36
/** a DHT lookup ends once this many peers answered with a valid descriptor (kad-dht's get waits for all) */
const DHT_LOOKUP_QUORUM = 3
/** the own END is put into the DHT again when the routing table grew by this factor since the last put */
const DHT_REPUT_GROWTH = 1.5

/**
 * How much longer than configured our own descriptor lives and waits between
 * republications, given how many descriptors this peer holds: 1 up to
 * END_SCALE_PEERS, then in proportion. Every peer re-signs its END at half
 * its lifetime and every END reaches every peer, so with a fixed lifetime
 * each peer would receive N refreshes per period; scaled, the refreshes a
 * peer receives per second stay about constant as the federation grows.
 */
export function endScale (held: number): number {
  return Math.min(MAX_END_SCALE, Math.max(1, held / END_SCALE_PEERS))
}

export interface RegistryComponents {
  libp2p: Libp2p<{ pubsub: GossipSub, dht: KadDHT }>
  helia: HeliaOnLibp2p
  identity: NodeIdentity
  logger: Logger
  metrics: PromRegistry
}

export interface RegistryInit {
  region: string
  zone: string
  overrides?: ResourceOverrides
  credentials?: string[]
  software: { name: string, version: string }
  /** descriptor lifetime, default 600 s (longer in a federation of more than END_SCALE_PEERS: endScale) */
  ttlSeconds?: number
  /** gossip republish period of an unchanged descriptor (jittered ±20%), default 300 s (scaled like the lifetime: endScale) */
  republishIntervalMs?: number
  /** least time between two registry pulls from the same neighbour on (re)connect, default 60 s */
  resyncIntervalMs?: number
  /**
   * anti-entropy: a pull from one random neighbour after this long (default
   * 30 s), doubling while pulls bring nothing new up to
   * maxAntiEntropyIntervalMs (default 300 s); news or a new neighbour resets
   * it. Catches what gossip missed (a peer not yet in the gossip mesh when a
   * descriptor went round) without waiting for the owner's republish.
   */
  antiEntropyIntervalMs?: number
  maxAntiEntropyIntervalMs?: number
  /** how often capacity is re-measured for change detection, default 5 s */
  checkIntervalMs?: number
  /** the federation's trust policy: anchors, revocations; absent = everything self-asserted */
  trust?: TrustPolicy
  /** extra fields for the END's latency summary, called at each signing */
  latencySummary?: () => Record<string, unknown> | null
  /** capacity not yet promised to allocations (the scheduler's ledger); the END advertises the lesser of this and what load leaves free */
  unreserved?: () => { cpu: number, memoryMb: number } | null
  /** how others reach this peer (NAT traversal, docs/nat.md), called at each signing; absent = the END carries no reachability */
  reachability?: () => EndReachability | null
}

/**
 * The registry: this peer's signed descriptor, published to helia, the DHT
 * and gossip, and a verified, expiring view of everyone else's. Every
 * descriptor, by any path, goes through verifyDescriptor(); rejections are
 * counted by reason.
 */
export class EndRegistry {
  readonly cache = new RegistryCache()
  /** signatures already checked: a descriptor arrives by several paths, several times */
  readonly signatures = new SignatureCache()
  readonly metrics: RegistryMetrics
  private readonly c: RegistryComponents
  private readonly init: RegistryInit
  private readonly log: Logger
  private current?: RegistryEntry
  private republishTimer?: ReturnType<typeof setTimeout>
  private readonly earlyTimers: Array<ReturnType<typeof setTimeout>> = []
  private check?: RepeatingTask
  private lastDhtPut = 0
  /** routing-table size when the own END was last put into the DHT, and whether a put runs */
  private knownAtDhtPut = 0
  private dhtPutRunning = false
  private lastAnnounce = 0
  private readonly onSubscriptionChange = (evt: CustomEvent<{ subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    // a neighbour just subscribed to dcis/end/1: our first announcement may
    // have gone out before any gossip mesh existed, so announce again (at
    // most every 2 s) rather than leave far peers waiting for the republish
    if (!evt.detail.subscriptions.some(s => s.topic === END_TOPIC && s.subscribe)) return
    // what waited for a first subscriber goes out now
    if (this.relayQueue.size > 0) this.scheduleRelayFlush()
    if (Date.now() - this.lastAnnounce < 2_000) return
    this.lastAnnounce = Date.now()
    const cur = this.current
    if (cur != null) this.background('gossip on subscribe', this.gossip(cur.jwt))
  }
  private started = false
  private readonly shutdown = new AbortController()
  private publishing: Promise<void> = Promise.resolve()
  /** when we last pulled from a neighbour (bounded, least recently pulled forgotten first) */
  private readonly pulled = new LruMap<string, number>(MAX_TRACKED_PEERS)
  /** learn(): pulls in flight, and when each peer was last asked (bounded) */
  private readonly learning = new Map<string, Promise<void>>()
  private readonly learnt = new LruMap<string, number>(MAX_TRACKED_PEERS)
  /** descriptors learnt by sync or the DHT, relayed on gossip at the next flush */
  private readonly relayQueue = new Set<string>()
  private relayTimer?: ReturnType<typeof setTimeout>
  /** registry pulls that completed (a peer that has pulled once knows the federation) */
  private pullsDone = 0
  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    this.putDhtOnGrowth()
    const newcomer = this.cache.get(evt.detail.toString()) == null
    // a connection between two peers that already know each other (kad-dht
    // opens and closes many) brings nothing a pull would: gossip and
    // anti-entropy keep both current. Pulling the whole registry at every
    // connection, and resetting anti-entropy each time, made the registry's
    // traffic per peer grow with N x connection churn (at 50 peers 9.6 KB/s
    // per peer of /dcis/end-sync, docs/scale.md)
    if (!newcomer && this.pullsDone > 0) {
      this.metrics.connectPulls.inc({ result: 'skipped' })
      return
    }
    this.metrics.connectPulls.inc({ result: 'pulled' })
    this.pullOnce(evt.detail)
    if (!newcomer) return
    // a new neighbour may be a joiner: others may learn of it late, look again soon
    this.antiEntropyWaitMs = this.init.antiEntropyIntervalMs ?? 30_000
    this.nextAntiEntropy = Math.min(this.nextAntiEntropy, Date.now() + this.antiEntropyWaitMs)
  }

  /** anti-entropy state (see RegistryInit.antiEntropyIntervalMs) */
  private antiEntropyWaitMs = 30_000
  private nextAntiEntropy = 0
  private antiEntropyRunning = false

  /** one pull from a random neighbour when due; the wait doubles while pulls bring nothing new */
  private antiEntropy (): void {
    const now = Date.now()
    if (this.antiEntropyRunning || now < this.nextAntiEntropy) return
    const base = this.init.antiEntropyIntervalMs ?? 30_000
    const max = this.init.maxAntiEntropyIntervalMs ?? 300_000
    // gossip neighbours first; else any connected peer (a connection whose
    // identify failed has no gossip stream, and a pull is then its only way in)
    let peers = this.c.libp2p.services.pubsub.getSubscribers(END_TOPIC)
    if (peers.length === 0) peers = this.c.libp2p.getPeers()
    if (peers.length === 0) {
      this.nextAntiEntropy = now + base
      return
    }
    const peer = peers[Math.floor(Math.random() * peers.length)]
    const stats = { news: 0 }
    this.antiEntropyRunning = true
    this.pullFrom(peer, { signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(15_000)]) }, stats)
      .then(() => {
        this.metrics.antiEntropyPulls.inc({ result: stats.news > 0 ? 'news' : 'nothing' })
        this.antiEntropyWaitMs = stats.news > 0 ? base : Math.min(max, this.antiEntropyWaitMs * 2)
      })
      .catch((err) => { this.log.debug({ err }, 'anti-entropy pull failed') })
      .finally(() => {
        this.antiEntropyRunning = false
        // jittered so peers that started together do not pull in step
        this.nextAntiEntropy = Date.now() + Math.round(this.antiEntropyWaitMs * (0.8 + Math.random() * 0.4))
      })
  }

  /** pulls a neighbour's registry unless a pull from it succeeded within resyncIntervalMs */
  private pullOnce (peer: PeerId): void {
    const id = peer.toString()
    const last = this.pulled.get(id)
    // a flapping link does not pull the whole registry at every reconnect
    if (last != null && Date.now() - last < (this.init.resyncIntervalMs ?? 60_000)) return
    this.pulled.set(id, Date.now())
    this.pullFrom(peer, { signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(15_000)]) })
      .then((accepted) => {
        // e.g. the neighbour's registry was not serving yet: the next connect may pull again
        if (accepted < 0) this.pulled.delete(id)
      })
      .catch((err) => { this.log.debug({ err }, 'registry pull failed') })
  }

  constructor (components: RegistryComponents, init: RegistryInit) {
    this.c = components
    this.init = init
    this.log = components.logger
    this.metrics = createRegistryMetrics(components.metrics)
    createGossipMetrics(components.metrics, () => components.libp2p.services.pubsub as unknown as GossipView | undefined)
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    const { libp2p } = this.c
    await libp2p.handle(END_SYNC_PROTOCOL, async (stream) => { await this.serveSync(stream) }, { maxInboundStreams: 8, runOnLimitedConnection: true })
    libp2p.services.pubsub.topicValidators.set(END_TOPIC, async (peer, msg) => this.validateGossip(peer, msg))
    libp2p.services.pubsub.subscribe(END_TOPIC)
    libp2p.services.pubsub.topicValidators.set(REVOCATION_TOPIC, async (_peer, msg) => this.validateRevocation(msg))
    libp2p.services.pubsub.subscribe(REVOCATION_TOPIC)
    libp2p.addEventListener('peer:connect', this.onConnect)
    libp2p.services.pubsub.addEventListener('subscription-change', this.onSubscriptionChange as never)

    await this.publishSelf(true)
    // a joiner's first announcement usually goes out before any gossip mesh
    // exists: repeat it a few times early instead of waiting a whole interval
    for (const delay of [1_000, 3_000, 8_000]) {
      const t = setTimeout(() => { const cur = this.current; if (this.started && cur != null) this.background('early gossip', this.gossip(cur.jwt)) }, delay)
      this.earlyTimers.push(t)
    }
    const interval = this.init.republishIntervalMs ?? 300_000
    // a plain timer chain, jittered per round, that stop() can always clear
    const schedule = (): void => {
      this.republishTimer = setTimeout(() => {
        this.background('republish', this.publishSelf(false, true).finally(() => { if (this.started) schedule() }))
      }, Math.round(interval * endScale(this.cache.size) * (0.8 + Math.random() * 0.4)))
    }
    schedule()
    this.antiEntropyWaitMs = this.init.antiEntropyIntervalMs ?? 30_000
    this.nextAntiEntropy = Date.now() + this.antiEntropyWaitMs
    this.check = repeatingTask(async () => {
      this.cache.expire()
      this.metrics.entries.set(this.cache.size)
      this.antiEntropy()
      await this.publishSelf(false, false)
    }, this.init.checkIntervalMs ?? 5_000)
    this.check.start()
    for (const peer of libp2p.getPeers()) this.background('pull on start', this.pullFrom(peer, { signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(15_000)]) }))
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.shutdown.abort()
    clearTimeout(this.republishTimer)
    clearTimeout(this.relayTimer)
    this.relayQueue.clear()
    for (const t of this.earlyTimers.splice(0)) clearTimeout(t)
    this.check?.stop()
    const { libp2p } = this.c
    libp2p.removeEventListener('peer:connect', this.onConnect)
    libp2p.services.pubsub.removeEventListener('subscription-change', this.onSubscriptionChange as never)
    libp2p.services.pubsub.topicValidators.delete(END_TOPIC)
    libp2p.services.pubsub.unsubscribe(END_TOPIC)
    libp2p.services.pubsub.topicValidators.delete(REVOCATION_TOPIC)
    libp2p.services.pubsub.unsubscribe(REVOCATION_TOPIC)
    await libp2p.unhandle(END_SYNC_PROTOCOL)
    await this.publishing.catch(() => {})
  }

  /** this peer's current signed descriptor */
  self (): RegistryEntry | undefined {
    return this.current
  }

  list (filter: RegistryFilter = {}): RegistryEntry[] {
    return this.cache.list(filter)
  }

  /**
   * The verified descriptor of `peerId`, pulled from that peer itself when
   * this registry has none yet. For protocol handlers: a connected peer
   * whose announcement has not reached us (its connect-time pull ran before
   * its registry served, its early gossip went out before any mesh) is
   * otherwise refused as a stranger until anti-entropy, up to 30 s later.
   * Concurrent callers share one pull; a peer that answered without its own
   * descriptor is asked again only after LEARN_RETRY_MS; a pull takes at
   * most LEARN_TIMEOUT_MS.
   */
  async learn (peerId: string): Promise<RegistryEntry | undefined> {
    const held = this.cache.get(peerId)
    if (held != null || !this.started) return held
    let pull = this.learning.get(peerId)
    if (pull == null) {
      const last = this.learnt.get(peerId)
      if (last != null && Date.now() - last < LEARN_RETRY_MS) return undefined
      this.learnt.set(peerId, Date.now())
      let id: PeerId
      try {
        id = peerIdFromString(peerId)
      } catch {
        return undefined
      }
      pull = this.pullFrom(id, { signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(LEARN_TIMEOUT_MS)]) })
        .then(() => {}, () => {})
        .finally(() => { this.learning.delete(peerId) })
      this.learning.set(peerId, pull)
    }
    await pull
    return this.cache.get(peerId)
  }

  /**
   * (Re)signs and publishes this peer's descriptor when forced, when it
   * changed materially, or when half its lifetime has passed; `announce`
   * re-gossips the current one even when unchanged (periodic republish).
   */
  async publishSelf (force: boolean, announce = false): Promise<void> {
    const run = async (): Promise<void> => {
      const now = Math.floor(Date.now() / 1000)
      const ttl = Math.round((this.init.ttlSeconds ?? 600) * endScale(this.cache.size))
      const next = this.build(now, ttl)
      const cur = this.current
      const stale = cur == null || now - cur.iat >= ttl / 2
      if (force || stale || materiallyChanged(cur.end, next)) {
        if (cur != null && now <= cur.iat) {
          // iat has one-second resolution: make the new descriptor strictly newer
          next.issuedAt = new Date((cur.iat + 1) * 1000).toISOString()
          next.expiresAt = new Date((cur.iat + 1 + ttl) * 1000).toISOString()
        }
        const jwt = await signDescriptor(this.c.identity, next)
        const verified = await verifyDescriptor(jwt)
        const trust = await this.trustOf(verified.end)
        const cid = await json(this.c.helia).add({ endJwt: jwt }, { signal: this.shutdown.signal })
        this.metrics.published.inc({ channel: 'helia' })
        this.current = { ...verified, cid: cid.toString(), source: 'self', receivedAt: Date.now(), trustLevel: trust.level, trustSource: trust.source, attestedRegion: trust.region }
        this.cache.offer(this.current)
        await this.gossip(jwt)
        this.background('dht put', this.putDht(jwt))
      } else if (announce && cur != null) {
        await this.gossip(cur.jwt)
        // the first put often runs before the routing table has peers: keep
        // the record in the DHT fresh at least every few minutes
        if (Date.now() - this.lastDhtPut > 120_000) this.background('dht put', this.putDht(cur.jwt))
      }
      if (announce) {
        // revocation lists travel with the republish so late joiners get them within one interval
        for (const list of this.init.trust?.revocations.all() ?? []) await this.gossip(list.jwt, REVOCATION_TOPIC)
      }
    }
    const traced = async (): Promise<void> => { await inSpan('dcis.registry.publish', { kind: SpanKind.PRODUCER, attributes: { 'dcis.registry.force': force, 'dcis.registry.announce': announce } }, run) }
    this.publishing = this.publishing.then(traced, traced).catch((err) => {
      if (!this.shutdown.signal.aborted) this.log.warn({ err }, 'publishing own descriptor failed')
    })
    await this.publishing
  }

  /**
   * Verifies a descriptor from any path and offers it to the cache. Returns
   * the entry, or throws DescriptorRejectedError (counted by reason).
   */
  async ingest (jwt: string | Uint8Array, source: DescriptorSource, expectedPeerId?: string): Promise<{ entry: RegistryEntry, result: string }> {
    let verified
    try {
      verified = await verifyDescriptor(jwt, { expectedPeerId, signatures: this.signatures })
    } catch (err) {
      if (err instanceof DescriptorRejectedError) this.reject(err.reason, source)
      throw err
    }
    if (verified.end.peerId === this.c.identity.peerId.toString() && source !== 'self') {
      const held = this.current
      if (held != null && verified.iat <= held.iat) return { entry: held, result: 'duplicate' }
    }
    const known = this.cache.get(verified.end.peerId)
    if (known != null && known.jwt === verified.jwt) {
      // the same descriptor again (gossip from several neighbours, sync, the
      // DHT): the cache keeps the held entry, whose trust is current
      // (reevaluateTrust), so verifying its credentials again was thrown away
      this.metrics.accepted.inc({ source, result: 'duplicate' })
      return { entry: known, result: 'duplicate' }
    }
    const trust = await this.trustOf(verified.end)
    const entry: RegistryEntry = { ...verified, cid: null, source, receivedAt: Date.now(), trustLevel: trust.level, trustSource: trust.source, attestedRegion: trust.region }
    const result = this.cache.offer(entry)
    if (result === 'stale') {
      this.reject('stale', source)
      throw new DescriptorRejectedError('stale', `older than the descriptor held for ${verified.end.peerId}`)
    }
    this.metrics.accepted.inc({ source, result })
    this.metrics.entries.set(this.cache.size)
    // news learnt outside gossip (a joiner's registry pulled on connect, a DHT
    // lookup): relay it, so it reaches the whole federation at gossip speed
    // instead of waiting for its owner's mesh to form or its next republish
    if (source === 'dht' && (result === 'added' || result === 'updated')) this.relay(verified.jwt)
    return { entry: this.cache.get(verified.end.peerId) ?? entry, result }
  }

  /** The cached descriptor, else a DHT lookup (verified by the same rules). */
  async lookup (peerId: string, options: AbortOptions & { fromDht?: boolean } = {}): Promise<RegistryEntry> {
    if (options.fromDht !== true) {
      const cached = this.cache.get(peerId)
      if (cached != null) return cached
    }
    return this.dhtLookup(peerId, options)
  }

  /**
   * A DHT walk for a peer's END that ends once DHT_LOOKUP_QUORUM peers
   * answered with a record that verifies (or the walk ends), not when the
   * whole query does: kad-dht's `get` holds every value until all the
   * closest peers answered or timed out (to pick the best and send
   * corrections), which at 50 peers under load took seconds. Each record is
   * ingested as it comes, so the newest valid one is what the registry holds
   * and answers (an older genuine one, e.g. replayed, is 'stale' there).
   */
  private async dhtLookup (peerId: string, options: AbortOptions): Promise<RegistryEntry> {
    const done = new AbortController()
    const signal = options.signal != null ? AbortSignal.any([options.signal, done.signal]) : done.signal
    let found: RegistryEntry | undefined
    let valid = 0
    let lastRejection: Error | undefined
    try {
      for await (const event of this.c.libp2p.services.dht.get(endKey(peerId), { signal })) {
        if (event.name !== 'PEER_RESPONSE' || event.record == null) continue
        try {
          found = (await this.ingest(event.record.value, 'dht', peerId)).entry
          valid++
        } catch (err) {
          if (!(err instanceof DescriptorRejectedError)) throw err
          if (err.reason === 'stale') valid++
          else lastRejection = err
        }
        if (valid >= DHT_LOOKUP_QUORUM) break
      }
    } catch (err) {
      // the walk failed or was aborted by the caller: what was found so far still answers
      this.log.debug({ peerId, err: (err as Error).message }, 'DHT walk for a descriptor ended early')
    } finally {
      done.abort()
    }
    if (valid > 0) {
      const held = this.cache.get(peerId) ?? found
      if (held != null) return held
    }
    if (lastRejection != null) throw lastRejection
    throw new DescriptorNotFoundError(peerId)
  }

  private reject (reason: RejectReason, source: string): void {
    this.metrics.rejected.inc({ reason, source })
    this.log.debug({ reason, source }, 'descriptor rejected')
  }

  private build (now: number, ttl: number): EdgeNodeDescriptor {
    const id = this.c.identity
    const end = buildDescriptor({
      did: id.did,
      peerId: id.peerId.toString(),
      multiaddrs: this.c.libp2p.getMultiaddrs().map(String),
      region: this.init.region,
      zone: this.init.zone,
      overrides: this.init.overrides,
      credentials: this.init.credentials,
      latency: this.init.latencySummary?.() ?? null,
      software: this.init.software,
      now,
      ttlSeconds: ttl,
      detected: detectResources()
    })
    const unreserved = this.init.unreserved?.()
    if (unreserved != null) {
      end.capacity = {
        // cores are promised by the ledger; load only lowers a candidate's score
        // (a busy small box would otherwise advertise 0 free cores forever)
        cpu: Math.max(0, Math.min(end.cpu.cores, Math.round(unreserved.cpu * 100) / 100)),
        memoryMb: Math.max(0, Math.min(end.capacity.memoryMb, Math.floor(unreserved.memoryMb)))
      }
    }
    const reach = this.init.reachability?.()
    if (reach != null) end.reachability = reach
    return end
  }

  private async trustOf (end: EdgeNodeDescriptor): Promise<{ level: number, source: 'credential' | 'self-asserted', region: string | null }> {
    if (this.init.trust == null) return { level: 0, source: 'self-asserted', region: null }
    const t = await this.init.trust.evaluate(end.id, end.credentials)
    return { level: t.level, source: t.source, region: t.region }
  }

  /**
   * Accepts a revocation list (from gossip or the API). When it is newer
   * than the one held for its anchor, every held descriptor's trust is
   * re-evaluated at once, so revoked credentials lose their effect now.
   */
  async offerRevocationList (jwt: string): Promise<boolean> {
    const trust = this.init.trust
    if (trust == null) throw new CredentialRejectedError('unknown-issuer', 'this peer has no trust anchors')
    const list = await verifyRevocationList(jwt, { anchors: trust.anchorDids(), federation: trust.anchors.federation })
    if (!trust.revocations.offer(list)) return false
    await this.reevaluateTrust()
    this.log.info({ issuer: list.issuer, revoked: list.revoked.length }, 'revocation list applied')
    return true
  }

  async gossipRevocationList (jwt: string): Promise<void> {
    await this.gossip(jwt, REVOCATION_TOPIC)
  }

  async reevaluateTrust (): Promise<void> {
    for (const e of this.cache.list()) {
      const t = await this.trustOf(e.end)
      e.trustLevel = t.level
      e.trustSource = t.source
      e.attestedRegion = t.region
    }
  }

  private async validateRevocation (msg: Message): Promise<TopicValidatorResult> {
    if (msg.type !== 'signed') return TopicValidatorResult.Reject
    try {
      const fresh = await this.offerRevocationList(new TextDecoder().decode(msg.data))
      return fresh ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore
    } catch (err) {
      if (err instanceof CredentialRejectedError) {
        this.metrics.credentialsRejected.inc({ reason: err.reason })
        return TopicValidatorResult.Reject
      }
      return TopicValidatorResult.Ignore
    }
  }

  /** runs `p` in the background: a failure is logged, never an unhandled rejection */
  private background (what: string, p: Promise<unknown>): void {
    p.catch((err: unknown) => { this.log.warn({ task: what, err: (err as Error)?.message }, 'registry background task failed') })
  }

  private async gossip (jwt: string, topic = END_TOPIC): Promise<void> {
    if (topic === END_TOPIC && this.c.libp2p.services.pubsub.getSubscribers(END_TOPIC).length === 0) {
      // nobody to send to yet: publishing now would mark the descriptor's
      // content id as seen, and every later publication of it would be a
      // no-op. It waits in the relay queue for the first subscriber.
      this.relayQueue.add(jwt)
      return
    }
    try {
      await this.c.libp2p.services.pubsub.publish(topic, new TextEncoder().encode(jwt))
      this.metrics.published.inc({ channel: topic === END_TOPIC ? 'gossip' : 'revocations' })
    } catch (err) {
      this.log.debug({ err }, 'gossip publish failed')
    }
  }

  private relay (jwt: string): void {
    if (!this.started) return
    this.relayQueue.add(jwt)
    // bounded: the oldest waiting relays give way
    while (this.relayQueue.size > MAX_SYNC_DESCRIPTORS) this.relayQueue.delete(this.relayQueue.values().next().value as string)
    this.scheduleRelayFlush()
  }

  private scheduleRelayFlush (): void {
    if (!this.started || this.relayTimer != null) return
    this.relayTimer = setTimeout(() => {
      this.relayTimer = undefined
      // nobody subscribed yet: keep them for the first subscriber (see gossip())
      if (this.c.libp2p.services.pubsub.getSubscribers(END_TOPIC).length === 0) return
      const batch = [...this.relayQueue].slice(0, MAX_RELAYS_PER_FLUSH)
      for (const j of batch) this.relayQueue.delete(j)
      if (this.relayQueue.size > 0) this.scheduleRelayFlush()
      for (const j of batch) {
        // the content message id makes a descriptor another peer (or its
        // owner) already published a duplicate: publish ignores it
        // (ignoreDuplicatePublishError, src/node/libp2p.ts)
        this.c.libp2p.services.pubsub.publish(END_TOPIC, new TextEncoder().encode(j))
          .then(() => { this.metrics.published.inc({ channel: 'relay' }) })
          .catch((err) => { this.log.debug({ err: (err as Error).message }, 'relay publish failed') })
      }
    }, RELAY_FLUSH_MS)
  }

  /**
   * A put stores the record on the closest peers this peer's routing table
   * knew then; in a federation still forming (a peer that started early)
   * those are few and not the closest of the final federation, and lookups
   * walking to the real closest peers miss it until the next refresh
   * (minutes). So the own END is put again whenever the DHT routing table
   * grew by half since the last put: O(log N) puts per peer.
   */
  private putDhtOnGrowth (): void {
    const cur = this.current
    const known = this.dhtPeers()
    if (cur == null || !this.started || this.dhtPutRunning || known < Math.max(this.knownAtDhtPut * DHT_REPUT_GROWTH, this.knownAtDhtPut + 2)) return
    this.background('dht put (routing table grew)', this.putDht(cur.jwt))
  }

  /** peers in the DHT routing table (connected peers where the DHT does not say) */
  private dhtPeers (): number {
    return (this.c.libp2p.services.dht as Partial<SingleKadDHT>).routingTable?.size ?? this.c.libp2p.getPeers().length
  }

  private async putDht (jwt: string): Promise<void> {
    this.knownAtDhtPut = this.dhtPeers()
    this.dhtPutRunning = true
    try {
      await this.c.libp2p.contentRouting.put(endKey(this.c.identity.peerId.toString()), new TextEncoder().encode(jwt), {
        signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(30_000)])
      })
      this.metrics.published.inc({ channel: 'dht' })
      this.lastDhtPut = Date.now()
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'DHT put of own descriptor failed (will retry at the next refresh)')
    } finally {
      this.dhtPutRunning = false
    }
  }

  private async validateGossip (peer: PeerId, msg: Message): Promise<TopicValidatorResult> {
    if (msg.type !== 'signed') {
      this.reject('malformed', 'gossip')
      return TopicValidatorResult.Reject
    }
    if (msg.data.byteLength > MAX_DESCRIPTOR_BYTES) {
      this.reject('oversized', 'gossip')
      return TopicValidatorResult.Reject
    }
    try {
      // the sender is a carrier: a descriptor is signed by its owner, and a
      // peer relays descriptors it learnt by sync or the DHT (verified here
      // like any other). A valid descriptor we already hold (e.g. pulled by
      // sync when its owner connected) is still forwarded: gossipsub dedups
      // messages (by content on this topic), and ignoring it here would stop
      // the announcement at the first peer that learnt it another way
      await this.ingest(msg.data, 'gossip')
      return TopicValidatorResult.Accept
    } catch (err) {
      if (err instanceof DescriptorRejectedError) {
        return err.reason === 'stale' || err.reason === 'expired' ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
      }
      this.log.warn({ err, peer: peer.toString() }, 'gossip validation failed')
      return TopicValidatorResult.Ignore
    }
  }

  private async serveSync (stream: Stream): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_DESCRIPTOR_BYTES })
    const signal = AbortSignal.timeout(15_000)
    try {
      for (const jwt of this.cache.jwts().slice(0, MAX_SYNC_DESCRIPTORS)) {
        await lp.write(new TextEncoder().encode(jwt), { signal })
      }
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  /** Pulls a neighbour's registry view (each descriptor verified here); the number accepted, -1 when the pull failed. */
  async pullFrom (peer: PeerId, options: AbortOptions = {}, stats?: { news: number }): Promise<number> {
    let stream: Stream | undefined
    let accepted = 0
    try {
      stream = await this.c.libp2p.dialProtocol(peer, END_SYNC_PROTOCOL, { ...options, runOnLimitedConnection: true })
      const lp = lpStream(stream, { maxDataLength: MAX_DESCRIPTOR_BYTES })
      for (let i = 0; i < MAX_SYNC_DESCRIPTORS; i++) {
        let buf
        try {
          buf = await lp.read(options)
        } catch (err) {
          if ((err as Error).name === 'UnexpectedEOFError') break
          throw err
        }
        try {
          const { entry, result } = await this.ingest(buf.subarray(), 'sync')
          accepted++
          // news to us (a joiner's own descriptor pulled when it connected, or
          // one its gossip never brought us): relay it. Content ids make every
          // relay of one descriptor one message, so peers that have it drop it
          if (result === 'added' || result === 'updated') {
            this.relay(entry.jwt)
            if (stats != null) stats.news++
          }
        } catch (err) {
          if (!(err instanceof DescriptorRejectedError)) throw err
        }
      }
      await stream.close(options).catch(() => {})
      this.pullsDone++
    } catch (err) {
      stream?.abort(err as Error)
      if (!this.shutdown.signal.aborted) this.log.debug({ peer: peer.toString(), err: (err as Error).message }, 'registry sync failed')
      return -1
    }
    return accepted
  }
}
