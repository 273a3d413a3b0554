import assert from 'node:assert/strict'
import { createLogger } from '../../src/telemetry/logger.js'
import { createMetricsRegistry } from '../../src/telemetry/metrics.js'
import { MemoryTrimmer, v8Gc } from '../../src/telemetry/memory-trim.js'
import { waitFor } from '../helpers/wait.js'
import type { GcFunction } from '../../src/telemetry/memory-trim.js'

const MiB = 1024 * 1024
const logger = createLogger({ level: 'silent' })

describe('telemetry: memory trim (issue 13)', function () {
  this.timeout(30_000)

  it('reaches V8\'s gc without --expose-gc and does not leave it on the global object', () => {
    const gc = v8Gc()
    assert.equal(typeof gc, 'function')
    if ((process.execArgv.join(' ') + (process.env.NODE_OPTIONS ?? '')).includes('expose-gc') === false) {
      assert.equal((globalThis as { gc?: unknown }).gc, undefined)
    }
    // a real memory-reducing GC runs and the process keeps working
    gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' })
  })

  it('a trim gives back garbage the heap held (real V8)', () => {
    const trimmer = new MemoryTrimmer({ logger })
    assert.equal(trimmer.enabled, true)
    // ~64 MiB of old-space garbage, then drop it
    const junk = (): number => Array.from({ length: 64 }, () => Array.from({ length: 128 * 1024 }, (_, i) => i + 0.5)).length
    assert.equal(junk(), 64)
    const r = trimmer.trim('test')
    assert.ok(r != null)
    assert.ok(r.ms >= 0)
    assert.ok(r.rssAfter < r.rssBefore, `RSS ${r.rssBefore} -> ${r.rssAfter}: nothing given back`)
  })

  it('trims again only after RSS grew past the threshold and the minimum interval passed; counts in metrics', async () => {
    let rss = 100 * MiB
    const calls: unknown[] = []
    const gc: GcFunction = (o) => { calls.push(o); rss -= 20 * MiB }
    const metrics = createMetricsRegistry({ processMetrics: false })
    const trimmer = new MemoryTrimmer({ logger, metrics, gc, rss: () => rss, growthBytes: 10 * MiB, minIntervalMs: 60_000 })
    const first = trimmer.trim('after start')
    assert.deepEqual(first, { rssBefore: 100 * MiB, rssAfter: 80 * MiB, ms: first?.ms })
    assert.deepEqual(calls, [{ type: 'major', execution: 'sync', flavor: 'last-resort' }])
    const t = performance.now()
    rss = 85 * MiB
    assert.equal(trimmer.due(t + 60_000), false, 'grew 5 MiB < 10 MiB')
    rss = 95 * MiB
    assert.equal(trimmer.due(t + 1_000), false, 'within the minimum interval')
    assert.equal(trimmer.due(t + 60_000), true)
    const text = await metrics.metrics()
    assert.match(text, /^dcis_memory_trims_total 1$/m)
    assert.match(text, new RegExp(`^dcis_memory_trim_released_bytes_total ${20 * MiB}$`, 'm'))
    assert.match(text, new RegExp(`^dcis_memory_trim_rss_after_bytes ${80 * MiB}$`, 'm'))
  })

  it('runs the settling trims on timers, then growth checks, and stops cleanly', async () => {
    let n = 0
    let rss = 50 * MiB
    let rssReads = 0
    const trimmer = new MemoryTrimmer({ logger, gc: () => { n++ }, rss: () => { rssReads++; return rss }, settleTrimsMs: [20, 5], checkEveryMs: 5, growthBytes: MiB, minIntervalMs: 0 })
    try {
      trimmer.start()
      await waitFor('two settling trims', async () => n >= 2, { timeoutMs: 10_000, intervalMs: 5 })
      // RSS does not grow: the checks (each reads RSS once) do not trim
      const reads = rssReads
      await waitFor('three growth checks', async () => rssReads >= reads + 3, { timeoutMs: 10_000, intervalMs: 5 })
      assert.equal(n, 2)
      rss += 2 * MiB
      await waitFor('a growth trim', async () => n >= 3, { timeoutMs: 10_000, intervalMs: 5 })
    } finally {
      trimmer.stop()
    }
    const after = n
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.equal(n, after, 'no trim after stop')
  })

  it('a gc that throws is logged, not thrown', () => {
    const trimmer = new MemoryTrimmer({ logger, gc: () => { throw new Error('no') }, rss: () => 1 })
    assert.equal(trimmer.trim('test'), undefined)
  })
})
