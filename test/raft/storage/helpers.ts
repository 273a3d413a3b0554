/**
 * Test helpers for the storage tests: temp directories, a seeded PRNG,
 * entry builders (waiting for a condition: test/helpers/wait.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPrng } from '../../../src/latency/prng.js'
import { EntryType } from '../../../src/raft/core/types.js'
import type { Entry } from '../../../src/raft/core/types.js'

export async function tempDir (prefix = 'dcis-wal-'): Promise<{ path: string, remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: async () => { await rm(path, { recursive: true, force: true }) } }
}

/** a seeded generator of floats in [0, 1) (the project's PRNG, src/latency/prng.ts) */
export function prng (seed: number): () => number {
  const p = createPrng(seed)
  return () => p.next()
}

/** deterministic data for entry (index, term), `size` bytes */
export function dataFor (index: number, term: number, size = 8): Uint8Array {
  const d = new Uint8Array(size)
  for (let i = 0; i < size; i++) d[i] = (index * 31 + term * 7 + i) & 0xff
  return d
}

export function ent (index: number, term: number, size = 8, type = EntryType.Normal): Entry {
  return { index, term, type, data: dataFor(index, term, size) }
}

/** entries lo..hi inclusive, all in `term` */
export function ents (lo: number, hi: number, term: number, size = 8): Entry[] {
  const out: Entry[] = []
  for (let i = lo; i <= hi; i++) out.push(ent(i, term, size))
  return out
}

/** compare (index, term, type, data) of two entry lists */
export function sameEntries (a: Entry[], b: Entry[]): boolean {
  if (a.length !== b.length) return false
  for (let k = 0; k < a.length; k++) {
    if (a[k].index !== b[k].index || a[k].term !== b[k].term || a[k].type !== b[k].type) return false
    if (Buffer.compare(Buffer.from(a[k].data), Buffer.from(b[k].data)) !== 0) return false
  }
  return true
}

export function describeEntries (es: Entry[]): string {
  return es.map(e => `${e.index}:${e.term}(${e.data.length})`).join(' ')
}
