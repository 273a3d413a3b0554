/**
 * WAL benchmark: append throughput and latency of 256-byte entries, every
 * append fsynced before it resolves, with 1 and 16 concurrent appenders, with
 * group commit on and (for comparison) off. Prints one JSON object.
 *
 *   npx tsx bench/raft/wal.ts [--seconds 2] [--dir /path/on/the/disk/to/test]
 *
 * Runs on the disk holding os.tmpdir() unless --dir is given; the numbers
 * are only as good as that disk's fsync.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EntryType } from '../../src/raft/core/types.js'
import { openFileLogStorage } from '../../src/raft/storage/index.js'

function arg (name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback
}

const seconds = Number(arg('seconds', '2'))
const baseDir = arg('dir', tmpdir())
const ENTRY_BYTES = 256

function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

const round = (n: number, d = 3): number => Math.round(n * 10 ** d) / 10 ** d

async function scenario (appenders: number, groupCommit: boolean): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(baseDir, 'dcis-wal-bench-'))
  const storage = await openFileLogStorage(dir, { groupCommit })
  try {
    const payload = new Uint8Array(ENTRY_BYTES).fill(7)
    let next = 0
    const latencies: number[] = []
    const deadline = performance.now() + seconds * 1000
    const started = performance.now()
    const before = storage.stats()
    await Promise.all(Array.from({ length: appenders }, async () => {
      while (performance.now() < deadline) {
        // the index is claimed synchronously, so calls reach the queue in index order
        const index = ++next
        const t0 = performance.now()
        await storage.append([{ index, term: 1, type: EntryType.Normal, data: payload }])
        latencies.push(performance.now() - t0)
      }
    }))
    const elapsed = (performance.now() - started) / 1000
    const after = storage.stats()
    latencies.sort((a, b) => a - b)
    const batches = after.batches - before.batches
    return {
      appenders,
      groupCommit,
      appends: latencies.length,
      seconds: round(elapsed),
      appendsPerSec: round(latencies.length / elapsed, 1),
      mbPerSec: round(latencies.length * ENTRY_BYTES / elapsed / 1e6),
      p50Ms: round(percentile(latencies, 0.5)),
      p99Ms: round(percentile(latencies, 0.99)),
      maxMs: round(latencies[latencies.length - 1] ?? NaN),
      fsyncs: after.fsyncs - before.fsyncs,
      fsyncsPerSec: round((after.fsyncs - before.fsyncs) / elapsed, 1),
      batchingFactor: round(latencies.length / Math.max(1, batches), 2)
    }
  } finally {
    await storage.close()
    await rm(dir, { recursive: true, force: true })
  }
}

/** open time of a WAL holding `count` 256-byte entries (written 100 per append) */
async function recovery (count: number): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(baseDir, 'dcis-wal-bench-'))
  try {
    const payload = new Uint8Array(ENTRY_BYTES).fill(3)
    const w = await openFileLogStorage(dir)
    for (let i = 1; i <= count; i += 100) {
      await w.append(Array.from({ length: 100 }, (_, k) => ({ index: i + k, term: 1, type: EntryType.Normal, data: payload })))
    }
    const bytes = w.stats().bytes
    await w.close()
    const t0 = performance.now()
    const r = await openFileLogStorage(dir)
    const openMs = performance.now() - t0
    const entries = r.lastIndex()
    await r.close()
    return { entries, walBytes: bytes, openMs: round(openMs, 1), entriesPerSec: round(entries / (openMs / 1000), 0) }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const results: Array<Record<string, unknown>> = []
for (const [appenders, groupCommit] of [[1, true], [16, true], [16, false]] as const) {
  results.push(await scenario(appenders, groupCommit))
}
const by = (a: number, g: boolean): Record<string, unknown> | undefined => results.find(r => r.appenders === a && r.groupCommit === g)
const gc16 = by(16, true)?.appendsPerSec as number
const nogc16 = by(16, false)?.appendsPerSec as number
console.log(JSON.stringify({
  bench: 'raft/wal',
  entryBytes: ENTRY_BYTES,
  durability: 'fdatasync per batch before any append resolves',
  dir: baseDir,
  results,
  groupCommitSpeedup16: round(gc16 / nogc16, 2),
  recovery: await recovery(100_000)
}, null, 2))
