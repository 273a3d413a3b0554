/**
 * Snapshot files in `<dir>/snap/`: written atomically (temp file, fsync,
 * rename, fsync dir), the newest `keep` retained, loaded newest-valid first.
 */
import { join } from 'node:path'
import type { Logger } from '../../telemetry/index.js'
import type { Snapshot } from '../core/types.js'
import type { WalCipher } from './index.js'
import { SnapshotCorruptionError } from './errors.js'
import type { WalFs } from './fs.js'
import { decodeSnapshot, encodeSnapshot, parseSnapshotFileName, snapshotFileName, SnapshotFormatError } from './snapshot-file.js'

const TMP_SUFFIX = '.tmp'
const CORRUPT_SUFFIX = '.corrupt'

export class SnapshotStore {
  constructor (
    private readonly fs: WalFs,
    readonly dir: string,
    private readonly log?: Logger,
    private readonly cipher?: WalCipher
  ) {}

  /** create the directory and remove temp files left by a crash mid-write */
  async init (): Promise<void> {
    await this.fs.mkdirp(this.dir)
    let removed = false
    for (const name of await this.fs.readdir(this.dir)) {
      if (name.endsWith(TMP_SUFFIX)) {
        this.log?.warn({ file: name }, 'removing snapshot temp file left by an interrupted write')
        await this.fs.unlink(join(this.dir, name))
        removed = true
      }
    }
    if (removed) await this.fs.syncDir(this.dir)
  }

  /** snapshot files, newest (highest index) first */
  private async files (): Promise<Array<{ file: string, index: number, term: number }>> {
    const out: Array<{ file: string, index: number, term: number }> = []
    for (const name of await this.fs.readdir(this.dir)) {
      const parsed = parseSnapshotFileName(name)
      if (parsed != null) out.push({ file: join(this.dir, name), ...parsed })
    }
    return out.sort((a, b) => b.index - a.index)
  }

  private async read (file: string, index: number, term: number): Promise<Snapshot> {
    const raw = await this.fs.readFile(file)
    let bytes = raw
    if (this.cipher !== undefined) {
      try {
        bytes = this.cipher.openSnapshot(raw, index, term)
      } catch (err) {
        if ((err as Error).name === 'UnknownKeyError') throw err
        throw new SnapshotFormatError(`sealed snapshot does not open: ${(err as Error).message}`)
      }
    }
    const snapshot = decodeSnapshot(bytes)
    if (snapshot.metadata.index !== index || snapshot.metadata.term !== term) {
      throw new SnapshotFormatError('file name does not match metadata')
    }
    return snapshot
  }

  /**
   * Load the snapshot the WAL names as current (`ref`; index 0 = none).
   * Files newer than it belong to snapshot operations that never completed
   * (never acknowledged) and are removed. If the named file is missing or
   * damaged, an older valid snapshot is used only when it still reaches the
   * log's compaction point (no entry is lost); otherwise
   * SnapshotCorruptionError.
   */
  async recover (ref: { index: number, term: number }, compactIndex: number): Promise<Snapshot | undefined> {
    const files = await this.files()
    let removed = false
    for (const f of files) {
      if (f.index > ref.index || (f.index === ref.index && f.term !== ref.term)) {
        this.log?.warn({ file: f.file }, 'removing a snapshot file from an interrupted snapshot operation')
        await this.fs.unlink(f.file)
        removed = true
      }
    }
    if (removed) await this.fs.syncDir(this.dir)
    if (ref.index === 0) return undefined
    const target = files.find(f => f.index === ref.index && f.term === ref.term)
    let reason = 'file is missing'
    if (target != null) {
      try {
        return await this.read(target.file, target.index, target.term)
      } catch (err) {
        if (!(err instanceof SnapshotFormatError)) throw err
        reason = err.message
      }
    }
    const file = target?.file ?? join(this.dir, snapshotFileName(ref.index, ref.term))
    for (const f of files) {
      if (f.index >= ref.index || f.index < compactIndex) continue
      try {
        const older = await this.read(f.file, f.index, f.term)
        this.log?.error({ file, reason, fallback: f.file }, 'current snapshot unusable; falling back to an older one that still covers the log')
        if (target != null) await this.quarantine(target.file)
        return older
      } catch (err) {
        if (!(err instanceof SnapshotFormatError)) throw err
      }
    }
    throw new SnapshotCorruptionError(`snapshot ${ref.index} (term ${ref.term}) is unusable: ${reason}; no older snapshot covers the log from ${compactIndex}`, file)
  }

  /** move a damaged file aside so it is not considered again (kept for inspection) */
  async quarantine (file: string): Promise<void> {
    await this.fs.rename(file, file + CORRUPT_SUFFIX)
    await this.fs.syncDir(this.dir)
  }

  /** write atomically; when this resolves the snapshot survives a crash */
  async write (snap: Snapshot): Promise<string> {
    const name = snapshotFileName(snap.metadata.index, snap.metadata.term)
    const final = join(this.dir, name)
    const tmp = final + TMP_SUFFIX
    const plain = encodeSnapshot(snap)
    const bytes = this.cipher === undefined ? plain : this.cipher.sealSnapshot(plain, snap.metadata.index, snap.metadata.term)
    const fh = await this.fs.open(tmp, 'create')
    try {
      await fh.write(bytes, 0)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await this.fs.rename(tmp, final)
    await this.fs.syncDir(this.dir)
    return final
  }

  /** delete all but the newest `keep` snapshot files */
  async prune (keep: number): Promise<void> {
    const files = await this.files()
    if (files.length <= keep) return
    for (const { file } of files.slice(keep)) {
      await this.fs.unlink(file)
    }
    await this.fs.syncDir(this.dir)
  }
}
