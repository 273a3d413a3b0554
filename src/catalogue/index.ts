/**
 * The federation-wide catalogue: functions (versions, current pointer,
 * known-good marks, events) and applied manifests (Function, HealthCheck,
 * EdgeStatefulService), one copy on every peer, replicated with the
 * project's delta-CRDTs (an ORMap of causal LWW registers), persisted to a
 * snapshot file with fsync, merged by HLC order, converging by gossip on
 * `dcis/catalogue/1` and anti-entropy over `/dcis/catalogue/1.0.0` (on
 * every new connection and every ~30 s with a few random peers).
 *
 *   const catalogue = createCatalogue({ libp2p, registry, logger, metrics }, { dir: join(dataDir, 'catalogue') })
 *   await catalogue.start()
 *   await catalogue.deployVersion('echo', { cid, abi: 'wasi', size })
 *   catalogue.function('echo')           // -> FunctionView (numbered versions, current, events)
 *   catalogue.onChange(() => { ... })    // local and remote changes
 *   await catalogue.stop()
 *
 * docs/catalogue.md describes the records, the merge rule and the protocol.
 */
import { FederationCatalogue } from './catalogue.js'
import type { CatalogueManifestKind, EventRecord, ManifestRecord, VersionRecord } from './records.js'
import type { RolloutRecord, RolloutReportRecord } from './rollout-records.js'
import type { CatalogueView, FunctionView, ManifestView, SpecCheck } from './view.js'
import type { Logger, MetricsRegistry } from '../telemetry/index.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { AbortOptions, Libp2p } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

export * from './errors.js'
export * from './records.js'
export * from './rollout-records.js'
export { viewOf, checkDelta, MAX_EVENTS_SHOWN } from './view.js'
export type { CatalogueView, FunctionView, FunctionVersionView, FunctionEventView, ManifestView, SpecCheck, Stamp } from './view.js'
export { CATALOGUE_PROTOCOL, CATALOGUE_TOPIC, CATALOGUE_OBJECT } from './constants.js'
export { createCatalogueMetrics, CATALOGUE_REJECT_REASONS } from './metrics.js'
export type { CatalogueMetrics, CatalogueRejectReason } from './metrics.js'

export interface CatalogueComponents {
  /** the node's libp2p (gossipsub as `pubsub`); none = a catalogue of this peer alone (tests, tools) */
  libp2p?: Pick<Libp2p<{ pubsub: GossipSub }>, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol' | 'getPeers' | 'addEventListener' | 'removeEventListener' | 'services'>
  /** this peer's id when there is no libp2p */
  peerId?: string
  /** verified END descriptors: only federation members may write (default: any signed peer) */
  registry?: { list: () => Array<{ end: { peerId: string } }> }
  logger?: Logger
  metrics?: MetricsRegistry
  /** physical clock (ms) */
  now?: () => number
}

import type { Sealer } from '../protection/sealer.js'

export interface CatalogueInit {
  /** where the snapshot file lives (written with fsync) */
  dir?: string
  /** seals the snapshot file at rest (AES-256-GCM, src/protection); none = clear */
  sealer?: Pick<Sealer, 'seal' | 'open'>
  /** without `dir`: keep the snapshot in this datastore instead; neither = memory only */
  datastore?: Datastore
  /** periodic anti-entropy (ms, jittered ±25%); default 30 000 */
  syncIntervalMs?: number
  /** peers synced per periodic round; default 2 */
  syncFanout?: number
  /** peers pushed to right after a local write (besides gossip); default 4 */
  pushFanout?: number
  /** gossip messages and sync frames larger than this are dropped; default 4 MiB */
  maxMessageBytes?: number
  /** gossip stamped further ahead of our clock than this is refused; default 60 s */
  maxDriftMs?: number
  /** one sync exchange; default 10 s */
  callTimeoutMs?: number
  /** records the catalogue may hold; default 100 000 */
  maxEntries?: number
  /** checks a manifest's spec (e.g. against protocols/manifests); default: any object */
  checkSpec?: SpecCheck
}

export type NewVersion = Omit<VersionRecord, 'deployedAt' | 'deployedBy' | 'deployedHlc'>
export type NewEvent = Omit<EventRecord, 'at' | 'by'>
export type NewManifest = Omit<ManifestRecord, 'appliedAt' | 'appliedBy'>

export interface DeployVersionOptions {
  /** false: add the version without moving the current pointer (a rollout's canary); default true */
  makeCurrent?: boolean
}

export interface RolloutChange {
  rollout: RolloutRecord
  /** move the current pointer to this version in the same delta */
  current?: string
  event?: NewEvent
  /** the rollout id the caller decided on: refused (RolloutConflictError) when the record now holds another */
  expect?: string
  /** remove every peer's report (a new rollout starts from zero) */
  clearReports?: boolean
}

export interface Catalogue {
  start(): Promise<void>
  stop(): Promise<void>
  readonly peerId: string
  view(): CatalogueView
  functions(): FunctionView[]
  function(name: string): FunctionView | undefined
  manifests(kind?: CatalogueManifestKind): ManifestView[]
  manifest(kind: CatalogueManifestKind, name: string): ManifestView | undefined
  /** adds the version (or updates its runtime fields: it keeps its number) and makes it current, with a `deployed` event; resolves once on disk */
  deployVersion(name: string, version: NewVersion, options?: DeployVersionOptions): Promise<FunctionView>
  /**
   * One rollout decision as one delta: the rollout record, optionally the
   * current pointer (promotion, revert) and an event. `expect` (the id of
   * the rollout being decided on) refuses the write when another rollout
   * took its place meanwhile.
   */
  writeRollout(name: string, change: RolloutChange): Promise<FunctionView>
  /** this peer's figures for a rollout (key fn/<name>/rm/<own peer id>) */
  putRolloutReport(name: string, report: Omit<RolloutReportRecord, 'peer' | 'at'>): Promise<void>
  /** moves the current pointer (rollback), with an event */
  setCurrent(name: string, cid: string, event: NewEvent): Promise<FunctionView>
  /** true when the mark is new */
  markKnownGood(name: string, cid: string): Promise<boolean>
  recordEvent(name: string, event: NewEvent): Promise<void>
  putManifest(manifest: NewManifest): Promise<ManifestView>
  /** true when there was one to remove */
  removeManifest(kind: CatalogueManifestKind, name: string): Promise<boolean>
  /** called after every change of the state (local or received) */
  onChange(listener: () => void): () => void
  /** anti-entropy with every connected peer now */
  syncNow(options?: AbortOptions): Promise<void>
  /** a digest of the whole state: equal on two peers = same catalogue */
  fingerprint(): string
  /** records held */
  size(): number
}

export function createCatalogue (components: CatalogueComponents, init: CatalogueInit = {}): Catalogue {
  return new FederationCatalogue(components, init)
}
export { applyOps, emptyState } from './ops.js'
export type { Op } from './ops.js'
export { manifestSpecCheck } from './spec-check.js'
export { catalogueRoutes } from './routes.js'
export { SNAPSHOT_FILE, SNAPSHOT_KEY } from './persist.js'
