/**
 * Gives start-up memory back to the system (issue 13).
 *
 * A peer allocates most of what it ever allocates while it starts (module
 * sources and bytecode, route schemas, the first registry and DHT rounds).
 * V8 then keeps the grown young generation and the old-space pages that held
 * start-up garbage resident: an idle peer measured ~150 MiB RSS with ~42 MiB
 * of live heap. V8 only gives pages back after a memory-reducing full GC,
 * which it does not run by itself in an idle Node process.
 *
 * The trimmer runs one such GC (`gc({ flavor: 'last-resort' })`: a full,
 * compacting mark-sweep that also shrinks the young generation and frees
 * pooled pages) FIRST_TRIM_MS after the peer is ready, then again only when
 * RSS has grown GROWTH_BYTES past what the last trim left, no sooner than a
 * back-off that doubles from 30 s to 15 min. One trim of an idle peer's heap
 * blocks the event loop for tens of milliseconds (measured: RSS 150 -> 123
 * MiB, one peer).
 *
 * V8's `gc` function is reached without `--expose-gc` on the command line:
 * the flag is set for a moment, a fresh vm context (which gets the function)
 * hands it over, and the flag is reset (worker threads started later do not
 * get it). Where that is not possible the trimmer does nothing.
 *
 * Installed by `dcis start` only (DCIS_MEMORY_TRIM=0 turns it off); library
 * code never touches `process`.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Counter, Gauge } from 'prom-client'
import type { Logger } from './logger.js'
import type { MetricsRegistry } from './metrics.js'

/** V8's gc extension (the options are V8's: type, execution, flavor) */
export type GcFunction = (options?: { type?: 'major' | 'minor', execution?: 'sync' | 'async', flavor?: 'regular' | 'last-resort' }) => unknown

export const FIRST_TRIM_MS = 15_000
export const CHECK_EVERY_MS = 30_000
export const GROWTH_BYTES = 12 * 1024 * 1024
export const MIN_BACKOFF_MS = 30_000
export const MAX_BACKOFF_MS = 15 * 60_000

/** V8's gc function, or undefined where it cannot be had */
export function v8Gc (): GcFunction | undefined {
  const global = (globalThis as { gc?: unknown }).gc
  if (typeof global === 'function') return global as GcFunction
  try {
    setFlagsFromString('--expose-gc')
    try {
      const gc = runInNewContext('gc') as unknown
      return typeof gc === 'function' ? gc as GcFunction : undefined
    } finally {
      setFlagsFromString('--no-expose-gc')
    }
  } catch {
    return undefined
  }
}

export interface TrimResult {
  rssBefore: number
  rssAfter: number
  ms: number
}

export interface MemoryTrimmerInit {
  logger: Logger
  metrics?: MetricsRegistry
  /** default: v8Gc() */
  gc?: GcFunction
  /** default: process.memoryUsage.rss */
  rss?: () => number
  firstTrimMs?: number
  checkEveryMs?: number
  growthBytes?: number
}

export class MemoryTrimmer {
  readonly enabled: boolean
  private readonly gc: GcFunction | undefined
  private readonly rss: () => number
  private readonly logger: Logger
  private readonly firstTrimMs: number
  private readonly checkEveryMs: number
  private readonly growthBytes: number
  private readonly trims?: Counter
  private readonly released?: Counter
  private readonly lastRss?: Gauge
  private timer: NodeJS.Timeout | undefined
  private rssAfterLast = 0
  private lastTrimAt = 0
  private backoffMs = MIN_BACKOFF_MS

  constructor (init: MemoryTrimmerInit) {
    this.gc = init.gc ?? v8Gc()
    this.enabled = this.gc !== undefined
    this.rss = init.rss ?? (() => process.memoryUsage.rss())
    this.logger = init.logger
    this.firstTrimMs = init.firstTrimMs ?? FIRST_TRIM_MS
    this.checkEveryMs = init.checkEveryMs ?? CHECK_EVERY_MS
    this.growthBytes = init.growthBytes ?? GROWTH_BYTES
    if (init.metrics != null) {
      this.trims = new Counter({ name: 'dcis_memory_trims_total', help: 'memory-reducing full GCs run by the peer (after start, then when RSS grew)', registers: [init.metrics] })
      this.released = new Counter({ name: 'dcis_memory_trim_released_bytes_total', help: 'RSS given back by the memory trims', registers: [init.metrics] })
      this.lastRss = new Gauge({ name: 'dcis_memory_trim_rss_after_bytes', help: 'RSS right after the last memory trim', registers: [init.metrics] })
    }
  }

  /** schedules the first trim and the growth checks (timers do not keep the process alive) */
  start (): void {
    if (!this.enabled || this.timer !== undefined) return
    this.timer = setTimeout(() => {
      this.trim('after start')
      this.schedule()
    }, this.firstTrimMs)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  /** one memory-reducing full GC now; undefined when there is no gc function */
  trim (reason: string): TrimResult | undefined {
    if (this.gc === undefined) return undefined
    const rssBefore = this.rss()
    const t0 = performance.now()
    try {
      this.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
    } catch (err) {
      this.logger.warn({ err }, 'memory trim failed')
      return undefined
    }
    const ms = performance.now() - t0
    const rssAfter = this.rss()
    this.rssAfterLast = rssAfter
    this.lastTrimAt = performance.now()
    this.trims?.inc()
    if (rssBefore > rssAfter) this.released?.inc(rssBefore - rssAfter)
    this.lastRss?.set(rssAfter)
    this.logger.debug({ reason, rssBefore, rssAfter, ms: Math.round(ms) }, 'memory trimmed')
    return { rssBefore, rssAfter, ms }
  }

  /** whether RSS grew enough since the last trim, and the back-off has passed */
  due (now = performance.now()): boolean {
    return this.rss() - this.rssAfterLast >= this.growthBytes && now - this.lastTrimAt >= this.backoffMs
  }

  private schedule (): void {
    if (this.timer === undefined) return
    this.timer = setTimeout(() => {
      if (this.due()) {
        this.trim('rss grew')
        this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS)
      }
      this.schedule()
    }, this.checkEveryMs)
    this.timer.unref()
  }
}
