/**
 * Upgrading a data dir written in clear (an older dcis, or encryption off)
 * to encryption at rest.
 *
 * When the keyring is created for a data dir that already holds data,
 * openProtection records `legacyClear: {since, raftFiles}` in it. While that
 * flag is set the sealer reads records that are not sealed as they are; a
 * keyring created for an empty data dir never accepts a clear record (one
 * there is tampering).
 *
 * The migration pass (`migrateLegacyClear`, run at start before the service
 * stores open, so no write races it) re-seals every clear value of the
 * service datastore (keys under /dcis/) and the catalogue snapshot. Raft WAL
 * segments and snapshots cannot be rewritten under a running group: the
 * files that existed when the keyring was created are listed in the flag and
 * leave by the WAL's own compaction (new entries and snapshots are sealed);
 * `recheckLegacyClear` (periodic) drops the flag once none of them remains.
 * Writes after the keyring exists are always sealed (re-seal on rewrite).
 */
import { promises as fs, constants as fsConstants } from 'node:fs'
import path from 'node:path'
import { Key } from 'interface-datastore'
import { looksSealed } from './sealer.js'
import type { Keyring } from './keyring.js'
import type { Sealer } from './sealer.js'
import type { Datastore } from 'interface-datastore'

/** the prefix of every datastore key the SealedDatastore holds (libp2p's own records stay clear) */
export const SEALED_PREFIX = '/dcis/'
export const CATALOGUE_SNAPSHOT = path.join('catalogue', 'catalogue.snapshot')
const BATCH = 500

async function exists (p: string): Promise<boolean> {
  try { await fs.access(p); return true } catch { return false }
}

async function walk (dir: string, base: string, out: string[]): Promise<void> {
  let entries
  try { entries = await fs.readdir(dir, { withFileTypes: true }) } catch { return }
  for (const e of entries) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) await walk(p, base, out)
    else if (e.isFile() && (e.name.endsWith('.seg') || e.name.endsWith('.snap'))) out.push(path.relative(base, p).split(path.sep).join('/'))
  }
}

/** The Raft WAL segments and snapshots of a data dir (relative paths). */
export async function raftFilesOf (dataDir: string): Promise<string[]> {
  const out: string[] = []
  await walk(path.join(dataDir, 'raft'), dataDir, out)
  return out.sort()
}

/**
 * Whether `dataDir` already holds data an older dcis wrote (service
 * datastore, catalogue snapshot or Raft files): a keyring created for it
 * must accept clear records until they are re-sealed.
 */
export async function holdsLegacyData (dataDir: string): Promise<boolean> {
  try {
    const ds = await fs.readdir(path.join(dataDir, 'datastore'))
    if (ds.length > 0) return true
  } catch {
    // no datastore dir yet
  }
  if (await exists(path.join(dataDir, CATALOGUE_SNAPSHOT))) return true
  return (await raftFilesOf(dataDir)).length > 0
}

export interface MigrationResult {
  /** datastore values re-sealed */
  resealed: number
  /** datastore values that were sealed already */
  sealed: number
  /** whether the catalogue snapshot was re-sealed */
  catalogue: boolean
  /** legacy Raft files still present (the flag stays until they are compacted away) */
  raftRemaining: number
  /** the legacy flag is cleared: clear records are refused from now on */
  done: boolean
}

/** Re-seals the clear records of the datastore and the catalogue snapshot; clears the flag when nothing clear is left. */
export async function migrateLegacyClear (dataDir: string, keyring: Keyring, sealer: Sealer, inner: Datastore): Promise<MigrationResult> {
  const res: MigrationResult = { resealed: 0, sealed: 0, catalogue: false, raftRemaining: 0, done: keyring.legacyClear === undefined }
  if (res.done) return res
  // 1. the service datastore: every value under /dcis/ not sealed yet
  let batch = inner.batch()
  let pending = 0
  for await (const { key, value } of inner.query({ prefix: SEALED_PREFIX.slice(0, -1) })) {
    if (!key.toString().startsWith(SEALED_PREFIX)) continue
    if (looksSealed(value)) { res.sealed++; continue }
    batch.put(new Key(key.toString()), sealer.seal(value, key.toString()))
    res.resealed++
    if (++pending >= BATCH) { await batch.commit(); batch = inner.batch(); pending = 0 }
  }
  if (pending > 0) await batch.commit()
  // LevelDB keeps overwritten values in its log and tables until they are compacted: compact the re-sealed range
  if (res.resealed > 0) await compactSealedRange(inner)
  // 2. the catalogue snapshot (one record), atomically
  const snap = path.join(dataDir, CATALOGUE_SNAPSHOT)
  let bytes: Uint8Array | undefined
  try {
    bytes = await fs.readFile(snap)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (bytes !== undefined && !looksSealed(bytes)) {
    await writeAtomic(snap, sealer.seal(bytes, 'catalogue.snapshot'))
    res.catalogue = true
  }
  keyring.narrowLegacyToRaft()
  // 3. Raft files: sealed from now on; the listed legacy ones leave by compaction
  const r = await recheckLegacyClear(dataDir, keyring)
  res.raftRemaining = r.raftRemaining
  res.done = r.done
  return res
}

/** Clears the legacy flag once none of the Raft files it lists remains (the datastore and catalogue were re-sealed at start). */
export async function recheckLegacyClear (dataDir: string, keyring: Keyring): Promise<{ raftRemaining: number, done: boolean }> {
  const legacy = keyring.legacyClear
  if (legacy === undefined) return { raftRemaining: 0, done: true }
  let remaining = 0
  for (const f of legacy.raftFiles) {
    if (await exists(path.join(dataDir, f))) remaining++
  }
  if (remaining === 0) await keyring.endLegacy()
  return { raftRemaining: remaining, done: remaining === 0 }
}

/** datastore-level exposes its LevelDB handle as `db` (classic-level: compactRange flushes the memtable and rewrites the tables) */
async function compactSealedRange (inner: Datastore): Promise<void> {
  const db = (inner as unknown as { db?: { compactRange?: (start: string, end: string) => Promise<void> } }).db
  if (typeof db?.compactRange !== 'function') return
  await db.compactRange(SEALED_PREFIX, SEALED_PREFIX.slice(0, -1) + String.fromCharCode(SEALED_PREFIX.charCodeAt(SEALED_PREFIX.length - 1) + 1))
}

async function writeAtomic (file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.reseal.tmp`
  const h = await fs.open(tmp, 'w', 0o600)
  try {
    await h.writeFile(bytes)
    await h.sync()
  } finally {
    await h.close()
  }
  await fs.rename(tmp, file)
  const d = await fs.open(path.dirname(file), fsConstants.O_RDONLY)
  try { await d.sync() } finally { await d.close() }
}
