/**
 * Sinks on a peer: ships snapshots of a service's counters and log
 * segments every interval to a core (HTTP or a directory), and the records
 * functions emit (`dcis.sink_emit`). At-least-once: every record carries an
 * idempotency key the receiver deduplicates on; batches wait in a bounded
 * on-disk spool and are retried with exponential back-off while the core is
 * unreachable.
 *
 * Exactly one replica ships each snapshot: the live replica of the source
 * service with the lowest peer id takes window W (= the last complete
 * interval) unless the service's replicated kv says W was shipped
 * (`_sink/<sink>/shipped`, and the shippers' mark documents). Log entries
 * are tracked by dot (src/sinks/marks.ts): every entry no mark covers ships
 * under the next window whatever its HLC, so an entry that arrives late
 * (acked by a replica killed before it replicated) still ships, once. The
 * marks are written only after the window's last batch was delivered, so a
 * shipper killed in between is replaced by the next lowest live replica,
 * which ships W again under the same keys: the receiver keeps one copy. In
 * a partition both sides may ship; each writes its own mark document
 * (`_sink/<sink>/marks/<peer>`, listed in the add-wins set
 * `_sink/<sink>/shippers`) and readers join them all.
 */
import { join } from 'node:path'
import { Counter, Gauge } from 'prom-client'
import { DeliveryError, deliver } from './deliver.js'
import { SinkNotFoundError, SinkRecordError } from './errors.js'
import { checkRegionPolicy, sinkSpecOf } from './spec.js'
import { advanceMark, covers, emptyDoc, joinDocs, joinMarks, parseMarkDoc } from './marks.js'
import type { LogMark, MarkDoc } from './marks.js'
import { Spool } from './spool.js'
import type { SinkSpec } from './spec.js'
import type { BatchHeader } from './spool.js'
import type { Logger, MetricsRegistry } from '../telemetry/index.js'
import { reuseMetric } from '../telemetry/metrics.js'
import { comparePositions } from '../crdt/alog.js'
import type { LogPosition } from '../crdt/index.js'

/** what a sink reads of the eventual backend (CrdtBackend fits) */
export interface SinkSourceBackend {
  has: (name: string) => boolean
  isLocal: (name: string) => boolean
  status: (name: string) => Promise<{ spec: { zones: string[], maxStalenessMs?: number }, liveReplicas: Array<{ peerId: string }> }>
  localCounters: (name: string) => Record<string, number> | undefined
  /** a local replica's log entries no mark covers, by dot (CrdtBackend.readLogUncovered) */
  readLogUncovered: (name: string, key: string, covered: (p: LogPosition) => boolean, range: { toMs?: number, limit?: number }) => { entries: Array<{ cursor: string, ts: { wall: number, logical: number }, replica: string, counter: number, value: string }>, held: ReadonlyMap<string, number>, seen: ReadonlyMap<string, number> }
  get: (name: string, key: string) => Promise<{ value: string }>
  put: (name: string, key: string, value: string) => Promise<unknown>
  members: (name: string, key: string) => Promise<{ members: string[] }>
  addMember: (name: string, key: string, member: string) => Promise<unknown>
}

export interface SinkServiceComponents {
  /** this peer's id */
  self: string
  /** spools live in <dir>/<sink> */
  dir: string
  /** the applied Sink manifests (the federation catalogue's) */
  manifests: () => Array<{ name: string, spec: Record<string, unknown>, appliedAt?: string }>
  /**
   * calls the listener when the manifests may have changed (the catalogue's
   * onChange); with it the service keeps no timer while there is no sink.
   * Without it the manifests are polled every tickMs.
   */
  onManifestsChange?: (listener: () => void) => () => void
  backend: () => SinkSourceBackend | undefined
  /** parses a log cursor (src/crdt/replication parseCursor) */
  parseCursor: (c: string) => LogPosition | undefined
  logger: Logger
  metrics?: MetricsRegistry
  now?: () => number
}

export interface SinkServiceInit {
  /** how often windows and emitted records are checked (ms); default 1000 */
  tickMs?: number
  /** emitted records are group-committed to the spool this often (ms); default 5 */
  emitFlushMs?: number
  /** first retry delay after a failed delivery (ms, doubles up to maxBackoffMs); default 500 */
  backoffMs?: number
  maxBackoffMs?: number
}

export const MAX_RECORD_BYTES = 256 * 1024
/** log entries one snapshot ships per log key (the rest go with the next window) */
const MAX_LOG_ENTRIES_PER_WINDOW = 200_000
/** complete windows a new shipper catches up on (the newest; older ones were lost with their shipper) */
const MAX_BACKFILL = 10

function laterCursor (parse: SinkServiceComponents['parseCursor'], a: string, b: string): string {
  const x = parse(a)
  const y = parse(b)
  if (x == null) return b
  if (y == null) return a
  return comparePositions(x, y) >= 0 ? a : b
}

interface SinkMetrics {
  records: Counter<'sink' | 'type'>
  delivered: Counter<'sink'>
  deliveredBytes: Counter<'sink'>
  failures: Counter<'sink'>
  dropped: Counter<'sink'>
  buffered: Gauge<'sink'>
  snapshots: Counter<'sink'>
}

function createSinkMetrics (registry: MetricsRegistry): SinkMetrics {
  const registers = [registry]
  return {
    records: reuseMetric(registry, 'dcis_sink_records_total', () => new Counter({ name: 'dcis_sink_records_total', help: 'Records spooled for a sink, by type (counter, log, event)', labelNames: ['sink', 'type'] as const, registers })),
    delivered: reuseMetric(registry, 'dcis_sink_batches_delivered_total', () => new Counter({ name: 'dcis_sink_batches_delivered_total', help: 'Batches the destination acknowledged', labelNames: ['sink'] as const, registers })),
    deliveredBytes: reuseMetric(registry, 'dcis_sink_delivered_bytes_total', () => new Counter({ name: 'dcis_sink_delivered_bytes_total', help: 'Bytes sent to the destination (after gzip)', labelNames: ['sink'] as const, registers })),
    failures: reuseMetric(registry, 'dcis_sink_delivery_failures_total', () => new Counter({ name: 'dcis_sink_delivery_failures_total', help: 'Failed delivery attempts (retried with back-off)', labelNames: ['sink'] as const, registers })),
    dropped: reuseMetric(registry, 'dcis_sink_dropped_batches_total', () => new Counter({ name: 'dcis_sink_dropped_batches_total', help: 'Batches dropped because the on-disk buffer was full', labelNames: ['sink'] as const, registers })),
    buffered: reuseMetric(registry, 'dcis_sink_buffer_bytes', () => new Gauge({ name: 'dcis_sink_buffer_bytes', help: 'Bytes waiting in the on-disk buffer', labelNames: ['sink'] as const, registers })),
    snapshots: reuseMetric(registry, 'dcis_sink_snapshots_total', () => new Counter({ name: 'dcis_sink_snapshots_total', help: 'Snapshots this peer took (as the shipping replica)', labelNames: ['sink'] as const, registers }))
  }
}

interface SinkState {
  spec: SinkSpec
  specJson: string
  spool: Spool
  /** the window this peer spooled last (not yet marked shipped) */
  spooledWindow: number
  /** the first window of this sink (the one it was applied in): no snapshots of the time before it */
  firstWindow: number
  delivering: boolean
  kick: boolean
  backoff: number
  retryAt: number
  emitted: string[]
  emitWaiters: Array<{ resolve: () => void, reject: (e: Error) => void }>
  emitTimer?: ReturnType<typeof setTimeout>
  emitSeq: number
  /** log key -> the latest position spooled (the legacy cursor mark, for peers that read only it) */
  cursors: Record<string, string>
  /** log key -> what this peer spooled, by dot (joined with the service's marks before each snapshot) */
  marks: Record<string, LogMark>
  /** batches may wait in the spool (set when one is written or a delivery failed) */
  dirty: boolean
}

export class SinkService {
  private readonly c: SinkServiceComponents
  private readonly init: Required<SinkServiceInit>
  private readonly sinks = new Map<string, SinkState>()
  private readonly metrics?: SinkMetrics
  private readonly now: () => number
  private readonly boot = Date.now().toString(36)
  private timer?: ReturnType<typeof setInterval>
  private unsubscribe?: () => void
  private running = false
  private ticking = false
  private shutdown = new AbortController()

  constructor (components: SinkServiceComponents, init: SinkServiceInit = {}) {
    this.c = components
    this.now = components.now ?? Date.now
    this.init = { tickMs: init.tickMs ?? 1000, emitFlushMs: init.emitFlushMs ?? 5, backoffMs: init.backoffMs ?? 500, maxBackoffMs: init.maxBackoffMs ?? 30_000 }
    if (components.metrics != null) this.metrics = createSinkMetrics(components.metrics)
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.shutdown = new AbortController()
    if (this.c.onManifestsChange != null) {
      // no polling: the catalogue says when a manifest changed; the tick runs only while sinks exist
      this.unsubscribe = this.c.onManifestsChange(() => { this.refresh(); this.schedule() })
      this.refresh()
    }
    this.schedule()
    this.tick()
  }

  /** the periodic tick runs while this peer knows a sink (or, without change events, always) */
  private schedule (): void {
    const want = this.running && (this.c.onManifestsChange == null || this.sinks.size > 0)
    if (want && this.timer == null) {
      this.timer = setInterval(() => { this.tick() }, this.init.tickMs)
      this.timer.unref?.()
    } else if (!want && this.timer != null) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  /** whether the periodic tick is running (tests: no timer without sinks) */
  get hasTimer (): boolean {
    return this.timer != null
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.unsubscribe?.()
    this.unsubscribe = undefined
    if (this.timer != null) clearInterval(this.timer)
    this.timer = undefined
    for (const s of this.sinks.values()) {
      if (s.emitTimer != null) clearTimeout(s.emitTimer)
      await this.flushEmitted(s).catch(() => {})
    }
    this.shutdown.abort()
  }

  /** names of the sinks this peer knows */
  list (): string[] {
    this.refresh()
    return [...this.sinks.keys()].sort()
  }

  /** the spec and buffer of a sink, for status routes and tests */
  async status (name: string): Promise<{ name: string, spec: SinkSpec, bufferedBytes: number, bufferedBatches: number }> {
    this.refresh()
    const s = this.sinks.get(name)
    if (s == null) throw new SinkNotFoundError(name)
    return { name, spec: s.spec, bufferedBytes: await s.spool.bytes(), bufferedBatches: (await s.spool.list()).length }
  }

  /**
   * Emits one record to a sink (a function's `dcis.sink_emit`): resolves once
   * it is in the on-disk buffer (group commit), to be shipped with the next
   * batch. `record` is kept as JSON if it parses, else as a string.
   */
  async emit (sink: string, record: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.refresh()
    const s = this.sinks.get(sink)
    if (s == null) throw new SinkNotFoundError(sink)
    if (Buffer.byteLength(record) > MAX_RECORD_BYTES) throw new SinkRecordError(`a record is at most ${MAX_RECORD_BYTES} bytes`)
    let value: unknown = record
    try {
      value = JSON.parse(record)
    } catch {
      // not JSON: shipped as a string
    }
    const key = `${sink}/e/${this.c.self}/${this.boot}/${s.emitSeq++}`
    s.emitted.push(JSON.stringify({ key, type: 'event', sink, peer: this.c.self, at: this.now(), record: value }))
    this.metrics?.records.inc({ sink, type: 'event' })
    const done = new Promise<void>((resolve, reject) => { s.emitWaiters.push({ resolve, reject }) })
    if (s.emitted.length >= s.spec.maxBatchRecords) {
      this.background('sink emit flush', this.flushEmitted(s))
    } else if (s.emitTimer == null) {
      s.emitTimer = setTimeout(() => { this.background('sink emit flush', this.flushEmitted(s)) }, this.init.emitFlushMs)
    }
    options.signal?.throwIfAborted()
    await done
  }

  private async flushEmitted (s: SinkState): Promise<void> {
    if (s.emitTimer != null) clearTimeout(s.emitTimer)
    s.emitTimer = undefined
    if (s.emitted.length === 0) return
    const records = s.emitted
    const waiters = s.emitWaiters
    s.emitted = []
    s.emitWaiters = []
    try {
      const first = (JSON.parse(records[0]) as { key: string }).key
      await this.spoolPut(s, { id: first, sink: s.spec.name }, records)
      for (const w of waiters) w.resolve()
      this.kick(s)
    } catch (err) {
      for (const w of waiters) w.reject(err as Error)
    }
  }

  private async spoolPut (s: SinkState, header: BatchHeader, records: string[]): Promise<void> {
    const dropped = await s.spool.put(header, records)
    s.dirty = true
    if (dropped > 0) {
      this.metrics?.dropped.inc({ sink: s.spec.name }, dropped)
      this.c.logger.warn({ sink: s.spec.name, dropped }, 'sink buffer full: dropped the oldest batches')
    }
  }

  private background (what: string, p: Promise<unknown>): void {
    p.catch((err: unknown) => { this.c.logger.warn({ task: what, err: (err as Error)?.message }, 'sink task failed') })
  }

  /** (re)reads the Sink manifests: new sinks get a spool, changed specs replace the old, removed ones stop */
  private refresh (): void {
    const seen = new Set<string>()
    for (const m of this.c.manifests()) {
      seen.add(m.name)
      const specJson = JSON.stringify(m.spec)
      const cur = this.sinks.get(m.name)
      if (cur != null && cur.specJson === specJson) continue
      let spec: SinkSpec
      try {
        spec = sinkSpecOf(m.name, m.spec)
      } catch (err) {
        this.c.logger.warn({ sink: m.name, err: (err as Error).message }, 'ignoring a malformed sink spec')
        continue
      }
      const spool = cur?.spool.maxBytes === spec.maxBufferBytes ? cur.spool : new Spool(join(this.c.dir, m.name), spec.maxBufferBytes)
      const applied = m.appliedAt != null ? Date.parse(m.appliedAt) : Number.NaN
      const firstWindow = Number.isFinite(applied) ? Math.floor(applied / spec.intervalMs) : 0
      const state: SinkState = cur != null
        ? { ...cur, spec, specJson, spool, firstWindow }
        : { spec, specJson, spool, spooledWindow: -1, firstWindow, delivering: false, kick: false, backoff: 0, retryAt: 0, emitted: [], emitWaiters: [], emitSeq: 0, cursors: {}, marks: {}, dirty: true }
      this.sinks.set(m.name, state)
      if (cur == null || spool !== cur.spool) {
        state.dirty = true
        this.background('sink spool init', spool.init().then(() => { this.kick(state) }))
      }
    }
    for (const name of [...this.sinks.keys()]) {
      if (!seen.has(name)) {
        const s = this.sinks.get(name) as SinkState
        if (s.emitTimer != null) clearTimeout(s.emitTimer)
        for (const w of s.emitWaiters) w.reject(new SinkNotFoundError(name))
        this.sinks.delete(name)
      }
    }
    this.schedule()
  }

  private tick (): void {
    if (!this.running || this.ticking) return
    this.ticking = true
    this.background('sink tick', this.runTick().finally(() => { this.ticking = false }))
  }

  private async runTick (): Promise<void> {
    this.refresh()
    for (const s of this.sinks.values()) {
      if (!this.running) return
      if (s.spec.service != null) await this.maybeSnapshot(s).catch((err: Error) => { this.c.logger.warn({ sink: s.spec.name, err: err.message }, 'sink snapshot failed') })
      // the spool is listed only when something may wait in it
      if (s.dirty) this.kick(s)
    }
  }

  private markKey (sink: string, what: string): string {
    return `_sink/${sink}/${what}`
  }

  private async readMark (b: SinkSourceBackend, service: string, key: string): Promise<string | undefined> {
    try {
      return (await b.get(service, key)).value
    } catch {
      return undefined
    }
  }

  /**
   * Takes the snapshots of the complete windows not shipped yet (at most
   * MAX_BACKFILL, the newest) if this peer is the shipping replica.
   */
  private async maybeSnapshot (s: SinkState): Promise<void> {
    const b = this.c.backend()
    const service = s.spec.service as string
    if (b == null || !b.has(service) || !b.isLocal(service)) return
    const now = this.now()
    if (Math.floor(now / s.spec.intervalMs) - 1 <= s.spooledWindow) return
    const st = await b.status(service)
    // a window is taken once appends from the other replicas stamped inside it have arrived: twice the staleness bound
    const settle = Math.min(10_000, Math.max(200, 2 * (st.spec.maxStalenessMs ?? 1000)))
    const window = Math.floor((now - settle) / s.spec.intervalMs) - 1
    if (window < 0 || window <= s.spooledWindow) return
    // exactly one shipper: the lowest live replica id
    const live = st.liveReplicas.map(r => r.peerId).sort()
    if (live[0] !== this.c.self) return
    const shippedText = await this.readMark(b, service, this.markKey(s.spec.name, 'shipped'))
    const doc = await this.readMarkDocs(b, s, service)
    const shipped = Math.max(shippedText != null && /^\d+$/.test(shippedText) ? Number(shippedText) : -1, doc.window)
    try {
      checkRegionPolicy(s.spec, st.spec.zones)
    } catch (err) {
      this.c.logger.warn({ sink: s.spec.name, err: (err as Error).message }, 'sink not shipping: region policy')
      s.spooledWindow = window
      return
    }
    // what was shipped of each log: the join of every shipper's mark and what this peer spooled.
    // Legacy: a log no dot mark covers yet honours the old position mark
    // (`cursor/<log>`): entries at or before it count as shipped (they were
    // shipped, or were late entries the old code skipped: we cannot tell)
    const legacy: Record<string, LogPosition> = {}
    for (const log of s.spec.logs) {
      const mark = await this.readMark(b, service, this.markKey(s.spec.name, `cursor/${log}`))
      if (mark != null && (s.cursors[log] == null || laterCursor(this.c.parseCursor, mark, s.cursors[log]) === mark)) s.cursors[log] = mark
      const known = doc.logs[log]
      if (known != null) s.marks[log] = s.marks[log] != null ? joinMarks(s.marks[log], known) : known
      const pos = s.marks[log] == null && s.cursors[log] != null ? this.c.parseCursor(s.cursors[log]) : undefined
      if (pos != null) legacy[log] = pos
    }
    const first = Math.max(shipped + 1, s.spooledWindow + 1, window - MAX_BACKFILL + 1, s.firstWindow)
    for (let w = first; w <= window; w++) await this.snapshot(s, b, service, w, now, legacy)
    s.spooledWindow = window
  }

  /** the join of every shipper's mark document (malformed ones are logged and ignored: their entries ship again) */
  private async readMarkDocs (b: SinkSourceBackend, s: SinkState, service: string): Promise<MarkDoc> {
    let doc = emptyDoc()
    let shippers: string[] = []
    try {
      shippers = (await b.members(service, this.markKey(s.spec.name, 'shippers'))).members
    } catch {
      // no shipper recorded yet
    }
    for (const peer of shippers) {
      const text = await this.readMark(b, service, this.markKey(s.spec.name, `marks/${peer}`))
      if (text == null) continue
      try {
        doc = joinDocs(doc, parseMarkDoc(text))
      } catch (err) {
        this.c.logger.warn({ sink: s.spec.name, shipper: peer, err: (err as Error).message }, 'ignoring a malformed sink mark')
      }
    }
    return doc
  }

  private async snapshot (s: SinkState, b: SinkSourceBackend, service: string, window: number, now: number, legacy: Record<string, LogPosition>): Promise<void> {
    const windowStart = window * s.spec.intervalMs
    const windowEnd = windowStart + s.spec.intervalMs
    const base = { sink: s.spec.name, service, window, windowStart, windowEnd, takenAt: now, takenBy: this.c.self }
    const records: string[] = []
    let counters = 0
    if (s.spec.counters !== 'none') {
      const all = b.localCounters(service) ?? {}
      const keys = s.spec.counters === 'all' ? Object.keys(all).filter(k => !k.startsWith('_sink/')) : s.spec.counters
      for (const k of keys) records.push(JSON.stringify({ key: `${s.spec.name}/${service}/w${window}/c/${k}`, type: 'counter', ...base, counter: k, value: all[k] ?? 0 }))
      counters = keys.length
      this.metrics?.records.inc({ sink: s.spec.name, type: 'counter' }, keys.length)
    }
    const cursors: Record<string, string> = {}
    const marks: Record<string, LogMark> = {}
    let logEntries = 0
    for (const log of s.spec.logs) {
      // every entry of the window (or older) no mark covers, whatever its HLC: late entries too
      const mark = s.marks[log] ?? { upTo: {}, x: {} }
      const old = legacy[log]
      const covered = (p: LogPosition): boolean => covers(mark, p.replica, p.counter) || (old != null && comparePositions(p, old) <= 0)
      const r = b.readLogUncovered(service, log, covered, { toMs: windowEnd, limit: MAX_LOG_ENTRIES_PER_WINDOW })
      let last = s.cursors[log]
      for (const e of r.entries) {
        records.push(JSON.stringify({ key: `${s.spec.name}/${service}/l/${log}/${e.cursor}`, type: 'log', ...base, log, cursor: e.cursor, ts: e.ts, replica: e.replica, value: e.value }))
        last = last == null ? e.cursor : laterCursor(this.c.parseCursor, e.cursor, last)
      }
      marks[log] = advanceMark(mark, r.entries, r.seen, r.held)
      if (last != null) cursors[log] = last
      logEntries += r.entries.length
      this.metrics?.records.inc({ sink: s.spec.name, type: 'log' }, r.entries.length)
    }
    // a header record makes every window visible to the core, an empty one too
    records.unshift(JSON.stringify({ key: `${s.spec.name}/${service}/w${window}/snapshot`, type: 'snapshot', ...base, counters, logEntries }))
    const batches = Math.ceil(records.length / s.spec.maxBatchRecords)
    for (let i = 0; i < batches; i++) {
      const part = records.slice(i * s.spec.maxBatchRecords, (i + 1) * s.spec.maxBatchRecords)
      const final = i === batches - 1
      await this.spoolPut(s, { id: `${s.spec.name}/${service}/w${window}/${i}`, sink: s.spec.name, service, window, ...(final ? { final: true, cursors, marks } : {}) }, part)
    }
    Object.assign(s.cursors, cursors)
    Object.assign(s.marks, marks)
    // the legacy position mark is folded into the dot marks now
    for (const log of Object.keys(marks)) delete legacy[log]
    this.metrics?.snapshots.inc({ sink: s.spec.name })
    this.c.logger.info({ sink: s.spec.name, service, window, records: records.length, batches }, 'sink snapshot spooled')
  }

  private kick (s: SinkState): void {
    if (!this.running) return
    if (s.delivering) { s.kick = true; return }
    if (this.now() < s.retryAt) return
    s.delivering = true
    this.background('sink delivery', this.deliverAll(s).finally(() => {
      s.delivering = false
      if (s.kick) { s.kick = false; this.kick(s) }
    }))
  }

  /** delivers spooled batches in order; on a failure backs off (the next tick after retryAt tries again) */
  private async deliverAll (s: SinkState): Promise<void> {
    s.dirty = false
    try {
      await this.deliverSpooled(s)
    } finally {
      this.metrics?.buffered.set({ sink: s.spec.name }, await s.spool.bytes().catch(() => 0))
    }
  }

  private async deliverSpooled (s: SinkState): Promise<void> {
    for (const file of await s.spool.list()) {
      if (!this.running || this.sinks.get(s.spec.name) !== s) { s.dirty = true; return }
      const batch = await s.spool.read(file)
      if (batch == null) continue
      try {
        const sent = await deliver(s.spec, batch, this.shutdown.signal)
        this.metrics?.delivered.inc({ sink: s.spec.name })
        this.metrics?.deliveredBytes.inc({ sink: s.spec.name }, sent)
        s.backoff = 0
        s.retryAt = 0
      } catch (err) {
        this.metrics?.failures.inc({ sink: s.spec.name })
        s.backoff = Math.min(this.init.maxBackoffMs, s.backoff === 0 ? this.init.backoffMs : s.backoff * 2)
        // jitter: 50-100 % of the back-off
        s.retryAt = this.now() + Math.round(s.backoff * (0.5 + Math.random() / 2))
        this.c.logger.info({ sink: s.spec.name, err: (err as Error).message, retryInMs: s.retryAt - this.now(), retryable: err instanceof DeliveryError ? err.retryable : true }, 'sink delivery failed: retrying later')
        s.dirty = true
        return
      }
      if (batch.header.final === true && batch.header.service != null && batch.header.window != null) await this.markShipped(s, batch.header)
      await s.spool.remove(file)
    }
  }

  /**
   * records a delivered window in the service's replicated kv: this
   * shipper's mark document (joined with what it held), the legacy window
   * and cursor marks (for peers that read only those)
   */
  private async markShipped (s: SinkState, h: BatchHeader): Promise<void> {
    const b = this.c.backend()
    const service = h.service as string
    if (b == null || !b.has(service)) return
    try {
      if (h.marks != null) {
        await b.addMember(service, this.markKey(s.spec.name, 'shippers'), this.c.self)
        const key = this.markKey(s.spec.name, `marks/${this.c.self}`)
        const text = await this.readMark(b, service, key)
        let own = emptyDoc()
        try {
          if (text != null) own = parseMarkDoc(text)
        } catch (err) {
          this.c.logger.warn({ sink: s.spec.name, err: (err as Error).message }, 'replacing a malformed sink mark')
        }
        // the spooled header is validated like any mark (a damaged spool file must not write a bad mark)
        const doc = joinDocs(own, parseMarkDoc(JSON.stringify({ v: 1, window: h.window, logs: h.marks })))
        await b.put(service, key, JSON.stringify(doc))
      }
      for (const [log, cursor] of Object.entries(h.cursors ?? {})) {
        const cur = await this.readMark(b, service, this.markKey(s.spec.name, `cursor/${log}`))
        if (cur == null || (cursor !== cur && laterCursor(this.c.parseCursor, cursor, cur) === cursor)) await b.put(service, this.markKey(s.spec.name, `cursor/${log}`), cursor)
      }
      const cur = Number(await this.readMark(b, service, this.markKey(s.spec.name, 'shipped')) ?? -1)
      if (!(cur >= (h.window as number))) await b.put(service, this.markKey(s.spec.name, 'shipped'), String(h.window))
    } catch (err) {
      // the window stays unmarked: the next shipper re-sends it under the same keys
      this.c.logger.warn({ sink: s.spec.name, window: h.window, err: (err as Error).message }, 'could not record a shipped window')
    }
  }
}
