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
 * The trimmer runs such a GC (`gc({ flavor: 'last-resort' })`: a full,
 * compacting mark-sweep that also shrinks the young generation and frees
 * pooled pages) 15 s after the peer is ready and again at 2 min (the mesh
 * has formed by then), then only when RSS has grown GROWTH_BYTES past what
 * the last trim left and MIN_INTERVAL_MS have passed. One trim of an idle
 * peer's heap costs ~0.1 s of CPU and blocks the event loop as long, so
 * trims stay rare: after the first two, at most one per 10 min (≤ 0.02 % of
 * a core). Measured: one peer 150 -> 121 MiB RSS; 10 peers 146 -> 134 MiB
 * with the first trim only.
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

/** unconditional trims, after the peer is ready */
export const SETTLE_TRIMS_MS = [15_000, 120_000]
export const CHECK_EVERY_MS = 60_000
export const GROWTH_BYTES = 16 * 1024 * 1024
export const MIN_INTERVAL_MS = 10 * 60_000

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
  settleTrimsMs?: number[]
  checkEveryMs?: number
  growthBytes?: number
  minIntervalMs?: number
}

export class MemoryTrimmer {
  readonly enabled: boolean
  private readonly gc: GcFunction | undefined
  private readonly rss: () => number
  private readonly logger: Logger
  private readonly settleTrimsMs: number[]
  private readonly checkEveryMs: number
  private readonly growthBytes: number
  private readonly minIntervalMs: number
  private readonly trims?: Counter
  private readonly released?: Counter
  private readonly lastRss?: Gauge
  private timer: NodeJS.Timeout | undefined
  private rssAfterLast = 0
  private lastTrimAt = 0
  private startedAt = 0

  constructor (init: MemoryTrimmerInit) {
    this.gc = init.gc ?? v8Gc()
    this.enabled = this.gc !== undefined
    this.rss = init.rss ?? (() => process.memoryUsage.rss())
    this.logger = init.logger
    this.settleTrimsMs = [...(init.settleTrimsMs ?? SETTLE_TRIMS_MS)].sort((a, b) => a - b)
    this.checkEveryMs = init.checkEveryMs ?? CHECK_EVERY_MS
    this.growthBytes = init.growthBytes ?? GROWTH_BYTES
    this.minIntervalMs = init.minIntervalMs ?? MIN_INTERVAL_MS
    if (init.metrics != null) {
      this.trims = new Counter({ name: 'dcis_memory_trims_total', help: 'memory-reducing full GCs run by the peer (after start, then when RSS grew)', registers: [init.metrics] })
      this.released = new Counter({ name: 'dcis_memory_trim_released_bytes_total', help: 'RSS given back by the memory trims', registers: [init.metrics] })
      this.lastRss = new Gauge({ name: 'dcis_memory_trim_rss_after_bytes', help: 'RSS right after the last memory trim', registers: [init.metrics] })
    }
  }

  /** schedules the settling trims and the growth checks (timers do not keep the process alive) */
  start (): void {
    if (!this.enabled || this.timer !== undefined) return
    this.startedAt = performance.now()
    this.schedule(0)
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

  /** whether RSS grew enough since the last trim, and the minimum interval has passed */
  due (now = performance.now()): boolean {
    return this.rss() - this.rssAfterLast >= this.growthBytes && now - this.lastTrimAt >= this.minIntervalMs
  }

  /** the next settling trim (index `next` of settleTrimsMs), else a growth check */
  private schedule (next: number): void {
    const settle = this.settleTrimsMs[next]
    const delay = settle !== undefined ? Math.max(0, this.startedAt + settle - performance.now()) : this.checkEveryMs
    this.timer = setTimeout(() => {
      if (this.timer === undefined) return
      if (settle !== undefined) this.trim('settling after start')
      else if (this.due()) this.trim('rss grew')
      if (this.timer !== undefined) this.schedule(settle !== undefined ? next + 1 : next)
    }, delay)
    this.timer.unref()
  }
}
