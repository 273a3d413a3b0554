/**
 * The live latency map of a peer: probes (libp2p ping) of a bounded,
 * rotating set of connected peers, latency gossip on `dcis/latency/1`, the
 * estimates built from both, `GET /v1/latency`, a `LatencyOracle` for the
 * scheduler and the END's `latency` summary. The numbers come from the pure
 * estimator in `src/latency/` (createLatencyEstimator); this folder owns the
 * clock, the network and the metrics.
 *
 *   const latency = createLatencyService({ libp2p, metrics: registry, logger }, { seed })
 *   await latency.start()          // after libp2p has started
 *   latency.routes()               // ApiRoutes for the HTTP server
 *   latency.oracle()               // for the scheduler
 *   latency.latencySummary()       // for the END's `latency` field
 *   await latency.stop()           // before libp2p stops
 */
import { LatencyServiceImpl } from './service.js'
import type { LatencyEstimate, LatencyEstimator, LatencyEstimatorInit } from '../index.js'
import type { Coordinate } from '../vivaldi.js'
import type { ApiRoutes } from '../../api/index.js'
import type { Logger } from '../../telemetry/index.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { AbortOptions, Libp2p } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { Registry } from 'prom-client'

export { LATENCY_TOPIC } from './topic.js'

/** The few libp2p parts the service uses. */
export interface LatencyServiceComponents {
  libp2p: Libp2p<{ ping: Ping, pubsub: GossipSub }>
  /** prom-client registry the metrics go into */
  metrics: Registry
  /** e.g. forComponent(root, 'dcis:latency') */
  logger: Logger
}

export interface LatencyServiceInit {
  /** seeds the estimator and the jitter (default: derived from the peer id) */
  seed?: number
  /** mean time between probe rounds (default 5 000 ms) */
  probeIntervalMs?: number
  /** peers pinged per round, rotating through the connected ones (default 8) */
  maxProbesPerRound?: number
  /** pings in flight at once within a round (default 4) */
  probeConcurrency?: number
  /** one ping's timeout (default 5 000 ms) */
  probeTimeoutMs?: number
  /**
   * samples per message (default 8, at most the estimator's maxDigest): a
   * message carries only the direct medians measured since the last one
   * (peers never published first, then the least recently published), and
   * receivers merge them into what they heard before
   */
  digestSize?: number
  /** mean time between publications of this peer's state (default 10 000 ms) */
  gossipIntervalMs?: number
  /**
   * back off when nothing changes (default on): a probe round whose RTTs all
   * stayed within their usual band doubles the next interval, up to
   * `maxProbeIntervalMs` (default 12x probeIntervalMs); a new neighbour, a
   * lost one or an RTT off its band resets it. A gossip round publishes only
   * when the coordinate moved more than `gossipMoveMs` (default 1 ms) and a
   * tenth of the typical (median) direct RTT, a peer was measured for the
   * first time, or `maxGossipIntervalMs` (default 6x
   * gossipIntervalMs, below stateTtlMs) passed since the last publication.
   */
  adaptive?: boolean
  maxProbeIntervalMs?: number
  maxGossipIntervalMs?: number
  gossipMoveMs?: number
  /** each interval is scaled by a factor in [1 - jitter, 1 + jitter) (default 0.2) */
  jitter?: number
  /** largest accepted gossip message in bytes (default 16 384) */
  maxMessageBytes?: number
  /** per-sender token bucket for inbound gossip: burst (default 3) and ms per token (default 3 000) */
  rateLimit?: { burst?: number, refillMs?: number }
  /**
   * the estimator is fed the least of a peer's last this-many pings (default 3;
   * 1 = every raw ping): scheduling and queueing delays only ever add to a
   * ping, so a min-RTT filter keeps a loaded host from inflating the map
   */
  minOfPings?: number
  /** ping samples per peer kept for the p50/p95 metrics (default 20, >= minOfPings) */
  windowSize?: number
  /** a gossiped state not refreshed for this long is forgotten, unless the peer is connected (default 300 000 ms) */
  stateTtlMs?: number
  /** peers tracked (estimator states, windows, heard states; default 512) */
  maxPeers?: number
  /** passed to createLatencyEstimator (selfId, seed, now and maxPeers are set by the service) */
  estimator?: Omit<LatencyEstimatorInit, 'selfId' | 'seed' | 'now' | 'maxPeers'>
  /** clock in ms (default Date.now) */
  now?: () => number
}

/** What the scheduler reads (src/scheduler LatencyView). */
export interface LatencyView {
  ms: number
  errorMs: number
  source: 'measured' | 'estimated'
}

/** The shape the scheduler consumes. */
export interface LatencyOracle {
  /** RTT estimate from -> to (either may be this peer), or null if nothing is known */
  estimate (from: string, to: string): LatencyView | null
  /** ping `peerId` now (dialling if needed); the sample also feeds the map. Rejects with ProbeFailedError. */
  probe (peerId: string, options?: AbortOptions): Promise<number>
}

export interface PeerLatencyView {
  peerId: string
  /** median of the recent direct pings (null = never pinged) */
  rttMs: number | null
  /** p95 of the recent direct pings */
  p95Ms: number | null
  /** the best estimate: a fresh direct median, else the model */
  estimatedMs: number | null
  /** the model's own figure (coordinates/factors), for comparison with rttMs */
  modelMs: number | null
  errorMs: number | null
  source: 'measured' | 'estimated' | null
  confidence: number | null
  connected: boolean
  /**
   * median of the recent pings that went through a circuit relay (ms);
   * absent if none. Those are not direct RTTs: they never feed rttMs,
   * the estimator or the coordinates (docs/nat.md)
   */
  relayedRttMs?: number
}

export interface LatencyMapView {
  self: { peerId: string, coordinate: Coordinate }
  peers: PeerLatencyView[]
}

export interface LatencyServiceStats {
  /** periodic probe rounds run */
  probeRounds: number
  probesOk: number
  probesFailed: number
  published: number
  accepted: number
  /** drops by reason */
  rejected: Record<string, number>
  /** peers with a heard (gossiped) state */
  heardPeers: number
}

export interface LatencyService {
  readonly status: 'stopped' | 'started'
  readonly selfId: string
  readonly estimator: LatencyEstimator
  start (): Promise<void>
  stop (): Promise<void>
  /** best estimate self -> peer */
  estimate (peerId: string): LatencyEstimate | undefined
  /** estimate a -> b (this peer may be either, or neither: then from their gossiped states) */
  estimateBetween (a: string, b: string): LatencyEstimate | undefined
  /** ping now; see LatencyOracle.probe */
  probe (peerId: string, options?: AbortOptions): Promise<number>
  /** median of recent direct pings, or null (what /v1/peers shows as rttMs) */
  rttMs (peerId: string): number | null
  map (): LatencyMapView
  oracle (): LatencyOracle
  /** small object for the END's `latency` field (<= 16 properties), null before any probe */
  latencySummary (): Record<string, unknown> | null
  /** GET /v1/latency and GET /v1/latency/{peerId}?from= */
  routes (): ApiRoutes
  stats (): LatencyServiceStats
  /** publish this peer's state now (also done periodically) */
  publish (options?: AbortOptions): Promise<void>
  /** true while a timer or a run is pending (false after stop()) */
  readonly busy: boolean
}

export function createLatencyService (components: LatencyServiceComponents, init: LatencyServiceInit = {}): LatencyService {
  return new LatencyServiceImpl(components, init)
}

export { createGossipValidator } from './gossip-validator.js'
export type { GossipValidatorInit, DropReason } from './gossip-validator.js'
export { SenderRateLimiter } from './token-bucket.js'
export type { TokenBucketInit } from './token-bucket.js'
export { RttWindows, nearestRank } from './rtt-window.js'
export type { RttQuantiles } from './rtt-window.js'
export { createLatencyMetrics } from './metrics.js'
export type { LatencyMetrics } from './metrics.js'
export { latencyRoutes } from './routes.js'
export { InvalidPeerIdError, LatencyUnknownError, LatencyServiceNotStartedError, ProbeFailedError } from './errors.js'
