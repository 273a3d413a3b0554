/**
 * WAL with encryption at rest on vs off: append throughput and latency of
 * 256-byte entries (every append fsynced before it resolves; 1 and 16
 * concurrent appenders, group commit on), and the open (recovery) time of a
 * 100k-entry WAL plus a full read-back of its entries from disk. Runs
 * alternate off/on rounds to spread the machine's noise. Prints one JSON
 * object with the on/off ratios.
 *
 *   npx tsx bench/protection/wal-encryption.ts [--seconds 2] [--rounds 3] [--dir /path]
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EntryType } from '../../src/raft/core/types.js'
import { openFileLogStorage } from '../../src/raft/storage/index.js'
import { Sealer, walCipherFor } from '../../src/protection/index.js'
import type { WalCipher } from '../../src/raft/storage/index.js'

function arg (name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback
}

const seconds = Number(arg('seconds', '2'))
const rounds = Number(arg('rounds', '3'))
const baseDir = arg('dir', tmpdir())
const ENTRY_BYTES = 256
const key = new Uint8Array(randomBytes(32))
const cipher: WalCipher = walCipherFor(new Sealer({ activeId: 'k000001', key: () => key }), 'bench')
const round = (n: number, d = 3): number => Math.round(n * 10 ** d) / 10 ** d
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function appends (appenders: number, sealed: boolean): Promise<{ perSec: number, p50: number, p99: number }> {
  const dir = await mkdtemp(join(baseDir, 'dcis-walenc-bench-'))
  const storage = await openFileLogStorage(dir, sealed ? { cipher } : {})
  try {
    const payload = new Uint8Array(ENTRY_BYTES).fill(7)
    let next = 0
    const lat: number[] = []
    const deadline = performance.now() + seconds * 1000
    const t0 = performance.now()
    await Promise.all(Array.from({ length: appenders }, async () => {
      while (performance.now() < deadline) {
        const index = ++next
        const s = performance.now()
        await storage.append([{ index, term: 1, type: EntryType.Normal, data: payload }])
        lat.push(performance.now() - s)
      }
    }))
    const el = (performance.now() - t0) / 1000
    lat.sort((a, b) => a - b)
    return { perSec: lat.length / el, p50: lat[Math.floor(lat.length / 2)], p99: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))] }
  } finally {
    await storage.close()
    await rm(dir, { recursive: true, force: true })
  }
}

async function recovery (count: number, sealed: boolean): Promise<{ openMs: number, readAllMs: number }> {
  const dir = await mkdtemp(join(baseDir, 'dcis-walenc-bench-'))
  try {
    const payload = new Uint8Array(ENTRY_BYTES).fill(3)
    const opts = sealed ? { cipher, cacheBytes: 0 } : { cacheBytes: 0 }
    const w = await openFileLogStorage(dir, opts)
    for (let i = 1; i <= count; i += 100) {
      await w.append(Array.from({ length: 100 }, (_, k) => ({ index: i + k, term: 1, type: EntryType.Normal, data: payload })))
    }
    await w.close()
    const t0 = performance.now()
    const r = await openFileLogStorage(dir, opts)
    const openMs = performance.now() - t0
    const t1 = performance.now()
    for (let i = 1; i <= count; i += 1000) r.entries(i, Math.min(count + 1, i + 1000))
    const readAllMs = performance.now() - t1
    await r.close()
    return { openMs, readAllMs }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const runs: Record<string, number[]> = {}
const add = (k: string, v: number): void => { (runs[k] ??= []).push(v) }
for (let r = 0; r < rounds; r++) {
  for (const sealed of [false, true]) {
    const tag = sealed ? 'on' : 'off'
    for (const n of [1, 16]) {
      const a = await appends(n, sealed)
      add(`appends${n}.${tag}.perSec`, a.perSec)
      add(`appends${n}.${tag}.p50Ms`, a.p50)
      add(`appends${n}.${tag}.p99Ms`, a.p99)
    }
    const rec = await recovery(100_000, sealed)
    add(`recovery100k.${tag}.openMs`, rec.openMs)
    add(`recovery100k.${tag}.readAllMs`, rec.readAllMs)
  }
}
const med: Record<string, number> = {}
for (const [k, v] of Object.entries(runs)) med[k] = round(median(v))
const ratio = (k: string): number => round(med[k.replace('#', 'on')] / med[k.replace('#', 'off')], 3)
console.log(JSON.stringify({
  bench: 'protection/wal-encryption',
  entryBytes: ENTRY_BYTES,
  cipher: 'AES-256-GCM per entry (node:crypto), random 96-bit nonce, AAD = key id + group/index/term',
  durability: 'fdatasync per batch before any append resolves; group commit on',
  dir: baseDir,
  rounds,
  secondsPerScenario: seconds,
  medians: med,
  onOverOff: {
    throughput1: ratio('appends1.#.perSec'),
    throughput16: ratio('appends16.#.perSec'),
    p50Latency1: ratio('appends1.#.p50Ms'),
    p50Latency16: ratio('appends16.#.p50Ms'),
    recoveryOpen: ratio('recovery100k.#.openMs'),
    readBack100kFromDisk: ratio('recovery100k.#.readAllMs')
  }
}, null, 2))
