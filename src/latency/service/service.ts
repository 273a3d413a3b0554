/**
 * The latency service: drives the pure estimator with real probes (libp2p
 * ping) and gossip (`dcis/latency/1`), and answers from it. See index.ts.
 */
import { raceSignal } from 'race-signal'
import { peerIdFromString } from '@libp2p/peer-id'
import { createLatencyEstimator, fromDigest } from '../estimator.js'
import { LatencyConfigError } from '../errors.js'
import { LruMap } from '../lru.js'
import { compactState, mergeDigest } from '../state.js'
import { createPrng } from '../prng.js'
import { InvalidPeerIdError, LatencyServiceNotStartedError, ProbeFailedError } from './errors.js'
import { createGossipValidator } from './gossip-validator.js'
import { createLatencyMetrics } from './metrics.js'
import { Periodic, jittered } from './periodic.js'
import { forEachLimited, pickProbeTargets, seedFromString } from './probe-targets.js'
import { latencyRoutes } from './routes.js'
import { muxerOf, muxerPing } from '../muxer-ping.js'
import { RttWindows } from './rtt-window.js'
import { SenderRateLimiter } from './token-bucket.js'
import { LATENCY_TOPIC } from './topic.js'
import type { LatencyMetrics } from './metrics.js'
import type { DropReason } from './gossip-validator.js'
import type {
  LatencyMapView, LatencyOracle, LatencyService, LatencyServiceComponents, LatencyServiceInit,
  LatencyServiceStats, PeerLatencyView, LatencyView
} from './index.js'
import type { LatencyEstimate, LatencyEstimator } from '../estimator.js'
import type { LatencyState } from '../state.js'
import type { Prng } from '../prng.js'
import type { ApiRoutes } from '../../api/index.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'

interface Heard {
  state: LatencyState
  at: number
}

/** libp2p ping reports whole milliseconds; a 0 ms reading (loopback) is recorded as this */
const MIN_RTT_MS = 0.5
const BUSY_RETRIES = 3
/** adaptive gossip: the federation size up to which the base interval applies */
const GOSSIP_PEERS_PER_INTERVAL = 8
const BUSY_RETRY_MS = 25

async function delay (ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(t); reject(signal.reason) }
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}


export class LatencyServiceImpl implements LatencyService {
  readonly selfId: string
  readonly estimator: LatencyEstimator
  private readonly c: LatencyServiceComponents
  private readonly now: () => number
  private readonly prng: Prng
  private readonly metrics: LatencyMetrics
  private readonly windows: RttWindows
  /** pings that went through a circuit relay: kept apart, never taken as direct RTTs */
  private readonly relayedWindows: RttWindows
  private readonly heard: LruMap<string, Heard>
  private readonly limiter: SenderRateLimiter
  private readonly cfg: Required<Pick<LatencyServiceInit, 'probeIntervalMs' | 'maxProbesPerRound' | 'probeConcurrency' | 'probeTimeoutMs' | 'gossipIntervalMs' | 'jitter' | 'maxMessageBytes' | 'stateTtlMs' | 'maxPeers'>>
  private readonly counts = { probeRounds: 0, probesOk: 0, probesFailed: 0, published: 0, accepted: 0, rejected: {} as Record<string, number> }
  private readonly inflight = new Set<Promise<unknown>>()
  private readonly minOf: number
  private readonly pending = new Map<string, Promise<number>>()
  private probeLoop?: Periodic
  private gossipLoop?: Periodic
  private shutdown = new AbortController()
  private cursor = 0
  private _status: 'stopped' | 'started' = 'stopped'
  /** adaptive cadence: current probe interval, last published state */
  private readonly adaptive: boolean
  private readonly maxProbeIntervalMs: number
  private readonly maxGossipIntervalMs: number
  private readonly gossipMoveMs: number
  private probeIntervalNow: number
  private lastPublished?: { at: number, vec: number[], height: number }
  /** samples per message (digestSize) and, per peer, the sample count last published */
  private readonly digestSize: number
  private readonly sent = new Map<string, number>()

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    // measure a new neighbour now rather than at the next round
    this.track(this.probe(evt.detail.toString()).catch(() => {}))
    this.probeIntervalNow = this.cfg.probeIntervalMs
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.dropWindow(evt.detail.toString())
    this.probeIntervalNow = this.cfg.probeIntervalMs
  }

  constructor (components: LatencyServiceComponents, init: LatencyServiceInit = {}) {
    this.c = components
    this.selfId = components.libp2p.peerId.toString()
    this.now = init.now ?? Date.now
    this.cfg = {
      probeIntervalMs: positive(init.probeIntervalMs ?? 5_000, 'probeIntervalMs'),
      maxProbesPerRound: positiveInt(init.maxProbesPerRound ?? 8, 'maxProbesPerRound'),
      probeConcurrency: positiveInt(init.probeConcurrency ?? 4, 'probeConcurrency'),
      probeTimeoutMs: positive(init.probeTimeoutMs ?? 5_000, 'probeTimeoutMs'),
      gossipIntervalMs: positive(init.gossipIntervalMs ?? 10_000, 'gossipIntervalMs'),
      jitter: init.jitter ?? 0.2,
      maxMessageBytes: positiveInt(init.maxMessageBytes ?? 16_384, 'maxMessageBytes'),
      stateTtlMs: positive(init.stateTtlMs ?? 300_000, 'stateTtlMs'),
      maxPeers: positiveInt(init.maxPeers ?? 512, 'maxPeers')
    }
    if (!(this.cfg.jitter >= 0 && this.cfg.jitter < 1)) throw new LatencyConfigError('jitter', `must be in [0, 1), got ${this.cfg.jitter}`)
    this.adaptive = init.adaptive ?? true
    this.maxProbeIntervalMs = positive(init.maxProbeIntervalMs ?? this.cfg.probeIntervalMs * 12, 'maxProbeIntervalMs')
    this.maxGossipIntervalMs = positive(init.maxGossipIntervalMs ?? Math.min(this.cfg.gossipIntervalMs * 6, this.cfg.stateTtlMs / 2), 'maxGossipIntervalMs')
    this.gossipMoveMs = init.gossipMoveMs ?? 1
    if (!(this.gossipMoveMs >= 0)) throw new LatencyConfigError('gossipMoveMs', `must be a non-negative number, got ${this.gossipMoveMs}`)
    this.probeIntervalNow = this.cfg.probeIntervalMs
    const seed = init.seed ?? seedFromString(this.selfId)
    this.prng = createPrng(seed ^ 0x5eed)
    this.estimator = createLatencyEstimator({ ...init.estimator, selfId: this.selfId, seed, now: this.now, maxPeers: this.cfg.maxPeers })
    this.metrics = createLatencyMetrics(components.metrics)
    this.digestSize = Math.min(positiveInt(init.digestSize ?? 8, 'digestSize'), this.estimator.limits.maxDigest)
    this.minOf = positiveInt(init.minOfPings ?? 3, 'minOfPings')
    const windowSize = positiveInt(init.windowSize ?? 20, 'windowSize')
    if (windowSize < this.minOf) throw new LatencyConfigError('windowSize', `must be >= minOfPings (${this.minOf}), got ${windowSize}`)
    this.windows = new RttWindows(windowSize, this.cfg.maxPeers)
    this.relayedWindows = new RttWindows(windowSize, this.cfg.maxPeers)
    this.heard = new LruMap(this.cfg.maxPeers)
    this.limiter = new SenderRateLimiter({
      burst: positiveInt(init.rateLimit?.burst ?? 3, 'rateLimit.burst'),
      refillMs: positive(init.rateLimit?.refillMs ?? 3_000, 'rateLimit.refillMs'),
      maxSenders: this.cfg.maxPeers * 2
    })
  }

  get status (): 'stopped' | 'started' {
    return this._status
  }

  get busy (): boolean {
    return (this.probeLoop?.active ?? false) || (this.gossipLoop?.active ?? false) || this.inflight.size > 0
  }

  async start (): Promise<void> {
    if (this._status === 'started') return
    this.shutdown = new AbortController()
    const { libp2p } = this.c
    const pubsub = libp2p.services.pubsub
    pubsub.topicValidators.set(LATENCY_TOPIC, createGossipValidator({
      selfId: this.selfId,
      limits: this.estimator.limits,
      maxBytes: this.cfg.maxMessageBytes,
      limiter: this.limiter,
      now: this.now,
      accept: (from, state) => { this.accept(from, state) },
      onDrop: (reason, from, detail) => { this.drop(reason, from, detail) }
    }))
    pubsub.subscribe(LATENCY_TOPIC)
    libp2p.addEventListener('peer:connect', this.onConnect)
    libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    const random = (): number => this.prng.next()
    this.probeLoop = new Periodic(async (signal) => { await this.probeRound(signal) }, {
      nextDelayMs: () => jittered(this.probeIntervalNow, this.cfg.jitter, random),
      timeoutMs: this.cfg.probeTimeoutMs * 2,
      onError: (err) => { this.c.logger.warn({ err }, 'probe round failed') }
    })
    this.gossipLoop = new Periodic(async (signal) => { await this.gossipRound(signal) }, {
      // the first state goes out soon, once a probe or two has landed
      firstDelayMs: jittered(Math.min(this.cfg.gossipIntervalMs, 2 * this.cfg.probeIntervalMs) / 2, this.cfg.jitter, random),
      nextDelayMs: () => jittered(this.cfg.gossipIntervalMs * this.fanScale(), this.cfg.jitter, random),
      timeoutMs: Math.max(5_000, this.cfg.gossipIntervalMs),
      onError: (err) => { this.c.logger.warn({ err }, 'latency gossip round failed') }
    })
    this.probeIntervalNow = this.cfg.probeIntervalMs
    this.lastPublished = undefined
    this.probeLoop.start()
    this.gossipLoop.start()
    this._status = 'started'
    for (const peer of libp2p.getPeers()) this.track(this.probe(peer.toString()).catch(() => {}))
  }

  async stop (): Promise<void> {
    if (this._status === 'stopped') return
    this._status = 'stopped'
    this.shutdown.abort(new LatencyServiceNotStartedError())
    await Promise.all([this.gossipLoop?.stop(), this.probeLoop?.stop()])
    await Promise.allSettled([...this.inflight])
    const { libp2p } = this.c
    libp2p.removeEventListener('peer:connect', this.onConnect)
    libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    libp2p.services.pubsub.topicValidators.delete(LATENCY_TOPIC)
    libp2p.services.pubsub.unsubscribe(LATENCY_TOPIC)
    for (const id of this.windows.peerIds()) this.dropWindow(id)
  }

  estimate (peerId: string): LatencyEstimate | undefined {
    return this.estimator.estimate(peerId)
  }

  estimateBetween (a: string, b: string): LatencyEstimate | undefined {
    if (a === b) return { ms: 0, errorMs: 0, source: 'measured', confidence: 1 }
    if (a === this.selfId) return this.estimate(b)
    const A = this.heard.peek(a)?.state
    if (b === this.selfId) {
      // a's own measurement of us, else ours of a (ping RTTs are round trips)
      const s = A?.samples.find(x => x.peer === this.selfId)
      if (s !== undefined) return fromDigest(s)
      return this.estimate(a)
    }
    const B = this.heard.peek(b)?.state
    if (A !== undefined && B !== undefined) return this.estimator.estimateBetween(A, B, b)
    const s = A?.samples.find(x => x.peer === b) ?? B?.samples.find(x => x.peer === a)
    return s === undefined ? undefined : fromDigest(s)
  }

  async probe (peerId: string, options: AbortOptions = {}): Promise<number> {
    let id: PeerId
    try {
      id = peerIdFromString(peerId)
    } catch {
      throw new InvalidPeerIdError('peerId', peerId)
    }
    if (this._status !== 'started') throw new LatencyServiceNotStartedError()
    const key = id.toString()
    // libp2p ping allows one outbound stream per connection: callers asking
    // for the same peer at once share one ping
    let pending = this.pending.get(key)
    if (pending === undefined) {
      pending = this.pingOnce(id, key).finally(() => { this.pending.delete(key) })
      this.pending.set(key, pending)
      this.track(pending.catch(() => {}))
    }
    return await raceSignal(pending, options.signal)
  }

  private async pingOnce (id: PeerId, key: string): Promise<number> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.cfg.probeTimeoutMs)])
    let rtt: number | undefined
    for (let attempt = 0; rtt === undefined; attempt++) {
      try {
        // over an open connection: the muxer's PING frame (no stream, no
        // peer-store write); else /ipfs/ping, which dials if need be
        const conn = this.c.libp2p.getConnections(id).find(c => c.status === 'open' && muxerOf(c) !== undefined)
        rtt = (conn !== undefined ? await muxerPing(conn, { signal }) : undefined) ?? await this.c.libp2p.services.ping.ping(id, { signal })
      } catch (err) {
        // another user of ping (e.g. libp2p's connection monitor) holds the one stream: retry shortly
        if ((err as Error).name === 'TooManyOutboundProtocolStreamsError' && attempt < BUSY_RETRIES && !signal.aborted) {
          await delay(BUSY_RETRY_MS * (attempt + 1), signal).catch(() => {})
          continue
        }
        this.counts.probesFailed++
        this.metrics.probes.inc({ result: 'error' })
        throw new ProbeFailedError(key, err)
      }
    }
    this.counts.probesOk++
    this.metrics.probes.inc({ result: 'ok' })
    const ms = Math.max(MIN_RTT_MS, rtt)
    // a ping over a relayed connection measures two hops and the relay:
    // it is marked relayed and kept out of the direct RTTs and the map
    const conns = this.c.libp2p.getConnections(id)
    const relayed = conns.length > 0 && conns.every(c => c.remoteAddr.toString().includes('/p2p-circuit'))
    if (relayed) this.relayedWindows.push(key, ms)
    else if (this._status === 'started') this.record(key, ms)
    return ms
  }

  rttMs (peerId: string): number | null {
    return this.estimator.direct(peerId)?.medianMs ?? null
  }

  map (): LatencyMapView {
    const connected = new Set(this.c.libp2p.getPeers().map(p => p.toString()))
    const ids = new Set([...this.estimator.peers(), ...connected, ...this.heard.keys()])
    ids.delete(this.selfId)
    const peers: PeerLatencyView[] = [...ids].sort().slice(0, this.cfg.maxPeers).map(peerId => {
      const est = this.estimator.estimate(peerId)
      const model = this.estimator.estimate(peerId, { modelOnly: true })
      const q = this.windows.quantiles(peerId)
      return {
        peerId,
        rttMs: this.rttMs(peerId),
        p95Ms: q?.p95 ?? null,
        estimatedMs: est?.ms ?? null,
        modelMs: model?.ms ?? null,
        errorMs: est?.errorMs ?? null,
        source: est?.source ?? null,
        confidence: est?.confidence ?? null,
        connected: connected.has(peerId),
        ...relayedMedian(this.relayedWindows, peerId)
      }
    })
    return { self: { peerId: this.selfId, coordinate: this.estimator.publicState().coord }, peers }
  }

  oracle (): LatencyOracle {
    return {
      estimate: (from: string, to: string): LatencyView | null => {
        const e = this.estimateBetween(from, to)
        return e === undefined ? null : { ms: e.ms, errorMs: e.errorMs, source: e.source }
      },
      probe: async (peerId: string, options?: AbortOptions): Promise<number> => this.probe(peerId, options)
    }
  }

  latencySummary (): Record<string, unknown> | null {
    const st = this.estimator.stats()
    if (st.probes === 0) return null
    const c = this.estimator.publicState().coord
    return {
      v: 1,
      vec: c.vec.map(round3),
      height: round3(c.height),
      adjustment: round3(c.adjustment),
      error: round3(c.error),
      directPeers: st.directPeers,
      heardPeers: this.heard.size
    }
  }

  routes (): ApiRoutes {
    return latencyRoutes(this)
  }

  stats (): LatencyServiceStats {
    return { ...this.counts, rejected: { ...this.counts.rejected }, heardPeers: this.heard.size }
  }

  async publish (options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    // the medians measured since the last message, at most digestSize of
    // them: receivers merge them into what they heard before (mergeDigest),
    // so a message stays the same size however many peers this one measures
    const state = compactState(this.estimator.publicState({ changedSince: this.sent, maxSamples: this.digestSize }))
    const bytes = new TextEncoder().encode(JSON.stringify(state))
    // to the gossip mesh only, not flooded to every connected peer: a state
    // is background data refreshed every round, and each extra first-hop
    // copy is forwarded again by its receiver (most of an idle peer's bytes)
    // (gossipsub's publish takes options; its interface type does not say so)
    const pubsub = this.c.libp2p.services.pubsub as unknown as { publish: (topic: string, data: Uint8Array, opts?: { floodPublish?: boolean }) => Promise<unknown> }
    await pubsub.publish(LATENCY_TOPIC, bytes, { floodPublish: false })
    // re-inserted: the map iterates least recently published first (publicState's order of news)
    for (const d of state.samples) {
      this.sent.delete(d.peer)
      this.sent.set(d.peer, d.n)
    }
    this.lastPublished = { at: this.now(), vec: [...state.coord.vec], height: state.coord.height }
    this.counts.published++
    this.metrics.published.inc()
  }

  /** the current mean gossip interval (grows with the federation in adaptive mode) */
  get gossipIntervalMs (): number {
    return this.cfg.gossipIntervalMs * this.fanScale()
  }

  /** the current probe interval (the adaptive cadence; for tests and /v1/latency) */
  get probeIntervalMs (): number {
    return this.probeIntervalNow
  }

  private async probeRound (signal: AbortSignal): Promise<void> {
    const ids = this.c.libp2p.getPeers().map(p => p.toString())
    const { targets, cursor } = pickProbeTargets(ids, this.cursor, this.cfg.maxProbesPerRound)
    this.cursor = cursor
    this.counts.probeRounds++
    let stable = targets.length > 0
    await forEachLimited(targets, this.cfg.probeConcurrency, async (peerId) => {
      if (signal.aborted) return
      const usual = this.windows.quantiles(peerId)
      try {
        const ms = await this.probe(peerId, { signal })
        // within the band the window already knew (p50 .. p95, with slack): nothing new
        if (usual === undefined || ms > Math.max(usual.p95 * 1.5, usual.p50 + 2) || ms < usual.p50 * 0.5 - 1) stable = false
      } catch (err) {
        stable = false
        this.c.logger.debug({ peer: peerId, err: (err as Error).message }, 'probe failed')
      }
    })
    this.metrics.coordinateError.set(this.estimator.publicState().coord.error)
    if (this.adaptive) {
      // every connected peer measured once more within its band: slow down; any news: back to the base rate
      this.probeIntervalNow = stable && !signal.aborted
        ? Math.min(this.maxProbeIntervalMs, this.probeIntervalNow * 2)
        : this.cfg.probeIntervalMs
    }
  }

  /**
   * Every peer hears every peer's state, so with N peers a fixed interval
   * costs each peer N messages per interval. In adaptive mode the interval
   * grows with the peers heard beyond GOSSIP_PEERS_PER_INTERVAL, keeping what
   * each peer receives about constant as the federation grows (the heartbeat
   * stays below half the state TTL, so no state is forgotten).
   */
  private fanScale (): number {
    if (!this.adaptive) return 1
    const scale = Math.max(1, (this.heard.size + 1) / GOSSIP_PEERS_PER_INTERVAL)
    return Math.max(1, Math.min(scale, this.cfg.stateTtlMs / 2 / this.cfg.gossipIntervalMs))
  }

  /** whether this round has anything worth publishing (adaptive mode) */
  private worthPublishing (): boolean {
    const last = this.lastPublished
    if (!this.adaptive || last === undefined) return true
    if (this.now() - last.at >= Math.min(this.maxGossipIntervalMs * this.fanScale(), this.cfg.stateTtlMs / 2)) return true
    const state = this.estimator.publicState()
    // a peer measured for the first time (a new neighbour) is news at once
    for (const id of this.windows.peerIds()) if (!this.sent.has(id)) return true
    let d2 = (state.coord.height - last.height) ** 2
    for (let i = 0; i < state.coord.vec.length; i++) d2 += (state.coord.vec[i] - (last.vec[i] ?? 0)) ** 2
    return Math.sqrt(d2) > Math.max(this.gossipMoveMs, 0.1 * this.typicalRttMs())
  }

  /** median of the direct RTT medians: a move well below it changes no estimate that matters */
  private typicalRttMs (): number {
    const rtts: number[] = []
    for (const id of this.windows.peerIds()) {
      const m = this.estimator.direct(id)?.medianMs
      if (m !== undefined) rtts.push(m)
    }
    if (rtts.length === 0) return 0
    rtts.sort((a, b) => a - b)
    return rtts[rtts.length >> 1]
  }

  private async gossipRound (signal: AbortSignal): Promise<void> {
    this.sweep()
    if (this.estimator.stats().probes === 0) return
    if (!this.worthPublishing()) return
    try {
      await this.publish({ signal })
    } catch (err) {
      // e.g. no subscribed peers yet when the node disallows publishing to none
      this.c.logger.debug({ err: (err as Error).message }, 'latency state not published')
    }
  }

  /** forget gossiped states not refreshed within stateTtlMs, unless the peer is connected */
  private sweep (): void {
    const now = this.now()
    const connected = new Set(this.c.libp2p.getPeers().map(p => p.toString()))
    for (const id of this.heard.keys()) {
      const h = this.heard.peek(id)
      if (h !== undefined && now - h.at > this.cfg.stateTtlMs && !connected.has(id)) {
        this.heard.delete(id)
        this.estimator.forget(id)
        this.limiter.forget(id)
        this.dropWindow(id)
      }
    }
  }

  private record (peerId: string, ms: number): void {
    const evicted = this.windows.push(peerId, ms)
    if (evicted !== undefined) this.removeSeries(evicted)
    const h = this.heard.peek(peerId)
    // scheduling and queueing delays only ever add to a ping: the estimator
    // gets the least of the peer's last `minOf` pings (a min-RTT filter, as
    // TCP keeps), and smooths those with its own median filter
    const sample = this.windows.recentMin(peerId, this.minOf) ?? ms
    // re-offer the last heard state in case the estimator's LRU dropped it (idempotent)
    if (h !== undefined) this.estimator.hearValidated(peerId, h.state)
    this.estimator.observe(peerId, sample)
    const q = this.windows.quantiles(peerId)
    if (q !== undefined) {
      this.metrics.rtt.set({ peer: peerId, stat: 'p50' }, q.p50 / 1000)
      this.metrics.rtt.set({ peer: peerId, stat: 'p95' }, q.p95 / 1000)
    }
  }

  private accept (from: string, digest: LatencyState): void {
    // a message carries the sender's news only: merged into what it said before
    const prev = this.heard.peek(from)?.state
    const state = prev === undefined ? digest : { ...digest, samples: mergeDigest(digest.samples, prev.samples, this.estimator.limits.maxDigest) }
    this.heard.set(from, { state, at: this.now() })
    this.estimator.hearValidated(from, state)
    this.counts.accepted++
    this.metrics.accepted.inc()
  }

  private drop (reason: DropReason, from: string | undefined, detail?: string): void {
    this.counts.rejected[reason] = (this.counts.rejected[reason] ?? 0) + 1
    this.metrics.rejected.inc({ reason })
    if (reason !== 'rate-limited') this.c.logger.debug({ reason, peer: from, detail }, 'latency gossip dropped')
  }

  private dropWindow (peerId: string): void {
    this.windows.delete(peerId)
    this.sent.delete(peerId)
    this.relayedWindows.delete(peerId)
    this.removeSeries(peerId)
  }

  private removeSeries (peerId: string): void {
    this.metrics.rtt.remove({ peer: peerId, stat: 'p50' })
    this.metrics.rtt.remove({ peer: peerId, stat: 'p95' })
  }

  private track (p: Promise<unknown>): void {
    this.inflight.add(p)
    // the caller observes `p`; this bookkeeping chain must not rethrow its rejection
    p.finally(() => this.inflight.delete(p)).catch(() => {})
  }
}

function round3 (x: number): number {
  return Math.round(x * 1000) / 1000
}

function positive (x: number, field: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) throw new LatencyConfigError(field, `must be a positive number, got ${x}`)
  return x
}

function positiveInt (x: number, field: string): number {
  if (!Number.isInteger(x) || x < 1) throw new LatencyConfigError(field, `must be a positive integer, got ${x}`)
  return x
}

function relayedMedian (w: RttWindows, peerId: string): { relayedRttMs?: number } {
  const q = w.quantiles(peerId)
  return q == null ? {} : { relayedRttMs: q.p50 }
}
