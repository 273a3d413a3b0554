/**
 * The eventual ServiceBackend: a mesh-wide catalogue of services and their
 * placements (itself a replicated object), one replicated object per local
 * service replica, delta gossip on `dcis/crdt/<name>/1`, anti-entropy over
 * `/dcis/crdt-sync/1.0.0` (on connect and periodically), forwarding of data
 * calls to the nearest replica over `/dcis/crdt-rpc/1.0.0`, durable state
 * in the datastore and staleness accounting.
 */
import { raceSignal } from 'race-signal'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { clwwRegister, digest, nextDot, ormap, planSync } from '../index.js'
import type { CLWWRegister, LogEntry, LogPosition, ORMap } from '../index.js'
import { compareHlc, hlcReceive, hlcTick } from '../hlc.js'
import {
  addCounter, CATALOGUE_SECTIONS, checkSpec, counterValue, decodeGossip, decodeSyncFrame, encodeEntry, encodeGossip,
  encodeSyncFrame, kvDelete, kvGet, kvPut, MAX_FRAME_BYTES, nextStamp, parseEntry, place, ReplicationFrameError,
  MAX_RETIRED, placeMore, revisionOf, sameSpec, SERVICE_SECTIONS, seqOf, setAdd, setMembers, setRemove, createCrdtMetrics,
  addCounters, counterKeys, encodeCursor, logAppend, logLength, logRead, logReadUncovered, logRetain, logStamps, SECTION_LOGS
} from '../replication/index.js'
import type { CatalogueEntry, CrdtMetrics, RejectReason, SectionDelta, SyncPart } from '../replication/index.js'
import {
  ForwardForbiddenError, KeyNotFoundError, OperationNotSupportedError, RevisionMismatchError, ServiceNotFoundError, ServiceUnavailableError
} from '../../services/errors.js'
import type { ForwardAuthorizer, KvEntry, ReadOptions, ReplicaStatus, ServiceBackend, ServiceSpec, ServiceStatus, WriteOptions } from '../../services/types.js'
import { DEFAULT_REPAIR_GRACE_MS, PeerLiveness } from '../../services/liveness.js'
import { eligible, emptyZones, unservedZones } from '../../services/residency.js'
import { memberOrLearnt } from '../../registry/callers.js'
import { dialPeer, endAddresses } from '../../registry/dial.js'
import type { LearnsCallers } from '../../registry/callers.js'
import { serviceConditions } from '../../services/conditions.js'
import type { ReplicaReservations } from '../../scheduler/client.js'
import type { Logger, MetricsRegistry } from '../../telemetry/index.js'
import { CATALOGUE_OBJECT, ReplicatedObject } from './object.js'
import { AUTOMERGE_SYNC_PROTOCOL } from '../automerge/protocol.js'
import { loadAutomerge, loadedAutomerge } from '../automerge/lazy.js'
import type { AutomergeEngine } from '../automerge/lazy.js'
import type { AutomergeReplica } from '../automerge/replica.js'
import type { StalenessTracker } from '../replication/index.js'
import { decodeRpcRequest, decodeRpcResponse, encodeJson, MAX_RPC_BYTES, RPC_PROTOCOL } from './rpc.js'
import type { RpcRequest, RpcResponse } from './rpc.js'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { incomingTrace, inSpan, peerAttr, SpanKind, traceFields } from '../../telemetry/tracing/spans.js'
import type { AbortOptions, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'


/** doc.ts of the automerge engine: only called with an AutomergeReplica in hand, so it is loaded */
function am (): AutomergeEngine['amDoc'] {
  const engine = loadedAutomerge()
  if (engine === undefined) throw new Error('automerge used before it was loaded')
  return engine.amDoc
}

/** an automerge document (else a delta-CRDT object); none exists before automerge is loaded */
function isDoc (obj: object): obj is AutomergeReplica {
  const engine = loadedAutomerge()
  return engine !== undefined && obj instanceof engine.AutomergeReplica
}

/** forwarded operations that change nothing: safe to retry on another replica */
const READ_OPS: ReadonlySet<string> = new Set(['status', 'get', 'counter', 'members', 'logRead'])

/** most entries one log read returns */
export const MAX_LOG_READ = 10_000
/** most entries one append carries */
export const MAX_LOG_APPEND = 10_000

/** One entry of an append-only log as the data API returns it. */
export interface LogRecord {
  /** resume after this entry: pass it back as `after` */
  cursor: string
  /** HLC wall time (ms) and logical counter of the append */
  ts: { wall: number, logical: number }
  /** the replica (peer id) that accepted the append */
  replica: string
  value: string
}

export interface LogReadRange {
  /** a cursor from an earlier read: only entries after it */
  after?: { ts: { wall: number, logical: number }, replica: string, counter: number }
  fromMs?: number
  toMs?: number
  limit?: number
}

export const SYNC_PROTOCOL = '/dcis/crdt-sync/1.0.0'
export const CATALOGUE_TOPIC = `dcis/crdt/${CATALOGUE_OBJECT}/1`
/** peers the catalogue is synced with per periodic round */
const CATALOGUE_FANOUT = 3

/** What the backend needs of the registry: verified descriptors. */
export interface CrdtRegistryView extends LearnsCallers {
  /** `multiaddrs`: where a replica is dialled when the peer store has no address for it */
  list: () => Array<{ end: { peerId: string, region: string, zone: string, multiaddrs?: string[] } }>
}

export interface CrdtBackendComponents {
  libp2p: Libp2p<{ pubsub: GossipSub }>
  registry: CrdtRegistryView
  datastore: Datastore
  logger: Logger
  metrics: MetricsRegistry
  /** measured RTT to a peer (ms), if known: picks the nearest replica to forward to */
  rtt?: (peerId: string) => number | undefined
  /** physical clock (ms); tests may inject one */
  now?: () => number
  /** capacity reservations of replicas over /dcis/alloc/1.0.0 (src/scheduler/client.ts); none = unreserved */
  reservations?: ReplicaReservations
  /** re-authorises a forwarded call (the caller's token) on this peer; none = any verified mesh peer is trusted */
  authorizeForwarded?: ForwardAuthorizer
}

export interface CrdtBackendInit {
  /** anti-entropy period (ms, jittered ±20%); default 5000 */
  syncIntervalMs?: number
  /** heartbeat period; default maxStalenessMs / 2 clamped to [50, 1000] */
  heartbeatIntervalMs?: number
  /** local deltas are batched this long before gossip (ms); default 5 */
  flushDelayMs?: number
  /** a batch is sent at once when it holds this many updates; default 256 */
  maxBatchOps?: number
  /** gossip messages and sync frames larger than this are dropped; default 4 MiB */
  maxMessageBytes?: number
  /** remote HLC readings further ahead than this are refused; default 60 s */
  maxDriftMs?: number
  /** timeout of one sync round or forwarded call; default 10 s */
  callTimeoutMs?: number
  /** a replica whose peer has been unreachable this long is replaced (ms); default 15 s */
  repairGraceMs?: number
  /** how often replicas are checked for repair (ms); default 2 s */
  repairIntervalMs?: number
  /**
   * a forwarded call that has not been answered (read) or could not open its
   * stream (write) this long moves on to the next replica (ms); default 1500
   */
  forwardAttemptMs?: number
}

/** the caller's token for a forwarded frame, when it has one */
function tokenOf (options: ReadOptions): { token?: string } {
  return options.token !== undefined && options.token !== '' ? { token: options.token } : {}
}

/** a replica that failed a forwarded call is tried after the others this long (ms) */
const FORWARD_SUSPECT_MS = 10_000

/** a forward attempt that ran out of its own time budget (not the caller's) */
class ForwardAttemptTimeoutError extends Error {
  override readonly name = 'ForwardAttemptTimeoutError'
  readonly code = 'FORWARD_ATTEMPT_TIMEOUT'
}


type Status = 'stopped' | 'started'

/** a log entry as the API and the sinks see it (its cursor, clock, replica and text value) */
function logRecord (e: LogEntry): LogRecord {
  return { cursor: encodeCursor(e), ts: { wall: e.ts.wall, logical: e.ts.logical }, replica: e.replica, value: typeof e.value === 'string' ? e.value : new TextDecoder().decode(e.value) }
}

export class CrdtBackend implements ServiceBackend {
  readonly mode = 'eventual' as const
  private readonly c: CrdtBackendComponents
  private readonly log: Logger
  readonly metrics: CrdtMetrics
  private readonly init: Required<Omit<CrdtBackendInit, 'heartbeatIntervalMs'>> & { heartbeatIntervalMs?: number }
  private liveness!: PeerLiveness
  private repairTimer?: ReturnType<typeof setInterval>
  private repairing = false
  /** service -> when this peer last re-placed it (one repair per grace period) */
  private readonly lastRepair = new Map<string, number>()
  /** replaced replicas kept open because no current replica has taken their state yet (retried by repair) */
  private readonly retiring = new Set<string>()
  /** hand-over attempts running, by service */
  private readonly handingOff = new Map<string, Promise<boolean>>()
  private state: Status = 'stopped'
  private self = ''
  private catalogue!: ReplicatedObject
  private entries = new Map<string, CatalogueEntry>()
  private readonly local = new Map<string, ReplicatedObject>()
  /** local replicas of automerge services */
  private readonly docs = new Map<string, AutomergeReplica>()
  private readonly opening = new Map<string, Promise<void>>()
  private readonly heartbeats = new Map<string, ReturnType<typeof setInterval>>()
  /** sync exchanges running, by peer and object: one at a time per pair */
  private readonly inflight = new Map<string, Promise<boolean>>()
  /** replica peer -> until when it is tried after the others (it failed or stalled a forwarded call) */
  private readonly suspect = new Map<string, number>()
  private syncTimer?: ReturnType<typeof setTimeout>
  /** anti-entropy rounds in a row that exchanged nothing (a peer with no local replicas backs off) */
  private quietRounds = 0
  private exchanged = false
  private shutdown = new AbortController()
  private readonly now: () => number

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    this.background('sync on connect', this.syncPeer(evt.detail))
  }

  constructor (components: CrdtBackendComponents, init: CrdtBackendInit = {}) {
    this.c = components
    this.log = components.logger
    this.metrics = createCrdtMetrics(components.metrics)
    this.now = components.now ?? Date.now
    this.init = {
      syncIntervalMs: init.syncIntervalMs ?? 5_000,
      flushDelayMs: init.flushDelayMs ?? 5,
      maxBatchOps: init.maxBatchOps ?? 256,
      maxMessageBytes: init.maxMessageBytes ?? MAX_FRAME_BYTES,
      maxDriftMs: init.maxDriftMs ?? 60_000,
      callTimeoutMs: init.callTimeoutMs ?? 10_000,
      repairGraceMs: init.repairGraceMs ?? DEFAULT_REPAIR_GRACE_MS,
      repairIntervalMs: init.repairIntervalMs ?? 2_000,
      forwardAttemptMs: init.forwardAttemptMs ?? 1_500,
      ...(init.heartbeatIntervalMs != null ? { heartbeatIntervalMs: init.heartbeatIntervalMs } : {})
    }
  }

  // ---- lifecycle -----------------------------------------------------------

  async start (): Promise<void> {
    if (this.state === 'started') return
    this.shutdown = new AbortController()
    const { libp2p } = this.c
    this.self = libp2p.peerId.toString()
    this.catalogue = new ReplicatedObject(CATALOGUE_OBJECT, CATALOGUE_SECTIONS, this.c.datastore)
    try {
      await this.catalogue.load()
    } catch (err) {
      this.log.error({ err }, 'persisted catalogue is unreadable: starting empty, anti-entropy refills it')
    }
    await libp2p.handle(SYNC_PROTOCOL, async (stream, connection) => { await this.serveSync(stream, connection.remotePeer.toString()) }, { maxInboundStreams: 32, runOnLimitedConnection: true })
    await libp2p.handle(AUTOMERGE_SYNC_PROTOCOL, async (stream, connection) => { await this.serveAutomerge(stream, connection.remotePeer.toString()) }, { maxInboundStreams: 32, runOnLimitedConnection: true })
    await libp2p.handle(RPC_PROTOCOL, async (stream, connection) => { await this.serveRpc(stream, connection.remotePeer.toString()) }, { maxInboundStreams: 64, runOnLimitedConnection: true })
    libp2p.services.pubsub.topicValidators.set(CATALOGUE_TOPIC, async (_p, msg) => this.validate(this.catalogue, msg))
    libp2p.services.pubsub.subscribe(CATALOGUE_TOPIC)
    libp2p.addEventListener('peer:connect', this.onConnect)
    this.liveness = new PeerLiveness(libp2p, this.init.repairGraceMs, this.now)
    this.liveness.start()
    this.state = 'started'
    this.refreshEntries()
    await this.reconcile()
    this.scheduleSync()
    this.repairTimer = setInterval(() => {
      this.repair().catch((err: Error) => { this.log.warn({ err: err.message }, 'replica repair failed') })
    }, this.init.repairIntervalMs)
    this.repairTimer.unref?.()
    for (const peer of libp2p.getPeers()) this.background('sync on start', this.syncPeer(peer))
    this.log.info({ services: this.entries.size, local: [...this.local.keys()] }, 'crdt backend started')
  }

  async stop (): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopped'
    this.shutdown.abort()
    if (this.syncTimer != null) clearTimeout(this.syncTimer)
    if (this.repairTimer != null) clearInterval(this.repairTimer)
    this.liveness.stop()
    const { libp2p } = this.c
    libp2p.removeEventListener('peer:connect', this.onConnect)
    for (const name of [...this.local.keys(), ...this.docs.keys()]) await this.close(name)
    libp2p.services.pubsub.topicValidators.delete(CATALOGUE_TOPIC)
    libp2p.services.pubsub.unsubscribe(CATALOGUE_TOPIC)
    await libp2p.unhandle(SYNC_PROTOCOL).catch(() => {})
    await libp2p.unhandle(RPC_PROTOCOL).catch(() => {})
    await libp2p.unhandle(AUTOMERGE_SYNC_PROTOCOL).catch(() => {})
    await this.flushAll(this.catalogue)
  }

  // ---- ServiceBackend ------------------------------------------------------

  has (name: string): boolean {
    return this.entries.has(name)
  }

  list (): string[] {
    return [...this.entries.keys()].sort()
  }

  /** the local replica that takes writes: none while a replaced replica hands its state over (writes go to a current replica) */
  private writable<T> (from: Map<string, T>, name: string): T | undefined {
    return this.retiring.has(name) ? undefined : from.get(name)
  }

  /** whether this peer holds a replica of `name` */
  isLocal (name: string): boolean {
    return this.local.has(name) || this.docs.has(name)
  }

  async apply (spec: ServiceSpec, options: WriteOptions = {}): Promise<ServiceStatus> {
    this.assertStarted()
    if (spec.mode !== 'eventual') throw new OperationNotSupportedError(`the eventual backend cannot hold a ${spec.mode} service`)
    const checked = checkSpec(spec)
    const existing = this.entries.get(checked.name)
    if (existing != null && sameSpec(existing.spec, checked)) return this.status(checked.name, options)
    let replicas: string[]
    if (existing != null && existing.spec.zones.join('\n') === checked.zones.join('\n')) {
      // same zones: keep the data where it is; a resize adds or drops replicas without moving the others
      replicas = checked.replicas <= existing.replicas.length
        ? existing.replicas.slice(0, checked.replicas)
        : await this.placeWithReservations(checked, existing.replicas)
    } else {
      replicas = await this.placeWithReservations(checked, [])
    }
    if (replicas.length < checked.replicas) this.log.warn({ service: checked.name, wanted: checked.replicas, placed: replicas.length }, 'fewer eligible peers than replicas: the service runs short')
    const dropped = (existing?.replicas ?? []).filter(r => !replicas.includes(r))
    // replicas dropped by a resize or a zone change hand their state over to the new ones before they close
    const retired = [...(existing?.retired ?? []).filter(r => !replicas.includes(r)), ...dropped].slice(-MAX_RETIRED)
    await this.writeEntry({ spec: checked, replicas, placedBy: this.self, ...(retired.length > 0 ? { retired } : {}) }, options)
    await this.releaseOn(checked.name, dropped)
    this.log.info({ service: checked.name, replicas, engine: checked.crdtEngine }, 'service placed')
    return this.status(checked.name, options)
  }

  /** writes a catalogue entry (CLWW), opens/closes local replicas, pushes the catalogue to the replicas */
  private async writeEntry (entry: CatalogueEntry, options: AbortOptions = {}): Promise<void> {
    await this.putEntry(entry)
    await this.reconcile()
    await this.pushCatalogue(entry.replicas, options)
  }

  /** writes a catalogue entry (CLWW) without acting on it */
  private async putEntry (entry: CatalogueEntry): Promise<void> {
    const name = entry.spec.name
    // after the clock and after the entry's current winner (it may have come by anti-entropy, which carries no clock)
    const cur = clwwRegister.winner(ormap.get<CLWWRegister>(this.catalogue.state.sections[0], name))?.ts
    const ts = hlcTick(cur != null && compareHlc(cur, this.catalogue.clock) > 0 ? cur : this.catalogue.clock, this.now())
    await this.mutate(this.catalogue, (s) => [ormap.update<CLWWRegister>(s.sections[0], name, (r) => clwwRegister.set(r, this.self, ts, encodeEntry(entry)))], ts)
    this.refreshEntries()
  }

  /** agree: push the catalogue to these peers (those reachable now) */
  private async pushCatalogue (peers: string[], options: AbortOptions = {}): Promise<void> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.callTimeoutMs), ...(options.signal != null ? [options.signal] : [])])
    const connected = new Set(this.c.libp2p.getPeers().map(String))
    await Promise.all(peers.filter(p => p !== this.self && connected.has(p)).map(async p => this.syncObject(peerIdFromString(p), this.catalogue, signal).catch(() => {})))
  }

  /**
   * Adds replicas to `existing` on eligible peers (residency), reserving each
   * new one's capacity on its peer first; a peer that refuses is skipped and
   * the next candidate tried. `alive` restricts candidates to reachable peers.
   */
  private async placeWithReservations (spec: ServiceSpec, existing: string[], alive?: (peer: string) => boolean): Promise<string[]> {
    const load = new Map<string, number>()
    for (const [name, e] of this.entries) {
      if (name === spec.name) continue
      for (const r of e.replicas) load.set(r, (load.get(r) ?? 0) + 1)
    }
    const registry = this.c.registry.list().map(e => ({ peerId: e.end.peerId, region: e.end.region, zone: e.end.zone, load: load.get(e.end.peerId) ?? 0 }))
    const at = new Map(registry.map(c => [c.peerId, c]))
    let candidates = registry.filter(c => !existing.includes(c.peerId) && (alive == null || alive(c.peerId)))
    if (existing.length === 0 && !candidates.some(c => eligible(c, spec.zones))) {
      place(spec, candidates) // throws PlacementError naming the zones
    }
    const chosen = [...existing]
    for (;;) {
      const next = placeMore(spec, chosen, at, candidates)
      const added = next.filter(p => !chosen.includes(p))
      if (added.length === 0) return chosen
      for (const p of added) {
        candidates = candidates.filter(c => c.peerId !== p)
        if (await this.reserveOn(spec.name, p)) chosen.push(p)
      }
      if (chosen.length >= spec.replicas) return chosen
    }
  }

  private async reserveOn (service: string, peer: string): Promise<boolean> {
    const r = this.c.reservations
    if (r == null) return true
    try {
      const ok = await r.reserve(peer, `crdt.${service}`, { signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.callTimeoutMs)]) })
      if (!ok) this.log.info({ service, peer }, 'peer refused the replica reservation: trying the next candidate')
      return ok
    } catch (err) {
      this.log.info({ service, peer, err: (err as Error).message }, 'replica reservation failed: trying the next candidate')
      return false
    }
  }

  private async releaseOn (service: string, peers: string[]): Promise<void> {
    const r = this.c.reservations
    if (r == null) return
    await Promise.all(peers.filter(p => p !== this.self).map(async p => r.release(p, `crdt.${service}`).catch(() => {})))
  }

  /** Deletes a service mesh-wide: its catalogue entry is removed (observed-remove), every replica closes and drops its data. */
  async remove (name: string, options: WriteOptions = {}): Promise<void> {
    this.assertStarted()
    const entry = this.entry(name)
    const ts = hlcTick(this.catalogue.clock, this.now())
    await this.mutate(this.catalogue, (s) => [ormap.remove(s.sections[0], name)], ts)
    this.refreshEntries()
    await this.reconcile()
    await this.pushCatalogue(this.c.libp2p.getPeers().map(String), options)
    await this.releaseOn(name, entry.replicas)
    this.log.info({ service: name }, 'service deleted')
  }

  async status (name: string, options: ReadOptions = {}): Promise<ServiceStatus> {
    void options
    const entry = this.entry(name)
    const registry = this.c.registry.list()
    const byPeer = new Map(registry.map(e => [e.end.peerId, e.end]))
    const replicas: ReplicaStatus[] = entry.replicas.map(p => ({ peerId: p, region: byPeer.get(p)?.region ?? null, zone: byPeer.get(p)?.zone ?? null, role: 'replica' }))
    const connected = this.liveness.snapshot()
    const liveReplicas = replicas.filter(r => this.liveness.isLive(r.peerId, connected))
    const gone = replicas.filter(r => this.liveness.isGone(r.peerId, connected)).map(r => r.peerId)
    const down = replicas.filter(r => !liveReplicas.includes(r) && !gone.includes(r.peerId)).map(r => r.peerId)
    const conditions = serviceConditions({
      mode: 'eventual',
      desired: entry.spec.replicas,
      placed: replicas.length,
      live: liveReplicas.length,
      gone,
      down,
      unservedZones: unservedZones(entry.spec.zones, liveReplicas),
      emptyZones: emptyZones(entry.spec.zones, registry.map(e => ({ region: e.end.region, zone: e.end.zone }))),
      repairing: false
    })
    const obj = this.local.get(name) ?? this.docs.get(name)
    return { name, spec: entry.spec, replicas, desiredReplicas: entry.spec.replicas, liveReplicas, conditions, stalenessMs: obj == null ? null : this.updateStaleness(obj), local: obj != null }
  }

  async get (name: string, key: string, options: ReadOptions = {}): Promise<KvEntry> {
    const doc = this.docs.get(name)
    if (doc != null) {
      const value = am().getValue(doc.doc, key)
      if (value == null) throw new KeyNotFoundError(name, key)
      return { key, value, revision: am().revision(doc.doc, key) }
    }
    const obj = this.local.get(name)
    if (obj == null) return await this.forward({ v: 1, op: 'get', service: name, key, ...tokenOf(options) }, options) as KvEntry
    const cur = kvGet(obj.state, key)
    if (cur == null) throw new KeyNotFoundError(name, key)
    return { key, value: cur.value, revision: revisionOf(cur.ts) }
  }

  async put (name: string, key: string, value: string, options: WriteOptions = {}): Promise<{ revision: number }> {
    const doc = this.writable(this.docs, name)
    if (doc != null) {
      this.checkAmKey(key)
      let json: unknown
      try {
        json = JSON.parse(value)
      } catch {
        throw new OperationNotSupportedError(`service ${name} holds automerge documents: the value must be JSON`)
      }
      this.checkAmRevision(doc, key, options.ifRevision)
      await this.changeDoc(doc, (d) => am().put(d, this.self, key, json, this.now()))
      return { revision: am().revision(doc.doc, key) }
    }
    const obj = this.writable(this.local, name)
    if (obj == null) return await this.forward({ v: 1, op: 'put', service: name, key, value, ...(options.ifRevision != null ? { ifRevision: options.ifRevision } : {}), ...tokenOf(options) }, options) as { revision: number }
    this.checkRevision(obj, key, options.ifRevision)
    const ts = nextStamp(obj.state, key, obj.clock, this.now())
    await this.mutate(obj, (s) => kvPut(s, this.self, key, ts, value), ts)
    return { revision: revisionOf(ts) }
  }

  async delete (name: string, key: string, options: WriteOptions = {}): Promise<{ revision: number }> {
    const doc = this.writable(this.docs, name)
    if (doc != null) {
      if (am().getValue(doc.doc, key) == null) throw new KeyNotFoundError(name, key)
      this.checkAmRevision(doc, key, options.ifRevision)
      await this.changeDoc(doc, (d) => am().remove(d, this.self, key, this.now()))
      return { revision: am().revision(doc.doc, key) }
    }
    const obj = this.writable(this.local, name)
    if (obj == null) return await this.forward({ v: 1, op: 'delete', service: name, key, ...(options.ifRevision != null ? { ifRevision: options.ifRevision } : {}), ...tokenOf(options) }, options) as { revision: number }
    if (kvGet(obj.state, key) == null) throw new KeyNotFoundError(name, key)
    this.checkRevision(obj, key, options.ifRevision)
    const ts = nextStamp(obj.state, key, obj.clock, this.now())
    await this.mutate(obj, (s) => kvDelete(s, key), ts)
    return { revision: revisionOf(ts) }
  }

  async counter (name: string, key: string, options: ReadOptions = {}): Promise<{ value: number }> {
    const doc = this.docs.get(name)
    if (doc != null) return { value: am().counter(doc.doc, key) }
    const obj = this.local.get(name)
    if (obj == null) return await this.forward({ v: 1, op: 'counter', service: name, key, ...tokenOf(options) }, options) as { value: number }
    return { value: counterValue(obj.state, key) }
  }

  async addCounter (name: string, key: string, delta: number, options: WriteOptions = {}): Promise<{ value: number }> {
    const doc = this.writable(this.docs, name)
    if (doc != null) {
      this.checkAmKey(key)
      const next = am().counter(doc.doc, key) + delta
      if (!Number.isSafeInteger(next)) throw new OperationNotSupportedError('counter would leave the safe integer range')
      await this.changeDoc(doc, (d) => am().add(d, this.self, key, delta, this.now()))
      return { value: am().counter(doc.doc, key) }
    }
    const obj = this.writable(this.local, name)
    if (obj == null) return await this.forward({ v: 1, op: 'addCounter', service: name, key, delta, ...tokenOf(options) }, options) as { value: number }
    await this.mutate(obj, (s) => addCounter(s, this.self, key, delta))
    return { value: counterValue(obj.state, key) }
  }

  /**
   * Adds to many counters in one write (one delta, one persist, one gossip
   * message): a function's batch of per-vehicle counts. Resolves with the
   * new values (this replica's view).
   */
  async addCounters (name: string, entries: Array<[string, number]>, options: WriteOptions = {}): Promise<{ values: number[] }> {
    if (entries.length === 0 || entries.length > MAX_LOG_APPEND) throw new OperationNotSupportedError(`a batch carries 1..${MAX_LOG_APPEND} counters`)
    if (this.docs.has(name)) {
      const values: number[] = []
      for (const [key, delta] of entries) values.push((await this.addCounter(name, key, delta, options)).value)
      return { values }
    }
    const obj = this.writable(this.local, name)
    if (obj == null) return await this.forward({ v: 1, op: 'addCounters', service: name, entries }, options) as { values: number[] }
    await this.mutate(obj, (s) => addCounters(s, this.self, entries))
    return { values: entries.map(([key]) => counterValue(obj.state, key)) }
  }

  /** sets: members of the add-wins set `key` (sorted) */
  async members (name: string, key: string, options: ReadOptions = {}): Promise<{ members: string[] }> {
    const doc = this.docs.get(name)
    if (doc != null) return { members: am().members(doc.doc, key) }
    const obj = this.local.get(name)
    if (obj == null) return await this.forward({ v: 1, op: 'members', service: name, key, ...tokenOf(options) }, options) as { members: string[] }
    return { members: setMembers(obj.state, key) }
  }

  async addMember (name: string, key: string, member: string, options: WriteOptions = {}): Promise<{ members: string[] }> {
    const doc = this.writable(this.docs, name)
    if (doc != null) {
      this.checkAmKey(key)
      await this.changeDoc(doc, (d) => am().setAdd(d, this.self, key, member, this.now()))
      return { members: am().members(doc.doc, key) }
    }
    const obj = this.writable(this.local, name)
    if (obj == null) return await this.forward({ v: 1, op: 'setAdd', service: name, key, member, ...tokenOf(options) }, options) as { members: string[] }
    await this.mutate(obj, (s) => setAdd(s, this.self, key, member))
    return { members: setMembers(obj.state, key) }
  }

  async removeMember (name: string, key: string, member: string, options: WriteOptions = {}): Promise<{ members: string[] }> {
    const doc = this.writable(this.docs, name)
    if (doc != null) {
      this.checkAmKey(key)
      await this.changeDoc(doc, (d) => am().setRemove(d, this.self, key, member, this.now()))
      return { members: am().members(doc.doc, key) }
    }
    const obj = this.writable(this.local, name)
    if (obj == null) return await this.forward({ v: 1, op: 'setRemove', service: name, key, member, ...tokenOf(options) }, options) as { members: string[] }
    await this.mutate(obj, (s) => setRemove(s, key, member))
    return { members: setMembers(obj.state, key) }
  }

  /**
   * logs: appends `values` (in order) to the append-only log `key`; any
   * replica accepts appends, all of them survive, ordered mesh-wide by
   * (HLC, replica id). Resolves once the entries are on this replica's disk.
   */
  async appendLog (name: string, key: string, values: string[], options: WriteOptions = {}): Promise<{ appended: number, first: string, last: string, length: number }> {
    if (values.length === 0 || values.length > MAX_LOG_APPEND) throw new OperationNotSupportedError(`an append carries 1..${MAX_LOG_APPEND} entries`)
    if (this.docs.has(name)) throw new OperationNotSupportedError(`service ${name} holds automerge documents: logs need crdtEngine delta-crdts`)
    const obj = this.writable(this.local, name)
    if (obj == null) return await this.forward({ v: 1, op: 'logAppend', service: name, key, values }, options) as { appended: number, first: string, last: string, length: number }
    const ts = logStamps(obj.state, key, obj.clock, this.now(), values.length)
    // the first dot of this append (mutate applies the delta synchronously, so nothing comes between)
    const counter = nextDot(obj.state.sections[SECTION_LOGS].ctx, this.self).counter
    await this.mutate(obj, (s) => logAppend(s, this.self, key, ts, values), ts[ts.length - 1])
    const length = logLength(obj.state, key)
    const max = this.entries.get(name)?.spec.logRetention?.maxEntries
    // size retention also runs on append (with slack, so a busy log is trimmed in batches, not per append)
    if (max != null && length > max + Math.max(16, Math.floor(max / 4))) await this.retain(obj)
    return {
      appended: values.length,
      first: encodeCursor({ ts: ts[0], replica: this.self, counter }),
      last: encodeCursor({ ts: ts[ts.length - 1], replica: this.self, counter: counter + values.length - 1 }),
      length: logLength(obj.state, key)
    }
  }

  /** logs: entries of `key` in order (this replica's view), at most `limit` (default and cap MAX_LOG_READ) */
  async readLog (name: string, key: string, range: LogReadRange = {}, options: ReadOptions = {}): Promise<{ entries: LogRecord[], next: string | null, length: number }> {
    if (this.docs.has(name)) throw new OperationNotSupportedError(`service ${name} holds automerge documents: logs need crdtEngine delta-crdts`)
    const obj = this.local.get(name)
    if (obj == null) return await this.forward({ v: 1, op: 'logRead', service: name, key, range }, options) as { entries: LogRecord[], next: string | null, length: number }
    const limit = Math.min(range.limit ?? MAX_LOG_READ, MAX_LOG_READ)
    const entries = logRead(obj.state, key, { ...range, limit }).map(logRecord)
    const last = entries[entries.length - 1]
    return { entries, next: last?.cursor ?? (range.after != null ? encodeCursor(range.after) : null), length: logLength(obj.state, key) }
  }

  /**
   * logs, for a consumer that tracks what it read by dot (the core sink):
   * the entries of `key` on this peer's replica whose dot `covered` rejects,
   * in order, whatever their HLC (alog.readUncovered). Local replicas only.
   */
  readLogUncovered (name: string, key: string, covered: (p: LogPosition) => boolean, range: { toMs?: number, limit?: number } = {}): { entries: Array<LogRecord & { counter: number }>, held: Map<string, number>, seen: ReadonlyMap<string, number> } {
    const obj = this.local.get(name)
    if (obj == null) throw new OperationNotSupportedError(`service ${name} has no replica on this peer`)
    const r = logReadUncovered(obj.state, key, covered, range)
    const entries = r.entries.map(e => ({ ...logRecord(e), counter: e.counter }))
    return { entries, held: r.held, seen: r.seen }
  }

  /** every counter of a local replica (this replica's view), keys sorted; undefined when this peer holds no replica */
  localCounters (name: string): Record<string, number> | undefined {
    const obj = this.local.get(name)
    if (obj == null) return undefined
    const out: Record<string, number> = {}
    for (const key of counterKeys(obj.state)) out[key] = counterValue(obj.state, key)
    return out
  }

  /** applies the service's log retention to a local replica (a no-op without retention or when nothing is due) */
  private async retain (obj: ReplicatedObject): Promise<void> {
    const retention = this.entries.get(obj.name)?.spec.logRetention
    if (retention == null || this.state !== 'started') return
    const delta = logRetain(obj.state, retention, this.now())
    if (delta == null) return
    this.metrics.logTrimmed.inc({ service: obj.name })
    await this.mutate(obj, () => delta)
  }

  /** Runs one anti-entropy round with every connected peer now (tests, after a heal). */
  async syncNow (options: AbortOptions = {}): Promise<void> {
    await Promise.all(this.c.libp2p.getPeers().map(async p => this.syncPeer(p, options.signal)))
  }

  // ---- local mutation, gossip ------------------------------------------------

  private assertStarted (): void {
    if (this.state !== 'started') throw new ServiceUnavailableError('the crdt backend is not started')
  }

  private entry (name: string): CatalogueEntry {
    const e = this.entries.get(name)
    if (e == null) throw new ServiceNotFoundError(name)
    return e
  }

  private checkRevision (obj: ReplicatedObject, key: string, ifRevision: number | undefined): void {
    if (ifRevision == null) return
    const cur = kvGet(obj.state, key)
    const actual = cur == null ? 0 : revisionOf(cur.ts)
    if (actual !== ifRevision) throw new RevisionMismatchError(key, ifRevision, actual)
  }

  private checkAmKey (key: string): void {
    if (key.includes('\u0000')) throw new OperationNotSupportedError('keys of automerge services must not contain U+0000')
  }

  private checkAmRevision (doc: AutomergeReplica, key: string, ifRevision: number | undefined): void {
    if (ifRevision == null) return
    const actual = am().getValue(doc.doc, key) == null ? 0 : am().revision(doc.doc, key)
    if (actual !== ifRevision) throw new RevisionMismatchError(key, ifRevision, actual)
  }

  /** a local automerge change: persisted before it is acknowledged, then synced to the co-replicas */
  private async changeDoc (doc: AutomergeReplica, change: (d: AutomergeReplica['doc']) => AutomergeReplica['doc']): Promise<void> {
    this.assertStarted()
    doc.doc = change(doc.doc)
    await doc.persist()
    if (doc.syncTimer == null) {
      doc.syncTimer = setTimeout(() => {
        doc.syncTimer = undefined
        this.background('automerge push', this.pushDoc(doc))
      }, this.init.flushDelayMs)
    }
  }

  private async pushDoc (doc: AutomergeReplica): Promise<void> {
    const entry = this.entries.get(doc.name)
    if (entry == null || this.state !== 'started') return
    const connected = new Set(this.c.libp2p.getPeers().map(String))
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.callTimeoutMs)])
    await Promise.all(entry.replicas.filter(r => r !== this.self && connected.has(r)).map(async r => this.syncDoc(peerIdFromString(r), doc, signal).catch(() => {})))
  }

  /**
   * Applies a local delta, persists it (a write is acknowledged only once it
   * is on disk, and only then leaves the peer, so a crash can never make a
   * replica reuse a dot it already shipped), then queues it for gossip.
   */
  private async mutate (obj: ReplicatedObject, make: (s: ReplicatedObject['state']) => SectionDelta, ts?: { wall: number, logical: number }): Promise<void> {
    this.assertStarted()
    const delta = make(obj.state)
    this.quietRounds = 0
    obj.apply(delta)
    const tick = hlcTick(obj.clock, this.now())
    obj.clock = ts != null && compareHlc(ts, tick) > 0 ? ts : tick
    await obj.persist(delta)
    obj.queue(delta)
    this.scheduleFlush(obj)
  }

  /**
   * Ships the queued local deltas: at once when the batch is full or when
   * nothing was shipped for flushDelayMs (a lone write, e.g. a critical
   * alert, leaves the moment it is durable instead of waiting a flush
   * interval), else when flushDelayMs has passed since the last flush
   * (a burst of writes is still batched into one gossip message per interval).
   */
  private scheduleFlush (obj: ReplicatedObject): void {
    if (obj.flushTimer != null && obj.pendingOps < this.init.maxBatchOps) return
    const wait = obj.lastFlushAt + this.init.flushDelayMs - performance.now()
    if (obj.pendingOps >= this.init.maxBatchOps || wait <= 0) {
      this.background('delta flush', this.flush(obj))
    } else {
      obj.flushTimer = setTimeout(() => { this.background('delta flush', this.flush(obj)) }, wait)
    }
  }

  /** runs `p` in the background: a failure is logged, never an unhandled rejection */
  private background (what: string, p: Promise<unknown>): void {
    p.catch((err: unknown) => { this.log.warn({ task: what, err: (err as Error)?.message }, 'crdt background task failed') })
  }

  private async flush (obj: ReplicatedObject): Promise<void> {
    if (obj.flushTimer != null) clearTimeout(obj.flushTimer)
    obj.flushTimer = undefined
    const delta = obj.takePending()
    if (delta == null || this.state !== 'started') return
    obj.lastFlushAt = performance.now()
    const bytes = encodeGossip({ kind: 'delta', seq: seqOf(obj.state, this.self), hlc: obj.clock, delta })
    // gossip carries no trace context (messages are deduplicated); the span records the shipping
    await inSpan('dcis.crdt.delta.publish', { kind: SpanKind.PRODUCER, attributes: { 'dcis.service': obj.name, 'messaging.message.body.size': bytes.length } }, async () => { await this.publish(obj.topic, bytes, 'delta') })
  }

  private async flushAll (obj: ReplicatedObject): Promise<void> {
    if (obj.flushTimer != null) clearTimeout(obj.flushTimer)
    obj.flushTimer = undefined
    await obj.flushed()
  }

  private async publish (topic: string, bytes: Uint8Array, kind: string): Promise<void> {
    try {
      await this.c.libp2p.services.pubsub.publish(topic, bytes)
      this.metrics.messages.inc({ kind, direction: 'out' })
      this.metrics.bytes.inc({ channel: 'gossip', direction: 'out' }, bytes.length)
    } catch (err) {
      // no subscribed peer yet: anti-entropy delivers it later
      this.log.debug({ topic, err: (err as Error).message }, 'gossip publish failed')
    }
  }

  private heartbeat (obj: ReplicatedObject | AutomergeReplica): void {
    if (this.state !== 'started') return
    const msg = isDoc(obj)
      ? { kind: 'heartbeat' as const, seq: am().seqOf(obj.doc, this.self), hlc: { wall: this.now(), logical: 0 } }
      : { kind: 'heartbeat' as const, seq: seqOf(obj.state, this.self), hlc: obj.clock }
    this.background('heartbeat', this.publish(obj.topic, encodeGossip(msg), 'heartbeat'))
    this.updateStaleness(obj)
  }

  /** topic validator of automerge services: heartbeats only (changes travel over the sync protocol) */
  private async validateHeartbeat (doc: AutomergeReplica, msg: Message): Promise<TopicValidatorResult> {
    if (msg.type !== 'signed') return this.reject('unsigned', TopicValidatorResult.Reject)
    if (msg.data.byteLength > 64) return this.reject('oversized', TopicValidatorResult.Reject)
    const from = msg.from.toString()
    const entry = this.entries.get(doc.name)
    if (entry == null) return this.reject('unknown-service', TopicValidatorResult.Ignore)
    if (!entry.replicas.includes(from)) return this.reject('not-replica', TopicValidatorResult.Ignore)
    if (this.docs.get(doc.name) !== doc) return this.reject('not-local', TopicValidatorResult.Ignore)
    let m
    try {
      m = decodeGossip(msg.data, SERVICE_SECTIONS, 64)
    } catch {
      return this.reject('malformed', TopicValidatorResult.Reject)
    }
    if (m.kind !== 'heartbeat') return this.reject('malformed', TopicValidatorResult.Reject)
    const now = this.now()
    if (m.hlc.wall - now > this.init.maxDriftMs) return this.reject('clock-drift', TopicValidatorResult.Reject)
    this.metrics.messages.inc({ kind: 'heartbeat', direction: 'in' })
    doc.tracker.observe(from, { seq: m.seq, wallMs: m.hlc.wall }, now)
    this.updateStaleness(doc)
    return TopicValidatorResult.Accept
  }

  private reject (reason: RejectReason, result: TopicValidatorResult): TopicValidatorResult {
    this.metrics.rejected.inc({ reason })
    return result
  }

  /** a replica of the service, or a replaced one handing its state over */
  private isReplicaOrRetired (service: string, peer: string): boolean {
    const e = this.entries.get(service)
    return e != null && (e.replicas.includes(peer) || e.retired?.includes(peer) === true)
  }

  private knownPeer (peerId: string): boolean {
    return peerId === this.self || this.c.registry.list().some(e => e.end.peerId === peerId)
  }

  /** topic validator of the catalogue and of every local service */
  private async validate (obj: ReplicatedObject, msg: Message): Promise<TopicValidatorResult> {
    if (msg.type !== 'signed') return this.reject('unsigned', TopicValidatorResult.Reject)
    if (msg.data.byteLength > this.init.maxMessageBytes) return this.reject('oversized', TopicValidatorResult.Reject)
    const from = msg.from.toString()
    if (obj === this.catalogue) {
      if (!this.knownPeer(from)) return this.reject('unverified-peer', TopicValidatorResult.Ignore)
    } else {
      const entry = this.entries.get(obj.name)
      if (entry == null) return this.reject('unknown-service', TopicValidatorResult.Ignore)
      if (!entry.replicas.includes(from)) return this.reject('not-replica', TopicValidatorResult.Ignore)
      if (this.local.get(obj.name) !== obj) return this.reject('not-local', TopicValidatorResult.Ignore)
    }
    let m
    try {
      m = decodeGossip(msg.data, obj.state.types, this.init.maxMessageBytes)
    } catch (err) {
      this.log.debug({ topic: obj.topic, from, err: (err as Error).message }, 'malformed crdt gossip')
      return this.reject('malformed', TopicValidatorResult.Reject)
    }
    const now = this.now()
    try {
      obj.clock = hlcReceive(obj.clock, m.hlc, now, { maxDriftMs: this.init.maxDriftMs })
    } catch {
      return this.reject('clock-drift', TopicValidatorResult.Reject)
    }
    this.metrics.messages.inc({ kind: m.kind, direction: 'in' })
    this.metrics.bytes.inc({ channel: 'gossip', direction: 'in' }, msg.data.byteLength)
    obj.tracker.observe(from, { seq: m.seq, wallMs: m.hlc.wall }, now)
    if (m.kind === 'delta') this.ingest(obj, m.delta, false, msg.data)
    else if (obj !== this.catalogue) this.updateStaleness(obj)
    return TopicValidatorResult.Accept
  }

  /**
   * joins received state into a local object; persisted as a delta record,
   * or as a new snapshot when `full` (a sync part carrying a whole section)
   */
  private ingest (obj: ReplicatedObject, delta: SectionDelta, full = false, gossip?: Uint8Array): void {
    if (delta.every(d => d == null)) return
    this.exchanged = true
    obj.apply(delta)
    obj.persist(full ? undefined : delta, gossip).catch((err: Error) => { this.log.warn({ object: obj.name, err }, 'persisting received state failed') })
    if (obj === this.catalogue) {
      this.refreshEntries()
      this.background('reconcile', this.reconcile())
    } else {
      this.updateStaleness(obj)
    }
  }

  private updateStaleness (obj: { name: string, tracker: StalenessTracker, overBound: boolean } & (ReplicatedObject | AutomergeReplica)): number {
    const seen = isDoc(obj) ? (o: string) => am().seqOf(obj.doc, o) : (o: string) => seqOf(obj.state, o)
    const s = obj.tracker.staleness(seen, this.now())
    this.metrics.staleness.set({ service: obj.name }, s / 1000)
    const bound = this.entries.get(obj.name)?.spec.maxStalenessMs
    if (bound != null) {
      if (s > bound && !obj.overBound) {
        obj.overBound = true
        this.log.warn({ event: 'staleness-exceeded', service: obj.name, stalenessMs: s, maxStalenessMs: bound }, 'replica staleness exceeds maxStalenessMs')
      } else if (s <= bound && obj.overBound) {
        obj.overBound = false
        this.log.info({ event: 'staleness-recovered', service: obj.name, stalenessMs: s, maxStalenessMs: bound }, 'replica back within maxStalenessMs')
      }
    }
    return s
  }

  // ---- self-healing ------------------------------------------------------------

  /**
   * Replaces replicas whose peers are gone past the grace period, and fills a
   * shortfall when an eligible peer is reachable. Exactly one peer acts on a
   * service: the live replica with the lowest peer id (every live replica
   * computes the same owner from the same catalogue entry), and only on a
   * side of a partition that holds at least half the placed replicas; it
   * re-places at most once per grace period, and the catalogue's last-writer-wins merge
   * settles a concurrent re-placement (a partition) on one entry whose
   * losing replica closes again. Nothing moves when a peer appears or
   * returns: live replicas are never replaced, only missing ones added.
   */
  async repair (): Promise<void> {
    if (this.state !== 'started' || this.repairing) return
    this.repairing = true
    try {
      // replaced replicas still holding state nobody took: try the hand-over again
      if (this.retiring.size > 0) await this.reconcile()
      const connected = this.liveness.snapshot()
      // log retention (age and size): swept by the lowest live replica id, the trim replicates as a delta
      for (const obj of [...this.local.values()]) {
        const e = this.entries.get(obj.name)
        if (e?.spec.logRetention == null) continue
        const live = e.replicas.filter(r => r === this.self || this.liveness.isLive(r, connected)).sort()
        if (live[0] === this.self) await this.retain(obj).catch((err: Error) => { this.log.warn({ service: obj.name, err: err.message }, 'log retention failed') })
      }
      for (const name of [...this.local.keys(), ...this.docs.keys()]) {
        this.c.reservations?.hold(`crdt.${name}`).catch((err: Error) => { this.log.debug({ service: name, err: err.message }, 'renewing the replica reservation failed') })
      }
      for (const [name, e] of [...this.entries]) {
        if (this.state !== 'started') return
        const live = e.replicas.filter(r => this.liveness.isLive(r, connected))
        const gone = e.replicas.filter(r => this.liveness.isGone(r, connected))
        if (gone.length === 0 && e.replicas.length >= e.spec.replicas) continue
        // the deterministic owner of this repair; and at least half the placed replicas must be live here, so
        // of two sides of a partition only the larger re-places (an even split of 2 may still do both: the merge settles it)
        if (live.length === 0 || [...live].sort()[0] !== this.self) continue
        if (live.length * 2 < e.replicas.length) continue
        const last = this.lastRepair.get(name)
        if (last != null && this.now() - last < this.init.repairGraceMs) continue
        const keep = e.replicas.filter(r => !gone.includes(r))
        const next = await this.placeWithReservations(e.spec, keep, (p) => this.liveness.isLive(p, connected))
        const added = next.filter(p => !keep.includes(p))
        if (added.length === 0) continue // no eligible peer: keep the gone ones listed, they may return
        // drop only as many gone replicas as were replaced
        const stillGone = gone.slice(0, Math.max(0, gone.length - added.length))
        const replicas = [...keep, ...stillGone, ...added].slice(0, Math.max(e.spec.replicas, keep.length))
        const retired = [...(e.retired ?? []).filter(r => !replicas.includes(r)), ...gone.filter(g => !replicas.includes(g))].slice(-MAX_RETIRED)
        this.lastRepair.set(name, this.now())
        await this.writeEntry({ spec: e.spec, replicas, placedBy: this.self, retired })
        await this.releaseOn(name, gone.filter(g => !replicas.includes(g)))
        this.log.info({ event: 'replica-repaired', service: name, gone, added, replicas }, 'replaced replicas whose peers are gone')
      }
    } finally {
      this.repairing = false
    }
  }

  // ---- catalogue -> local replicas -----------------------------------------

  private refreshEntries (): void {
    const next = new Map<string, CatalogueEntry>()
    const section = this.catalogue.state.sections[0]
    for (const name of ormap.keys(section)) {
      const w = clwwRegister.value(ormap.get<CLWWRegister>(section, name))
      try {
        next.set(name, parseEntry(w, name))
      } catch (err) {
        this.log.warn({ service: name, err: (err as Error).message }, 'ignoring an invalid catalogue entry')
      }
    }
    this.entries = next
  }

  private async reconcile (): Promise<void> {
    if (this.state !== 'started') return
    for (const [name, e] of this.entries) {
      if (e.replicas.includes(this.self) && !this.isLocal(name)) await this.open(e)
    }
    for (const name of [...this.local.keys(), ...this.docs.keys()]) {
      const e = this.entries.get(name)
      if (e != null && e.replicas.includes(this.self)) {
        this.retiring.delete(name)
        continue
      }
      // replaced: the state goes to a current replica before the replica closes; until one takes it, it stays
      // open and takes no writes (they go to a current replica)
      if (e != null && this.state === 'started') {
        const first = !this.retiring.has(name)
        this.retiring.add(name)
        if (!(await this.handOff(name, e))) {
          if (first) this.log.warn({ event: 'hand-off-pending', service: name, replicas: e.replicas }, 'replaced replica stays open until a current replica takes its state')
          continue
        }
      }
      await this.close(name, e == null)
      this.retiring.delete(name)
    }
  }

  private async open (e: CatalogueEntry): Promise<void> {
    const name = e.spec.name
    const running = this.opening.get(name)
    if (running != null) return running
    const p = (async () => {
      if (e.spec.crdtEngine === 'automerge') {
        await this.openDoc(e)
        return
      }
      const obj = new ReplicatedObject(name, SERVICE_SECTIONS, this.c.datastore)
      try {
        await obj.load()
      } catch (err) {
        this.log.error({ service: name, err }, 'persisted replica state is unreadable: starting empty, anti-entropy refills it')
      }
      if (this.state !== 'started') return
      this.local.set(name, obj)
      const pubsub = this.c.libp2p.services.pubsub
      pubsub.topicValidators.set(obj.topic, async (_p, msg) => this.validate(obj, msg))
      pubsub.subscribe(obj.topic)
      const timer = setInterval(() => { this.heartbeat(obj) }, this.heartbeatEvery(e.spec))
      timer.unref?.()
      this.heartbeats.set(name, timer)
      this.log.info({ service: name, replicas: e.replicas }, 'replica opened')
      const connected = new Set(this.c.libp2p.getPeers().map(String))
      for (const r of e.replicas) {
        if (r !== this.self && connected.has(r)) void this.syncObject(peerIdFromString(r), obj, this.shutdown.signal).catch(() => {})
      }
    })().finally(() => { this.opening.delete(name) })
    this.opening.set(name, p)
    return p
  }

  private heartbeatEvery (spec: ServiceSpec): number {
    return this.init.heartbeatIntervalMs ?? Math.min(1000, Math.max(50, Math.floor(spec.maxStalenessMs / 2)))
  }

  private async openDoc (e: CatalogueEntry): Promise<void> {
    const name = e.spec.name
    const { AutomergeReplica } = await loadAutomerge()
    if (this.state !== 'started') return
    const doc = new AutomergeReplica(name, this.self, this.c.datastore)
    try {
      await doc.load()
    } catch (err) {
      this.log.error({ service: name, err }, 'persisted automerge document is unreadable: starting from the base document, sync refills it')
    }
    if (this.state !== 'started') return
    this.docs.set(name, doc)
    const pubsub = this.c.libp2p.services.pubsub
    pubsub.topicValidators.set(doc.topic, async (_p, msg) => this.validateHeartbeat(doc, msg))
    pubsub.subscribe(doc.topic)
    const timer = setInterval(() => { this.heartbeat(doc) }, this.heartbeatEvery(e.spec))
    timer.unref?.()
    this.heartbeats.set(name, timer)
    this.log.info({ service: name, replicas: e.replicas, engine: 'automerge' }, 'replica opened')
    this.background('automerge push', this.pushDoc(doc))
  }

  /**
   * This peer's replica was replaced (it was cut off past the grace period):
   * before closing, sync once with the current replicas it can reach, so the
   * writes it acknowledged meanwhile are not lost.
   */
  private async handOff (name: string, e: CatalogueEntry): Promise<boolean> {
    // reconciles run concurrently (catalogue changes, the repair loop): they share one attempt
    const running = this.handingOff.get(name)
    if (running != null) return running
    const attempt = this.handOffOnce(name, e).finally(() => { this.handingOff.delete(name) })
    this.handingOff.set(name, attempt)
    return attempt
  }

  private async handOffOnce (name: string, e: CatalogueEntry): Promise<boolean> {
    const others = e.replicas.filter(p => p !== this.self)
    if (others.length === 0) return true
    // connected replicas first, then the others are dialled: a peer back from a partition may be connected
    // to none of the current replicas (its keeper redials its bootstrap peers, not them)
    const connected = new Set(this.c.libp2p.getPeers().map(String))
    const targets = [...others.filter(p => connected.has(p)), ...others.filter(p => !connected.has(p))]
    // one time budget for the whole attempt: the repair loop that retries it is not held up for long
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.callTimeoutMs)])
    if (e.retired?.includes(this.self) !== true) {
      // the placement that won was made without this replica (both sides of an even split re-placed the
      // service; the catalogue kept the other side's entry): the current replicas refuse state from a peer
      // they do not know, so list this peer as retired first and tell them
      try {
        await this.putEntry({ ...e, retired: [...(e.retired ?? []), this.self].slice(-MAX_RETIRED) })
        await this.pushCatalogue(targets, { signal })
      } catch (err) {
        this.log.warn({ service: name, err: (err as Error).message }, 'listing the replaced replica as retired failed')
        return false
      }
    }
    const obj = this.local.get(name)
    const doc = this.docs.get(name)
    // a replica an anti-entropy round is talking to is skipped in the first pass and waited for in the
    // second (that round may hang on a connection the partition left half-dead)
    for (const wait of [false, true]) {
      for (const r of targets) {
        if (signal.aborted) return false
        try {
          if (obj != null && !(await this.syncObject(peerIdFromString(r), obj, signal, wait))) continue
          if (doc != null && !(await this.syncDoc(peerIdFromString(r), doc, signal, wait))) continue
          this.log.info({ service: name, to: r }, 'replaced replica handed its state over')
          return true
        } catch (err) {
          this.log.debug({ service: name, to: r, err: (err as Error).message }, 'hand-over sync failed: trying the next replica')
        }
      }
    }
    return false
  }

  private async close (name: string, discard = false): Promise<void> {
    const doc = this.docs.get(name)
    if (doc != null) {
      this.docs.delete(name)
      const t = this.heartbeats.get(name)
      if (t != null) clearInterval(t)
      this.heartbeats.delete(name)
      this.c.libp2p.services.pubsub.topicValidators.delete(doc.topic)
      this.c.libp2p.services.pubsub.unsubscribe(doc.topic)
      this.metrics.staleness.remove({ service: name })
      await doc.flushed()
      if (discard) await doc.discard()
      if (this.state === 'started') await this.c.reservations?.drop(`crdt.${name}`).catch(() => {})
      return
    }
    const obj = this.local.get(name)
    if (obj == null) return
    this.local.delete(name)
    const t = this.heartbeats.get(name)
    if (t != null) clearInterval(t)
    this.heartbeats.delete(name)
    const pubsub = this.c.libp2p.services.pubsub
    pubsub.topicValidators.delete(obj.topic)
    pubsub.unsubscribe(obj.topic)
    this.metrics.staleness.remove({ service: name })
    await this.flushAll(obj)
    // a deleted service's data goes (a service created again under the name starts empty)
    if (discard) await obj.discard()
    if (this.state === 'started') await this.c.reservations?.drop(`crdt.${name}`).catch(() => {})
    this.log.info({ service: name, discarded: discard }, 'replica closed')
  }

  // ---- anti-entropy -----------------------------------------------------------

  private scheduleSync (): void {
    if (this.state !== 'started') return
    // a peer that replicates no service syncs only the catalogue, which also
    // travels by gossip: while rounds exchange nothing, each waits twice as
    // long (up to 16x); any exchange or local change restores the base rate
    const idle = this.local.size === 0 && this.docs.size === 0
    const backoff = idle ? 2 ** Math.min(this.quietRounds, 4) : 1
    const ms = Math.round(this.init.syncIntervalMs * backoff * (0.8 + Math.random() * 0.4))
    this.syncTimer = setTimeout(() => {
      this.background('sync round', this.syncRound().finally(() => { this.scheduleSync() }))
    }, ms)
    this.syncTimer.unref?.()
  }

  /** every local service with its connected co-replicas; the catalogue with a few random peers */
  private async syncRound (): Promise<void> {
    if (this.state !== 'started') return
    this.exchanged = false
    try {
      await this.syncRoundInner()
    } finally {
      this.quietRounds = this.exchanged ? 0 : this.quietRounds + 1
    }
  }

  private async syncRoundInner (): Promise<void> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.callTimeoutMs)])
    const peers = this.c.libp2p.getPeers()
    const byId = new Map(peers.map(p => [p.toString(), p]))
    const known = peers.filter(p => this.knownPeer(p.toString()))
    for (let i = known.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1))
      const t = known[i]
      known[i] = known[j]
      known[j] = t
    }
    const jobs: Array<Promise<boolean>> = known.slice(0, CATALOGUE_FANOUT).map(async p => this.syncObject(p, this.catalogue, signal))
    for (const [name, obj] of this.local) {
      for (const r of this.entries.get(name)?.replicas ?? []) {
        const p = byId.get(r)
        if (p != null) jobs.push(this.syncObject(p, obj, signal))
      }
    }
    for (const [name, doc] of this.docs) {
      for (const r of this.entries.get(name)?.replicas ?? []) {
        const p = byId.get(r)
        if (p != null) jobs.push(this.syncDoc(p, doc, signal))
      }
    }
    await Promise.allSettled(jobs)
  }

  /** syncs the catalogue and every service both peers replicate */
  private async syncPeer (peer: PeerId, signal?: AbortSignal): Promise<void> {
    if (this.state !== 'started') return
    const s = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.callTimeoutMs), ...(signal != null ? [signal] : [])])
    const id = peer.toString()
    if (this.knownPeer(id)) await this.syncObject(peer, this.catalogue, s).catch(() => {})
    for (const [name, obj] of this.local) {
      if (this.entries.get(name)?.replicas.includes(id) === true) await this.syncObject(peer, obj, s).catch(() => {})
    }
    for (const [name, doc] of this.docs) {
      if (this.entries.get(name)?.replicas.includes(id) === true) await this.syncDoc(peer, doc, s).catch(() => {})
    }
  }

  private plan (m: ORMap, d: Parameters<typeof planSync>[1]): SyncPart {
    const p = planSync(m, d)
    if (p.kind === 'none') return { mode: 'none' }
    this.metrics.syncParts.inc({ mode: p.kind })
    return p.kind === 'delta' ? { mode: 'delta', state: p.delta } : { mode: 'full', state: p.state }
  }

  private typesOf (object: string): ReplicatedObject['state']['types'] | undefined {
    if (object === CATALOGUE_OBJECT) return CATALOGUE_SECTIONS
    return this.local.has(object) ? SERVICE_SECTIONS : undefined
  }

  private objectFor (object: string): ReplicatedObject | undefined {
    return object === CATALOGUE_OBJECT ? this.catalogue : this.local.get(object)
  }

  /**
   * Runs one sync exchange unless one with the same key is running (then
   * false); with `wait`, it waits for that one to end first (within
   * `signal`) and then runs its own: a hand-over must not give up because an
   * anti-entropy round happens to be talking to the same replica.
   */
  private async exclusive (key: string, signal: AbortSignal, wait: boolean, exchange: () => Promise<boolean>): Promise<boolean> {
    if (wait) {
      const running = this.inflight.get(key)
      if (running != null) await raceSignal(running.catch(() => false), signal)
    }
    if (this.inflight.has(key) || this.state !== 'started') return false
    const p = exchange()
    this.inflight.set(key, p)
    try {
      return await p
    } finally {
      if (this.inflight.get(key) === p) this.inflight.delete(key)
    }
  }

  /** push-pull anti-entropy of one object with one peer (three frames); true when the remote took this replica's state (false: refused, or one already running and not waited for) */
  async syncObject (peer: PeerId, obj: ReplicatedObject, signal: AbortSignal, wait = false): Promise<boolean> {
    return this.exclusive(`${peer.toString()}\n${obj.name}`, signal, wait, async () => this.syncObjectOnce(peer, obj, signal))
  }

  private async syncObjectOnce (peer: PeerId, obj: ReplicatedObject, signal: AbortSignal): Promise<boolean> {
    let stream: Stream | undefined
    try {
      stream = await this.dial(peer.toString(), SYNC_PROTOCOL, signal)
      const lp = lpStream(stream, { maxDataLength: this.init.maxMessageBytes })
      const hello = encodeSyncFrame({ kind: 'digest', object: obj.name, digests: obj.state.sections.map(m => digest(m)) })
      await lp.write(hello, { signal })
      const buf = (await lp.read({ signal })).subarray()
      this.metrics.bytes.inc({ channel: 'sync', direction: 'in' }, buf.length)
      const reply = decodeSyncFrame(buf, (o) => o === obj.name ? obj.state.types : undefined, this.init.maxMessageBytes)
      if (reply.kind === 'refuse') {
        this.metrics.syncs.inc({ result: 'refused' })
        await stream.close({ signal }).catch(() => {})
        return false
      }
      if (reply.kind !== 'reply') throw new ReplicationFrameError('kind', `expected a reply, got ${reply.kind}`)
      this.ingest(obj, reply.parts.map(p => p.mode === 'none' ? null : p.state), reply.parts.some(p => p.mode === 'full'))
      const parts = obj.state.sections.map((m, i) => this.plan(m, reply.digests[i]))
      if (parts.some(p => p.mode !== 'none')) this.exchanged = true
      const push = encodeSyncFrame({ kind: 'push', object: obj.name, parts })
      this.metrics.bytes.inc({ channel: 'sync', direction: 'out' }, hello.length + push.length)
      await lp.write(push, { signal })
      await stream.close({ signal }).catch(() => {})
      this.metrics.syncs.inc({ result: 'ok' })
      return true
    } catch (err) {
      stream?.abort(err as Error)
      if (err instanceof ReplicationFrameError || (err as Error).name === 'CrdtDecodeError') this.metrics.rejected.inc({ reason: 'malformed' })
      this.metrics.syncs.inc({ result: 'error' })
      if (!this.shutdown.signal.aborted) this.log.debug({ peer: peer.toString(), object: obj.name, err: (err as Error).message }, 'anti-entropy round failed')
      throw err
    }
  }

  private async serveSync (stream: Stream, remote: string): Promise<void> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.callTimeoutMs)])
    const lp = lpStream(stream, { maxDataLength: this.init.maxMessageBytes })
    try {
      const buf = (await lp.read({ signal })).subarray()
      this.metrics.bytes.inc({ channel: 'sync', direction: 'in' }, buf.length)
      let req
      try {
        req = decodeSyncFrame(buf, (o) => this.typesOf(o), this.init.maxMessageBytes)
      } catch (err) {
        if (err instanceof ReplicationFrameError && err.field === 'object') {
          this.metrics.rejected.inc({ reason: 'not-local' })
          await lp.write(encodeSyncFrame({ kind: 'refuse', object: '', reason: 'not replicated here' }), { signal })
          await stream.close({ signal })
          return
        }
        throw err
      }
      if (req.kind !== 'digest') throw new ReplicationFrameError('kind', `expected a digest, got ${req.kind}`)
      const obj = this.objectFor(req.object)
      const allowed = obj === this.catalogue ? await memberOrLearnt(this.c.registry, remote, () => this.knownPeer(remote)) : this.isReplicaOrRetired(req.object, remote)
      if (obj == null || !allowed) {
        this.metrics.rejected.inc({ reason: obj === this.catalogue ? 'unverified-peer' : 'not-replica' })
        await lp.write(encodeSyncFrame({ kind: 'refuse', object: req.object, reason: 'not a replica of this object' }), { signal })
        await stream.close({ signal })
        return
      }
      const reply = encodeSyncFrame({ kind: 'reply', object: obj.name, parts: obj.state.sections.map((m, i) => this.plan(m, req.digests[i])), digests: obj.state.sections.map(m => digest(m)) })
      this.metrics.bytes.inc({ channel: 'sync', direction: 'out' }, reply.length)
      await lp.write(reply, { signal })
      const pushBuf = (await lp.read({ signal })).subarray()
      this.metrics.bytes.inc({ channel: 'sync', direction: 'in' }, pushBuf.length)
      const push = decodeSyncFrame(pushBuf, (o) => o === obj.name ? obj.state.types : undefined, this.init.maxMessageBytes)
      if (push.kind !== 'push') throw new ReplicationFrameError('kind', `expected a push, got ${push.kind}`)
      this.ingest(obj, push.parts.map(p => p.mode === 'none' ? null : p.state), push.parts.some(p => p.mode === 'full'))
      await stream.close({ signal })
    } catch (err) {
      if (err instanceof ReplicationFrameError || (err as Error).name === 'CrdtDecodeError' || (err as Error).name === 'InvalidDataLengthError') {
        this.metrics.rejected.inc({ reason: (err as Error).name === 'InvalidDataLengthError' ? 'oversized' : 'malformed' })
      }
      this.log.debug({ remote, err: (err as Error).message }, 'anti-entropy serve failed')
      stream.abort(err as Error)
    }
  }

  /** one automerge sync session with a co-replica (`wait`: as syncObject) */
  async syncDoc (peer: PeerId, doc: AutomergeReplica, signal: AbortSignal, wait = false): Promise<boolean> {
    return this.exclusive(`${peer.toString()}\n${doc.name}\nam`, signal, wait, async () => this.syncDocOnce(peer, doc, signal))
  }

  private async syncDocOnce (peer: PeerId, doc: AutomergeReplica, signal: AbortSignal): Promise<boolean> {
    let stream: Stream | undefined
    try {
      stream = await this.dial(peer.toString(), AUTOMERGE_SYNC_PROTOCOL, signal)
      const lp = lpStream(stream, { maxDataLength: this.init.maxMessageBytes })
      await lp.write(new TextEncoder().encode(doc.name), { signal })
      if (await doc.initiate(lp, { signal })) this.afterDocChange(doc)
      await stream.close({ signal }).catch(() => {})
      this.metrics.syncs.inc({ result: 'ok' })
      return true
    } catch (err) {
      stream?.abort(err as Error)
      if ((err as Error).name === 'AutomergeFrameError') this.metrics.rejected.inc({ reason: 'malformed' })
      this.metrics.syncs.inc({ result: 'error' })
      if (!this.shutdown.signal.aborted) this.log.debug({ peer: peer.toString(), service: doc.name, err: (err as Error).message }, 'automerge sync failed')
      throw err
    }
  }

  private afterDocChange (doc: AutomergeReplica): void {
    doc.persist().catch((err: Error) => { this.log.warn({ service: doc.name, err }, 'persisting the automerge document failed') })
    this.updateStaleness(doc)
  }

  private async serveAutomerge (stream: Stream, remote: string): Promise<void> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.callTimeoutMs)])
    const lp = lpStream(stream, { maxDataLength: this.init.maxMessageBytes })
    try {
      const nameBytes = (await lp.read({ signal })).subarray()
      const name = nameBytes.length <= 63 ? new TextDecoder().decode(nameBytes) : ''
      const doc = this.docs.get(name)
      if (doc == null || !this.isReplicaOrRetired(name, remote)) {
        this.metrics.rejected.inc({ reason: doc == null ? 'not-local' : 'not-replica' })
        stream.abort(new Error('not a replica of this service'))
        return
      }
      if (await doc.respond(lp, { signal })) this.afterDocChange(doc)
      await stream.close({ signal })
    } catch (err) {
      if ((err as Error).name === 'AutomergeFrameError') this.metrics.rejected.inc({ reason: 'malformed' })
      this.log.debug({ remote, err: (err as Error).message }, 'automerge sync serve failed')
      stream.abort(err as Error)
    }
  }

  // ---- forwarding ---------------------------------------------------------------

  /**
   * replicas of `name` in the order a forwarded call tries them: first those
   * that did not fail a call in the last FORWARD_SUSPECT_MS, then connected,
   * then measured RTT, then peer id
   */
  nearestReplicas (name: string): string[] {
    const entry = this.entry(name)
    const connected = new Set(this.c.libp2p.getPeers().map(String))
    const now = this.now()
    for (const [p, until] of this.suspect) if (until <= now) this.suspect.delete(p)
    const rtt = (p: string): number => this.c.rtt?.(p) ?? Number.POSITIVE_INFINITY
    return entry.replicas.filter(p => p !== this.self).sort((a, b) =>
      Number(this.suspect.has(a)) - Number(this.suspect.has(b)) ||
      Number(connected.has(b)) - Number(connected.has(a)) || rtt(a) - rtt(b) || (a < b ? -1 : a > b ? 1 : 0))
  }

  /**
   * Sends a data-API call to the nearest replica that answers, trying the
   * others when one fails or stalls (each attempt has `forwardAttemptMs`,
   * not the whole call timeout, so a replica behind a dead connection, e.g.
   * one left half-open by a partition, does not eat the caller's budget).
   * Reads are hedged: when an attempt has not answered in time the next
   * replica is asked as well and the first answer wins. A write is retried
   * only when it never left this peer: once sent, the replica may have
   * applied it even if the answer was lost, and applying a counter delta
   * twice is wrong. A replica that failed or stalled is tried after the
   * others for a while; a connection on which a call stalls is closed so the
   * next call dials the replica afresh.
   */
  private async forward (req: RpcRequest, options: ReadOptions): Promise<unknown> {
    this.assertStarted()
    const candidates = this.nearestReplicas(req.service)
    this.metrics.forwarded.inc({ op: req.op })
    const outer = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.callTimeoutMs), ...(options.signal != null ? [options.signal] : [])])
    const read = READ_OPS.has(req.op)
    let last: unknown
    const settle = (peer: string, res: RpcResponse): unknown => {
      if (res.ok) return res.result
      const e = res.error
      if (e.name === 'KeyNotFoundError') throw new KeyNotFoundError(req.service, req.key ?? '')
      if (e.name === 'RevisionMismatchError') throw new RevisionMismatchError(req.key ?? '', req.ifRevision ?? 0, e.actual ?? 0)
      if (e.name === 'ServiceNotFoundError') throw new ServiceNotFoundError(req.service)
      if (e.name === 'OperationNotSupportedError') throw new OperationNotSupportedError(e.message)
      if (e.name === 'ForwardForbiddenError') throw new ForwardForbiddenError(`replica ${peer}: ${e.message}`)
      throw new ServiceUnavailableError(`replica ${peer}: ${e.message}`)
    }
    const definitive = (err: unknown): boolean => err instanceof KeyNotFoundError || err instanceof RevisionMismatchError ||
      err instanceof ServiceNotFoundError || err instanceof OperationNotSupportedError || err instanceof ForwardForbiddenError
    if (read) {
      // hedged: attempt i starts when attempt i-1 failed or has not answered within forwardAttemptMs
      const attempts = new AbortController()
      const signal = AbortSignal.any([outer, attempts.signal])
      const unanswered = new Set<string>()
      try {
        return await new Promise<unknown>((resolve, reject) => {
          let next = 0
          let running = 0
          let done = false
          let timer: ReturnType<typeof setTimeout> | undefined
          const finish = (): void => {
            if (done || running > 0 || next < candidates.length) return
            done = true
            reject(new ServiceUnavailableError(`no replica of ${req.service} answered${last != null ? `: ${(last as Error).message}` : ''}`))
          }
          const launch = (): void => {
            if (timer != null) clearTimeout(timer)
            timer = undefined
            if (done || outer.aborted) return
            if (next >= candidates.length) { finish(); return }
            const peer = candidates[next++]
            running++
            const answered = { v: false }
            unanswered.add(peer)
            const stage = { opened: false }
            timer = setTimeout(() => {
              timer = undefined
              // no answer in time: ask the next replica too (hedged) and try this one after the others for a
              // while; its connection is closed only if it never answers within the whole call (below), since a
              // busy replica is slow, not dead, and its connection carries every other protocol
              if (!answered.v) this.failed(peer)
              launch()
            }, this.init.forwardAttemptMs)
            this.attempt(peer, req, signal, stage).then(res => {
              answered.v = true
              unanswered.delete(peer)
              running--
              if (done) return
              try {
                const result = settle(peer, res)
                done = true
                resolve(result)
              } catch (err) {
                if (definitive(err)) { done = true; reject(err); return }
                last = err
                launch()
              }
            }, (err: unknown) => {
              answered.v = true
              if (!outer.aborted) unanswered.delete(peer)
              running--
              if (done) return
              last = err
              if (outer.aborted) { done = true; reject(new ServiceUnavailableError(`no replica of ${req.service} answered: ${(outer.reason as Error)?.message ?? 'aborted'}`)); return }
              this.failed(peer)
              launch()
            })
          }
          outer.addEventListener('abort', () => {
            if (timer != null) clearTimeout(timer)
            // the whole call timed out (not the client leaving, not shutdown): a replica that never
            // answered sits behind a dead connection (half-open after a partition); close it to re-dial
            if (options.signal?.aborted !== true && !this.shutdown.signal.aborted) {
              for (const peer of unanswered) this.stalled(peer, 'no answer within the call timeout')
            }
            if (!done) { done = true; reject(new ServiceUnavailableError(`no replica of ${req.service} answered: ${(outer.reason as Error)?.message ?? 'aborted'}`)) }
          }, { once: true })
          if (candidates.length === 0) finish()
          else launch()
        })
      } finally {
        attempts.abort(new Error('forwarded call settled'))
      }
    }
    for (const peer of candidates) {
      let res: RpcResponse
      try {
        res = await this.attempt(peer, req, outer)
      } catch (err) {
        last = err
        if (outer.aborted) break
        this.failed(peer)
        if ((err as { requestSent?: boolean }).requestSent === true) break
        continue
      }
      try {
        return settle(peer, res)
      } catch (err) {
        if (definitive(err)) throw err
        last = err
      }
    }
    throw new ServiceUnavailableError(`no replica of ${req.service} answered${last != null ? `: ${(last as Error).message}` : ''}`)
  }

  /** a replica failed a forwarded call: try it after the others for a while */
  private failed (peer: string): void {
    this.suspect.set(peer, this.now() + FORWARD_SUSPECT_MS)
  }

  /**
   * A forwarded call got no answer (read) or no stream (write) over an open
   * connection in time: that connection is likely dead (half-open after a
   * partition, TCP still backing off), so it is closed and the next call
   * dials the peer afresh; the replica is tried after the others for a while.
   */
  private stalled (peer: string, why: string): void {
    this.failed(peer)
    const conns = this.c.libp2p.getConnections(peerIdFromString(peer))
    if (conns.length === 0) return
    this.log.info({ peer, why }, 'forwarded call stalled: closing the connection to re-dial the replica')
    for (const conn of conns) conn.abort(new Error(`forwarded call stalled (${why})`))
  }

  /**
   * One forwarded call to one replica. A write over an open connection must
   * have its stream open within forwardAttemptMs (else that connection is
   * treated as stalled and the write moves on, never sent); once sent, it
   * waits up to the call timeout for the answer. Settles when `signal`
   * aborts even if a libp2p call ignores the signal.
   */
  private async attempt (peer: string, req: RpcRequest, signal: AbortSignal, stage: { opened: boolean } = { opened: false }): Promise<RpcResponse> {
    const connected = this.c.libp2p.getConnections(peerIdFromString(peer)).length > 0
    if (READ_OPS.has(req.op) || !connected) return raceSignal(this.call(peer, req, signal, signal, () => { stage.opened = true }), signal)
    const opening = new AbortController()
    const timer = setTimeout(() => { opening.abort(new ForwardAttemptTimeoutError(`replica ${peer}: no stream within ${this.init.forwardAttemptMs} ms`)) }, this.init.forwardAttemptMs)
    try {
      return await raceSignal(this.call(peer, req, signal, AbortSignal.any([signal, opening.signal]), () => { stage.opened = true; clearTimeout(timer) }), signal)
    } catch (err) {
      if (opening.signal.aborted && !stage.opened) this.stalled(peer, 'no stream')
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  /** a replica by peer id; its descriptor's addresses when the peer store has none */
  private async dial (peer: string, protocol: string, signal: AbortSignal): Promise<Stream> {
    return await dialPeer(this.c.libp2p, peer, protocol, () => endAddresses(this.c.registry, peer), signal)
  }

  private async call (peer: string, req: RpcRequest, signal: AbortSignal, openSignal: AbortSignal = signal, onOpen?: () => void): Promise<RpcResponse> {
    return await inSpan(`dcis.crdt.rpc.${req.op}`, { kind: SpanKind.CLIENT, attributes: { 'dcis.service': req.service, 'dcis.peer.target': peer } }, async () => await this.callOnce(peer, { ...req, ...traceFields() }, signal, openSignal, onOpen))
  }

  private async callOnce (peer: string, req: RpcRequest, signal: AbortSignal, openSignal: AbortSignal, onOpen?: () => void): Promise<RpcResponse> {
    const stream = await raceSignal(this.dial(peer, RPC_PROTOCOL, openSignal), openSignal)
    onOpen?.()
    let sent = false
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_RPC_BYTES })
      await lp.write(encodeJson(req), { signal })
      sent = true
      const res = decodeRpcResponse((await lp.read({ signal })).subarray())
      await stream.close({ signal }).catch(() => {})
      return res
    } catch (err) {
      stream.abort(err as Error)
      if (sent && err instanceof Error) Object.assign(err, { requestSent: true })
      throw err
    }
  }

  private async serveRpc (stream: Stream, remote: string): Promise<void> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.callTimeoutMs)])
    const lp = lpStream(stream, { maxDataLength: MAX_RPC_BYTES })
    try {
      let res: RpcResponse
      try {
        const req = decodeRpcRequest((await lp.read({ signal })).subarray())
        // only verified mesh peers may forward, and the caller's own rights to the data are checked here again (status is info, open)
        if (!await memberOrLearnt(this.c.registry, remote, () => this.knownPeer(remote))) {
          this.metrics.rejected.inc({ reason: 'unverified-peer' })
          throw new ServiceUnavailableError('forwarded calls are accepted from verified mesh peers only')
        }
        const authorize = this.c.authorizeForwarded
        if (authorize !== undefined && req.op !== 'status' && !await authorize({ access: READ_OPS.has(req.op) ? 'read' : 'write', service: req.service, remotePeer: remote, ...(req.token !== undefined ? { token: req.token } : {}) })) {
          this.metrics.rejected.inc({ reason: 'forbidden' })
          throw new ForwardForbiddenError(`the caller may not ${READ_OPS.has(req.op) ? 'read' : 'write'} ${req.service} on ${this.self}`)
        }
        const incoming = incomingTrace(req)
        res = { v: 1, ok: true, result: await inSpan(`dcis.crdt.rpc.serve.${req.op}`, { kind: SpanKind.SERVER, parent: incoming.parent, links: incoming.links, attributes: { 'dcis.service': req.service, 'dcis.peer.caller': peerAttr(remote, incoming.crossed) } }, async () => await this.execute(req, signal)) }
      } catch (err) {
        const e = err as Error & { actual?: number }
        if (err instanceof ReplicationFrameError) this.metrics.rejected.inc({ reason: 'malformed' })
        res = { v: 1, ok: false, error: { name: e.name, message: e.message.slice(0, 1000), ...(typeof e.actual === 'number' ? { actual: e.actual } : {}) } }
      }
      await lp.write(encodeJson(res), { signal })
      await stream.close({ signal })
    } catch (err) {
      this.log.debug({ remote, err: (err as Error).message }, 'crdt rpc serve failed')
      stream.abort(err as Error)
    }
  }

  /** a forwarded call, answered only from a local replica (never forwarded again) */
  private async execute (req: RpcRequest, signal: AbortSignal): Promise<unknown> {
    this.entry(req.service)
    if (!this.isLocal(req.service) || this.retiring.has(req.service)) throw new ServiceUnavailableError(`this peer holds no replica of ${req.service}`)
    const key = req.key ?? ''
    const w = { signal, ...(req.ifRevision != null ? { ifRevision: req.ifRevision } : {}) }
    switch (req.op) {
      case 'status': return this.status(req.service)
      case 'get': return this.get(req.service, key)
      case 'put': return this.put(req.service, key, req.value ?? '', w)
      case 'delete': return this.delete(req.service, key, w)
      case 'counter': return this.counter(req.service, key)
      case 'addCounter': return this.addCounter(req.service, key, req.delta ?? 0, w)
      case 'members': return this.members(req.service, key)
      case 'setAdd': return this.addMember(req.service, key, req.member ?? '', w)
      case 'setRemove': return this.removeMember(req.service, key, req.member ?? '', w)
      case 'logAppend': return this.appendLog(req.service, key, req.values ?? [], w)
      case 'addCounters': return this.addCounters(req.service, req.entries ?? [], w)
      case 'logRead': return this.readLog(req.service, key, req.range ?? {})
    }
  }
}
