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
 * (`_sink/<sink>/shipped`). The mark (and the log cursors,
 * `_sink/<sink>/cursor/<log>`) is written only after the window's last
 * batch was delivered, so a shipper killed in between is replaced by the
 * next lowest live replica, which ships W again under the same keys: the
 * receiver keeps one copy. In a partition both sides may ship; the keys
 * make that harmless too.
 */
import { join } from 'node:path'
import { Counter, Gauge } from 'prom-client'
import { DeliveryError, deliver } from './deliver.js'
import { SinkNotFoundError, SinkRecordError } from './errors.js'
import { checkRegionPolicy, sinkSpecOf } from './spec.js'
import { Spool } from './spool.js'
import type { SinkSpec } from './spec.js'
import type { BatchHeader } from './spool.js'
import type { Logger, MetricsRegistry } from '../telemetry/index.js'

/** what a sink reads of the eventual backend (CrdtBackend fits) */
export interface SinkSourceBackend {
  has: (name: string) => boolean
  isLocal: (name: string) => boolean
  status: (name: string) => Promise<{ spec: { zones: string[], maxStalenessMs?: number }, liveReplicas: Array<{ peerId: string }> }>
  localCounters: (name: string) => Record<string, number> | undefined
  readLog: (name: string, key: string, range?: { after?: { ts: { wall: number, logical: number }, replica: string, counter: number }, toMs?: number, limit?: number }) => Promise<{ entries: Array<{ cursor: string, ts: { wall: number, logical: number }, replica: string, value: string }> }>
  get: (name: string, key: string) => Promise<{ value: string }>
  put: (name: string, key: string, value: string) => Promise<unknown>
}

export interface SinkServiceComponents {
  /** this peer's id */
  self: string
  /** spools live in <dir>/<sink> */
  dir: string
  /** the applied Sink manifests (the federation catalogue's) */
  manifests: () => Array<{ name: string, spec: Record<string, unknown>, appliedAt?: string }>
  backend: () => SinkSourceBackend | undefined
  /** parses a log cursor (src/crdt/replication parseCursor) */
  parseCursor: (c: string) => { ts: { wall: number, logical: number }, replica: string, counter: number } | undefined
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
  const c = x.ts.wall - y.ts.wall || x.ts.logical - y.ts.logical || (x.replica < y.replica ? -1 : x.replica > y.replica ? 1 : 0) || x.counter - y.counter
  return c >= 0 ? a : b
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

function reuse<T> (registry: MetricsRegistry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}

function createSinkMetrics (registry: MetricsRegistry): SinkMetrics {
  const registers = [registry]
  return {
    records: reuse(registry, 'dcis_sink_records_total', () => new Counter({ name: 'dcis_sink_records_total', help: 'Records spooled for a sink, by type (counter, log, event)', labelNames: ['sink', 'type'] as const, registers })),
    delivered: reuse(registry, 'dcis_sink_batches_delivered_total', () => new Counter({ name: 'dcis_sink_batches_delivered_total', help: 'Batches the destination acknowledged', labelNames: ['sink'] as const, registers })),
    deliveredBytes: reuse(registry, 'dcis_sink_delivered_bytes_total', () => new Counter({ name: 'dcis_sink_delivered_bytes_total', help: 'Bytes sent to the destination (after gzip)', labelNames: ['sink'] as const, registers })),
    failures: reuse(registry, 'dcis_sink_delivery_failures_total', () => new Counter({ name: 'dcis_sink_delivery_failures_total', help: 'Failed delivery attempts (retried with back-off)', labelNames: ['sink'] as const, registers })),
    dropped: reuse(registry, 'dcis_sink_dropped_batches_total', () => new Counter({ name: 'dcis_sink_dropped_batches_total', help: 'Batches dropped because the on-disk buffer was full', labelNames: ['sink'] as const, registers })),
    buffered: reuse(registry, 'dcis_sink_buffer_bytes', () => new Gauge({ name: 'dcis_sink_buffer_bytes', help: 'Bytes waiting in the on-disk buffer', labelNames: ['sink'] as const, registers })),
    snapshots: reuse(registry, 'dcis_sink_snapshots_total', () => new Counter({ name: 'dcis_sink_snapshots_total', help: 'Snapshots this peer took (as the shipping replica)', labelNames: ['sink'] as const, registers }))
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
  /** log key -> cursor of the last entry spooled by this peer */
  cursors: Record<string, string>
}

export class SinkService {
  private readonly c: SinkServiceComponents
  private readonly init: Required<SinkServiceInit>
  private readonly sinks = new Map<string, SinkState>()
  private readonly metrics?: SinkMetrics
  private readonly now: () => number
  private readonly boot = Date.now().toString(36)
  private timer?: ReturnType<typeof setInterval>
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
    this.timer = setInterval(() => { this.tick() }, this.init.tickMs)
    this.timer.unref?.()
    this.tick()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    if (this.timer != null) clearInterval(this.timer)
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
        : { spec, specJson, spool, spooledWindow: -1, firstWindow, delivering: false, kick: false, backoff: 0, retryAt: 0, emitted: [], emitWaiters: [], emitSeq: 0, cursors: {} }
      this.sinks.set(m.name, state)
      if (cur == null || spool !== cur.spool) this.background('sink spool init', spool.init().then(() => { this.kick(state) }))
    }
    for (const name of [...this.sinks.keys()]) {
      if (!seen.has(name)) {
        const s = this.sinks.get(name) as SinkState
        if (s.emitTimer != null) clearTimeout(s.emitTimer)
        for (const w of s.emitWaiters) w.reject(new SinkNotFoundError(name))
        this.sinks.delete(name)
      }
    }
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
      this.kick(s)
      this.metrics?.buffered.set({ sink: s.spec.name }, await s.spool.bytes().catch(() => 0))
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
    const shipped = shippedText != null && /^\d+$/.test(shippedText) ? Number(shippedText) : -1
    try {
      checkRegionPolicy(s.spec, st.spec.zones)
    } catch (err) {
      this.c.logger.warn({ sink: s.spec.name, err: (err as Error).message }, 'sink not shipping: region policy')
      s.spooledWindow = window
      return
    }
    // log positions: the later of what this peer spooled and what the service says was delivered
    for (const log of s.spec.logs) {
      const mark = await this.readMark(b, service, this.markKey(s.spec.name, `cursor/${log}`))
      if (mark != null && (s.cursors[log] == null || laterCursor(this.c.parseCursor, mark, s.cursors[log]) === mark)) s.cursors[log] = mark
    }
    const first = Math.max(shipped + 1, s.spooledWindow + 1, window - MAX_BACKFILL + 1, s.firstWindow)
    for (let w = first; w <= window; w++) await this.snapshot(s, b, service, w, now)
    s.spooledWindow = window
  }

  private async snapshot (s: SinkState, b: SinkSourceBackend, service: string, window: number, now: number): Promise<void> {
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
    let logEntries = 0
    for (const log of s.spec.logs) {
      let after = s.cursors[log] != null ? this.c.parseCursor(s.cursors[log]) : undefined
      let n = 0
      for (;;) {
        const page = await b.readLog(service, log, { ...(after != null ? { after } : {}), toMs: windowEnd, limit: 10_000 })
        for (const e of page.entries) {
          records.push(JSON.stringify({ key: `${s.spec.name}/${service}/l/${log}/${e.cursor}`, type: 'log', ...base, log, cursor: e.cursor, ts: e.ts, replica: e.replica, value: e.value }))
        }
        n += page.entries.length
        if (page.entries.length === 0) break
        cursors[log] = page.entries[page.entries.length - 1].cursor
        after = this.c.parseCursor(cursors[log])
        if (page.entries.length < 10_000 || n >= MAX_LOG_ENTRIES_PER_WINDOW) break
      }
      logEntries += n
      this.metrics?.records.inc({ sink: s.spec.name, type: 'log' }, n)
    }
    // a header record makes every window visible to the core, an empty one too
    records.unshift(JSON.stringify({ key: `${s.spec.name}/${service}/w${window}/snapshot`, type: 'snapshot', ...base, counters, logEntries }))
    const batches = Math.ceil(records.length / s.spec.maxBatchRecords)
    for (let i = 0; i < batches; i++) {
      const part = records.slice(i * s.spec.maxBatchRecords, (i + 1) * s.spec.maxBatchRecords)
      const final = i === batches - 1
      await this.spoolPut(s, { id: `${s.spec.name}/${service}/w${window}/${i}`, sink: s.spec.name, service, window, ...(final ? { final: true, cursors } : {}) }, part)
    }
    Object.assign(s.cursors, cursors)
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
    for (const file of await s.spool.list()) {
      if (!this.running || this.sinks.get(s.spec.name) !== s) return
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
        return
      }
      if (batch.header.final === true && batch.header.service != null && batch.header.window != null) await this.markShipped(s, batch.header)
      await s.spool.remove(file)
    }
  }

  /** records a delivered window (and the log cursors) in the service's replicated kv */
  private async markShipped (s: SinkState, h: BatchHeader): Promise<void> {
    const b = this.c.backend()
    const service = h.service as string
    if (b == null || !b.has(service)) return
    try {
      for (const [log, cursor] of Object.entries(h.cursors ?? {})) await b.put(service, this.markKey(s.spec.name, `cursor/${log}`), cursor)
      const cur = Number(await this.readMark(b, service, this.markKey(s.spec.name, 'shipped')) ?? -1)
      if (!(cur >= (h.window as number))) await b.put(service, this.markKey(s.spec.name, 'shipped'), String(h.window))
    } catch (err) {
      // the window stays unmarked: the next shipper re-sends it under the same keys
      this.c.logger.warn({ sink: s.spec.name, window: h.window, err: (err as Error).message }, 'could not record a shipped window')
    }
  }
}
