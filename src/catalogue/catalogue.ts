/**
 * The federation catalogue on one peer: its CRDT state and HLC, the
 * snapshot file, gossip of local deltas, anti-entropy with peers, the
 * derived view and change listeners. See index.ts for the interface and
 * docs/catalogue.md for the rules.
 */
import { createHash } from 'node:crypto'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { contextCount, join, ormap } from '../crdt/index.js'
import type { Hlc, ORMap } from '../crdt/index.js'
import { compareHlc, HLC_ZERO, hlcReceive, hlcTick } from '../crdt/hlc.js'
import { CATALOGUE_SECTIONS, decodeGossip, encodeGossip, seqOf } from '../crdt/replication/index.js'
import type { DotFun, LwwValue } from '../crdt/stores.js'
import { CATALOGUE_TOPIC } from './constants.js'
import { CatalogueNotStartedError, CatalogueRecordError, RolloutConflictError } from './errors.js'
import { createCatalogueMetrics } from './metrics.js'
import { DatastoreSnapshot, SnapshotFile } from './persist.js'
import type { SnapshotStore } from './persist.js'
import { applyOps, emptyState } from './ops.js'
import type { Op } from './ops.js'
import { keys } from './records.js'
import type { CatalogueManifestKind, CurrentRecord, EventRecord, KnownGoodRecord, ManifestRecord, VersionRecord } from './records.js'
import { CatalogueSync } from './sync.js'
import { checkDelta, maxStampUnder, viewOf } from './view.js'
import type { CatalogueView, FunctionView, ManifestView } from './view.js'
import type { Catalogue, CatalogueComponents, CatalogueInit, DeployVersionOptions, NewEvent, NewManifest, NewVersion, RolloutChange } from './index.js'
import type { RolloutRecord, RolloutReportRecord } from './rollout-records.js'
import type { CatalogueMetrics, CatalogueRejectReason } from './metrics.js'
import type { Message } from '@libp2p/gossipsub'
import type { AbortOptions, PeerId } from '@libp2p/interface'

/** events kept per function: past this many, a writer removes the oldest down to EVENTS_AFTER_PRUNE */
const MAX_EVENT_RECORDS = 200
const EVENTS_AFTER_PRUNE = 150
/** how often (and how many times) a connection to a not-yet-verified peer is retried */
const VERIFY_RETRY_MS = 1000
const VERIFY_RETRIES = 20


function sortKeys (v: unknown): unknown {
  if (v == null || typeof v !== 'object' || Array.isArray(v)) return v
  return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([k, x]) => [k, sortKeys(x)]))
}

export class FederationCatalogue implements Catalogue {
  private readonly c: CatalogueComponents
  private readonly init: Required<Omit<CatalogueInit, 'dir' | 'datastore' | 'checkSpec' | 'sealer'>> & Pick<CatalogueInit, 'checkSpec'>
  private readonly metrics?: CatalogueMetrics
  private readonly self: string
  private state: ORMap = emptyState()
  private clock: Hlc = HLC_ZERO
  private cached?: CatalogueView
  private readonly file?: SnapshotStore
  private readonly sync?: CatalogueSync
  private readonly net?: NonNullable<CatalogueComponents['libp2p']>
  private readonly listeners = new Set<() => void>()
  private started = false
  private shutdown = new AbortController()
  private syncTimer?: ReturnType<typeof setTimeout>
  private pushTimer?: ReturnType<typeof setTimeout>
  private readonly retries = new Map<string, { timer: ReturnType<typeof setTimeout>, left: number }>()
  /** serializes local writes (each builds on the state the previous one left) */
  private writing: Promise<unknown> = Promise.resolve()

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    this.syncOnConnect(evt.detail, VERIFY_RETRIES)
  }

  constructor (components: CatalogueComponents, init: CatalogueInit = {}) {
    this.c = components
    this.net = components.libp2p
    this.self = components.libp2p?.peerId.toString() ?? components.peerId ?? 'local'
    this.init = {
      syncIntervalMs: init.syncIntervalMs ?? 30_000,
      syncFanout: init.syncFanout ?? 2,
      pushFanout: init.pushFanout ?? 4,
      maxMessageBytes: init.maxMessageBytes ?? 4 * 1024 * 1024,
      maxDriftMs: init.maxDriftMs ?? 60_000,
      callTimeoutMs: init.callTimeoutMs ?? 10_000,
      maxEntries: init.maxEntries ?? 100_000,
      ...(init.checkSpec != null ? { checkSpec: init.checkSpec } : {})
    }
    this.metrics = components.metrics != null ? createCatalogueMetrics(components.metrics) : undefined
    if (init.dir != null) this.file = new SnapshotFile(init.dir, init.sealer)
    else if (init.datastore != null) this.file = new DatastoreSnapshot(init.datastore)
    if (this.net != null) this.sync = new CatalogueSync({
      libp2p: this.net,
      ...(components.logger != null ? { logger: components.logger } : {}),
      ...(this.metrics != null ? { metrics: this.metrics } : {}),
      allowed: (peer) => this.knownPeer(peer),
      state: () => this.state,
      ingest: (delta, from) => this.ingest(delta, from, 'sync')
    }, { maxMessageBytes: this.init.maxMessageBytes, callTimeoutMs: this.init.callTimeoutMs })
  }

  get peerId (): string {
    return this.self
  }

  async start (): Promise<void> {
    if (this.started) return
    this.shutdown = new AbortController()
    await this.load()
    const libp2p = this.net
    this.started = true
    if (libp2p != null) {
      await this.sync?.start()
      libp2p.services.pubsub.topicValidators.set(CATALOGUE_TOPIC, async (_p, msg) => this.validateGossip(msg))
      libp2p.services.pubsub.subscribe(CATALOGUE_TOPIC)
      libp2p.addEventListener('peer:connect', this.onConnect)
      this.scheduleSync()
      for (const p of libp2p.getPeers()) this.syncOnConnect(p, VERIFY_RETRIES)
    }
    this.c.logger?.info({ records: this.size(), functions: this.view().functions.size, manifests: this.view().manifests.length }, 'catalogue loaded')
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.shutdown.abort()
    clearTimeout(this.syncTimer)
    clearTimeout(this.pushTimer)
    for (const r of this.retries.values()) clearTimeout(r.timer)
    this.retries.clear()
    const libp2p = this.net
    if (libp2p != null) {
      libp2p.removeEventListener('peer:connect', this.onConnect)
      libp2p.services.pubsub.topicValidators.delete(CATALOGUE_TOPIC)
      libp2p.services.pubsub.unsubscribe(CATALOGUE_TOPIC)
      await this.sync?.stop()
    }
    await this.writing.catch(() => {})
    await this.file?.write(() => ({ state: this.sectioned(), clock: this.clock })).catch((err: unknown) => {
      this.c.logger?.error({ err }, 'could not persist the catalogue on stop')
    })
  }

  // ---- reads -----------------------------------------------------------------

  view (): CatalogueView {
    this.cached ??= viewOf(this.state, this.init.checkSpec)
    return this.cached
  }

  functions (): FunctionView[] {
    return [...this.view().functions.values()]
  }

  function (name: string): FunctionView | undefined {
    return this.view().functions.get(name)
  }

  manifests (kind?: CatalogueManifestKind): ManifestView[] {
    const all = this.view().manifests
    return kind == null ? [...all] : all.filter(m => m.kind === kind)
  }

  manifest (kind: CatalogueManifestKind, name: string): ManifestView | undefined {
    return this.view().manifests.find(m => m.kind === kind && m.name === name)
  }

  size (): number {
    return this.state.store.size
  }

  fingerprint (): string {
    const h = createHash('sha256')
    for (const key of ormap.keys(this.state)) {
      const store = this.state.store.get(key) as DotFun<LwwValue>
      h.update(key).update('\0')
      for (const e of store) h.update(`${e.dot.replica}:${e.dot.counter}:${e.value.ts.wall}.${e.value.ts.logical}:`).update(e.value.value).update('\0')
    }
    return h.digest('hex')
  }

  onChange (listener: () => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  // ---- writes ----------------------------------------------------------------

  async deployVersion (name: string, version: NewVersion, options: DeployVersionOptions = {}): Promise<FunctionView> {
    const makeCurrent = options.makeCurrent ?? true
    await this.write(name, (ts) => {
      const at = this.isoNow()
      const ops: Op[] = []
      const existing = this.function(name)?.versions.find(v => v.cid === version.cid)
      if (existing == null) {
        const rec: VersionRecord = { ...version, deployedAt: at, deployedBy: this.self, deployedHlc: [ts.wall, ts.logical] }
        ops.push({ key: keys.version(name, version.cid), value: rec })
      } else {
        const { version: _n, knownGood: _g, stamp: _s, ...old } = existing
        const rec: VersionRecord = { ...version, deployedAt: old.deployedAt, deployedBy: old.deployedBy, deployedHlc: old.deployedHlc }
        // new runtime fields (limits, env, ...) for the same module: same number, new record
        if (JSON.stringify(sortKeys(rec)) !== JSON.stringify(sortKeys(old))) ops.push({ key: keys.version(name, version.cid), value: rec })
      }
      const from = this.function(name)?.current
      const cur: CurrentRecord = { id: version.cid, at, by: this.self }
      if (makeCurrent) ops.push({ key: keys.current(name), value: cur })
      const number = existing?.version ?? (this.function(name)?.versions.length ?? 0) + 1
      ops.push(...this.eventOps(name, { type: 'deployed', version: number, id: version.cid, ...(from != null && from !== version.cid ? { from } : {}) }, at))
      return ops
    })
    return this.function(name) as FunctionView
  }

  async setCurrent (name: string, cid: string, event: NewEvent): Promise<FunctionView> {
    await this.write(name, () => {
      const fn = this.function(name)
      if (fn?.versions.some(v => v.cid === cid) !== true) throw new CatalogueRecordError('id', `${cid} is not a version of ${name}`)
      const at = this.isoNow()
      const cur: CurrentRecord = { id: cid, at, by: this.self }
      return [{ key: keys.current(name), value: cur }, ...this.eventOps(name, event, at)]
    })
    return this.function(name) as FunctionView
  }

  async writeRollout (name: string, change: RolloutChange): Promise<FunctionView> {
    await this.write(name, () => {
      const fn = this.function(name)
      if (fn == null || !fn.versions.some(v => v.cid === change.rollout.version)) throw new CatalogueRecordError('rollout.version', `${change.rollout.version} is not a version of ${name}`)
      if (change.expect != null && fn.rollout?.id !== change.expect) throw new RolloutConflictError(name, change.expect, fn.rollout?.id)
      const at = this.isoNow()
      // a record taken from a view carries its stamp: that is the view's, not the record's
      const { stamp: _stamp, ...rollout } = change.rollout as RolloutRecord & { stamp?: unknown }
      const ops: Op[] = [{ key: keys.rollout(name), value: rollout }]
      if (change.current != null) {
        if (!fn.versions.some(v => v.cid === change.current)) throw new CatalogueRecordError('current', `${change.current} is not a version of ${name}`)
        const cur: CurrentRecord = { id: change.current, at, by: this.self }
        ops.push({ key: keys.current(name), value: cur })
      }
      if (change.clearReports === true) {
        for (const r of fn.reports) ops.push({ key: keys.report(name, r.peer), remove: true })
      }
      if (change.event != null) ops.push(...this.eventOps(name, change.event, at))
      return ops
    })
    return this.function(name) as FunctionView
  }

  async putRolloutReport (name: string, report: Omit<RolloutReportRecord, 'peer' | 'at'>): Promise<void> {
    const rec: RolloutReportRecord = { ...report, peer: this.self, at: this.isoNow() }
    await this.write(name, () => [{ key: keys.report(name, this.self), value: rec }])
  }

  async markKnownGood (name: string, cid: string): Promise<boolean> {
    const v = this.function(name)?.versions.find(x => x.cid === cid)
    if (v == null || v.knownGood) return false
    const good: KnownGoodRecord = { at: this.isoNow(), by: this.self }
    await this.write(name, () => [{ key: keys.good(name, cid), value: good }])
    return true
  }

  async recordEvent (name: string, event: NewEvent): Promise<void> {
    await this.write(name, () => this.eventOps(name, event, this.isoNow()))
  }

  async putManifest (manifest: NewManifest): Promise<ManifestView> {
    const rec: ManifestRecord = { ...manifest, appliedAt: this.isoNow(), appliedBy: this.self }
    await this.write(`m/${manifest.kind}/${manifest.name}`, () => [{ key: keys.manifest(manifest.kind, manifest.name), value: rec }], true)
    return this.manifest(manifest.kind, manifest.name) as ManifestView
  }

  async removeManifest (kind: CatalogueManifestKind, name: string): Promise<boolean> {
    if (this.manifest(kind, name) == null) return false
    await this.write(`m/${kind}/${name}`, () => [{ key: keys.manifest(kind, name), remove: true }], true)
    return true
  }

  async syncNow (options: AbortOptions = {}): Promise<void> {
    const signal = this.signal(options.signal)
    await Promise.all((this.net?.getPeers() ?? []).map(async p => this.syncWith(p, signal)))
  }

  // ---- internals -------------------------------------------------------------

  private eventOps (name: string, event: NewEvent, at: string): Op[] {
    const rec: EventRecord = { ...event, at, by: this.self }
    const tick = hlcTick(this.clock, this.now())
    const id = `${tick.wall}-${tick.logical}-${this.self.slice(-16).replace(/[^A-Za-z0-9]/g, '')}`
    const ops: Op[] = [{ key: keys.event(name, id), value: rec }]
    const existing = this.function(name)?.eventKeys ?? []
    if (existing.length + 1 > MAX_EVENT_RECORDS) {
      for (const key of existing.slice(0, existing.length + 1 - EVENTS_AFTER_PRUNE)) ops.push({ key, remove: true })
    }
    return ops
  }

  /**
   * One local write: the ops become one delta stamped with an HLC later
   * than everything this peer has seen under the same function (or
   * manifest), persisted, then gossiped and pushed to a few peers.
   */
  private async write (scope: string, make: (ts: Hlc) => Op[], exact = false): Promise<void> {
    if (!this.started) throw new CatalogueNotStartedError()
    const run = async (): Promise<void> => {
      const prefix = exact ? scope : keys.functionPrefix(scope)
      const seen = maxStampUnder(this.state, prefix)
      const base = seen != null && compareHlc(seen, this.clock) > 0 ? seen : this.clock
      const ts = hlcTick(base, this.now())
      const ops = make(ts)
      if (ops.length === 0) return
      const { state, delta } = applyOps(this.state, this.self, ts, ops)
      if (delta == null) return
      checkDelta(delta, this.init.checkSpec)
      this.state = state
      this.clock = ts
      this.changed()
      await this.persist()
      await this.publish(delta)
      this.schedulePush()
    }
    const p = this.writing.then(run, run)
    this.writing = p.catch(() => {})
    await p
  }

  private async persist (): Promise<void> {
    await this.file?.write(() => ({ state: this.sectioned(), clock: this.clock }))
  }

  private sectioned (): { types: typeof CATALOGUE_SECTIONS, sections: ORMap[] } {
    return { types: CATALOGUE_SECTIONS, sections: [this.state] }
  }

  private async load (): Promise<void> {
    if (this.file == null) return
    try {
      const snap = await this.file.load()
      if (snap == null) return
      const m = snap.state.sections[0]
      checkDelta(m, this.init.checkSpec)
      this.state = m
      this.clock = snap.clock
      this.changed()
    } catch (err) {
      // a damaged file must not keep the peer down: start empty and let
      // anti-entropy refill the copy; the file is kept aside for inspection
      const moved = await this.file.quarantine().catch(() => undefined)
      this.c.logger?.error({ err, movedTo: moved }, 'the persisted catalogue is unreadable: starting empty, anti-entropy refills it')
    }
  }

  private changed (): void {
    this.cached = undefined
    this.metrics?.entries.set(this.state.store.size)
    for (const l of this.listeners) {
      try {
        l()
      } catch (err) {
        this.c.logger?.warn({ err }, 'a catalogue listener failed')
      }
    }
  }

  private async publish (delta: ORMap): Promise<void> {
    if (this.net == null) return
    const bytes = encodeGossip({ kind: 'delta', seq: seqOf(this.sectioned(), this.self), hlc: this.clock, delta: [delta] })
    try {
      await this.net.services.pubsub.publish(CATALOGUE_TOPIC, bytes)
    } catch (err) {
      // nobody subscribed yet: the push and anti-entropy carry it
      this.c.logger?.debug({ err: (err as Error).message }, 'catalogue gossip not sent')
    }
  }

  /** right after local writes, a push-pull with a few connected peers (gossip may not have a mesh yet) */
  private schedulePush (): void {
    if (this.pushTimer != null || !this.started || this.net == null) return
    this.pushTimer = setTimeout(() => {
      this.pushTimer = undefined
      const peers = this.shuffled(this.net?.getPeers() ?? []).slice(0, this.init.pushFanout)
      const signal = this.signal()
      Promise.all(peers.map(async p => this.syncWith(p, signal))).catch(() => {})
    }, 20)
    this.pushTimer.unref?.()
  }

  private reject (reason: CatalogueRejectReason, result: TopicValidatorResult): TopicValidatorResult {
    this.metrics?.rejected.inc({ reason })
    return result
  }

  private knownPeer (peerId: string): boolean {
    const registry = this.c.registry
    if (registry == null || peerId === this.self) return true
    return registry.list().some(e => e.end.peerId === peerId)
  }

  /** the topic validator: signed, from a federation member, well formed, every record valid */
  private async validateGossip (msg: Message): Promise<TopicValidatorResult> {
    if (msg.type !== 'signed') return this.reject('unsigned', TopicValidatorResult.Reject)
    if (msg.data.byteLength > this.init.maxMessageBytes) return this.reject('oversized', TopicValidatorResult.Reject)
    const from = msg.from.toString()
    if (!this.knownPeer(from)) return this.reject('unverified-peer', TopicValidatorResult.Ignore)
    let m
    try {
      m = decodeGossip(msg.data, CATALOGUE_SECTIONS, this.init.maxMessageBytes)
    } catch (err) {
      this.c.logger?.debug({ from, err: (err as Error).message }, 'malformed catalogue gossip')
      return this.reject('malformed', TopicValidatorResult.Reject)
    }
    let clock: Hlc
    try {
      clock = hlcReceive(this.clock, m.hlc, this.now(), { maxDriftMs: this.init.maxDriftMs })
    } catch {
      return this.reject('clock-drift', TopicValidatorResult.Reject)
    }
    if (m.kind !== 'delta' || m.delta[0] == null) return TopicValidatorResult.Accept
    if (!this.ingest(m.delta[0], from, 'gossip')) return TopicValidatorResult.Reject
    this.clock = clock
    return TopicValidatorResult.Accept
  }

  /** checks and joins received state; false when it was refused */
  private ingest (delta: ORMap, from: string, channel: 'gossip' | 'sync'): boolean {
    if (!this.started) return false
    try {
      checkDelta(delta, this.init.checkSpec)
    } catch (err) {
      this.metrics?.rejected.inc({ reason: 'invalid-record' })
      this.c.logger?.warn({ from, channel, err: (err as Error).message }, 'dropped a catalogue delta with an invalid record')
      return false
    }
    const next = join(this.state, delta)
    if (next.store.size > this.init.maxEntries) {
      this.metrics?.rejected.inc({ reason: 'too-many-entries' })
      this.c.logger?.warn({ from, records: next.store.size, max: this.init.maxEntries }, 'dropped a catalogue delta: the catalogue would exceed its record limit')
      return false
    }
    this.metrics?.accepted.inc({ channel })
    const before = contextCount(this.state.ctx)
    this.state = next
    // keep the clock ahead of every stamp received (bounded by the drift limit)
    const seen = maxStampUnder(delta, '')
    const limit = this.now() + this.init.maxDriftMs
    if (seen != null && compareHlc(seen, this.clock) > 0 && seen.wall <= limit) this.clock = seen
    // every new record or removal brings new dots: an unchanged count means nothing new
    if (contextCount(this.state.ctx) !== before) {
      this.changed()
      this.persist().catch((err: unknown) => { this.c.logger?.warn({ err }, 'persisting received catalogue state failed') })
    }
    return true
  }

  private syncOnConnect (peer: PeerId, left: number): void {
    if (!this.started) return
    const id = peer.toString()
    const old = this.retries.get(id)
    if (old != null) { clearTimeout(old.timer); this.retries.delete(id) }
    if (!this.knownPeer(id)) {
      // the registry has not verified this peer yet: try again shortly
      if (left <= 0) return
      const timer = setTimeout(() => {
        this.retries.delete(id)
        if (this.net?.getPeers().some(p => p.equals(peer)) === true) this.syncOnConnect(peer, left - 1)
      }, VERIFY_RETRY_MS)
      timer.unref?.()
      this.retries.set(id, { timer, left })
      return
    }
    this.syncWith(peer, this.signal()).catch(() => {})
  }

  private async syncWith (peer: PeerId, signal: AbortSignal): Promise<void> {
    if (!this.started || this.sync == null || !this.knownPeer(peer.toString())) return
    await this.sync.syncWith(peer, signal).catch((err: unknown) => {
      if (!this.shutdown.signal.aborted) this.c.logger?.debug({ peer: peer.toString(), err: (err as Error).message }, 'catalogue anti-entropy failed')
    })
  }

  private scheduleSync (): void {
    if (!this.started) return
    const ms = Math.round(this.init.syncIntervalMs * (0.75 + Math.random() * 0.5))
    this.syncTimer = setTimeout(() => {
      const peers = this.shuffled(this.net?.getPeers() ?? []).slice(0, this.init.syncFanout)
      const signal = this.signal()
      Promise.all(peers.map(async p => this.syncWith(p, signal)))
        .catch(() => {})
        .finally(() => { this.scheduleSync() })
    }, ms)
    this.syncTimer.unref?.()
  }

  private shuffled<T> (xs: T[]): T[] {
    const a = xs.slice()
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1))
      const t = a[i]; a[i] = a[j]; a[j] = t
    }
    return a
  }

  private signal (extra?: AbortSignal): AbortSignal {
    return AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.callTimeoutMs), ...(extra != null ? [extra] : [])])
  }

  private now (): number {
    return this.c.now?.() ?? Date.now()
  }

  private isoNow (): string {
    return new Date(this.now()).toISOString()
  }
}
