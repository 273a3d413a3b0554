/**
 * One WAL segment file: `<seq 16 hex>-<firstIndex 16 hex>.seg` in `<dir>/wal/`.
 * Its first record is a SegmentHeader; it is appended to until it reaches the
 * size limit, then a new segment is created (temp file + fsync + rename +
 * fsync dir) and the old one is never written again.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { WalFile, WalFs } from './fs.js'
import type { DataSource } from './log-index.js'
import { WalCorruptionError } from './errors.js'
import { BatchEncoder, ENTRY_FIXED, RECORD_HEADER_BYTES, RecordKind, readRecord } from './record.js'
import type { SegmentHeader } from './record.js'

const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.seg$/

export function segmentFileName (seq: number, firstIndex: number): string {
  return `${seq.toString(16).padStart(16, '0')}-${firstIndex.toString(16).padStart(16, '0')}.seg`
}

export function parseSegmentFileName (name: string): { seq: number, firstIndex: number } | undefined {
  const m = NAME_RE.exec(name)
  if (m == null) return undefined
  const seq = parseInt(m[1], 16)
  const firstIndex = parseInt(m[2], 16)
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex)) return undefined
  return { seq, firstIndex }
}

export class Segment implements DataSource {
  constructor (
    readonly path: string,
    readonly header: SegmentHeader,
    readonly file: WalFile,
    /** bytes of valid records (the write position) */
    public size: number
  ) {}

  get seq (): number { return this.header.seq }

  /**
   * Read back the data of the entry whose data starts at `offset`: the whole
   * record is read and its checksum verified again (bit rot after recovery
   * is reported, never returned as data).
   */
  read (offset: number, length: number): Uint8Array {
    const start = offset - ENTRY_FIXED - RECORD_HEADER_BYTES
    const rec = new Uint8Array(RECORD_HEADER_BYTES + ENTRY_FIXED + length)
    const n = this.file.readSync(rec, start)
    const r = n === rec.length ? readRecord(rec, 0, this.header.salt) : undefined
    if (r?.status !== 'ok' || r.kind !== RecordKind.Entry) {
      throw new WalCorruptionError(`entry record unreadable on read-back (${r?.status ?? `short read: ${n} of ${rec.length} bytes`})`, { file: this.path, offset: start })
    }
    return rec.subarray(RECORD_HEADER_BYTES + ENTRY_FIXED)
  }
}

/**
 * Create a new segment holding only its header, atomically: written and
 * fsynced under a temp name, renamed into place, directory fsynced. A crash
 * leaves either no segment or a complete one (plus a temp file recovery removes).
 */
export async function createSegment (fs: WalFs, dir: string, fields: Omit<SegmentHeader, 'salt'>): Promise<Segment> {
  const header: SegmentHeader = { ...fields, salt: randomBytes(4).readUInt32LE(0) }
  const name = segmentFileName(header.seq, header.prevIndex + 1)
  const final = join(dir, name)
  const tmp = final + SEGMENT_TMP_SUFFIX
  const enc = new BatchEncoder(256, false)
  enc.segmentHeader(header)
  const bytes = enc.finish()
  const file = await fs.open(tmp, 'create')
  try {
    await file.write(bytes, 0)
    await file.sync()
    await fs.rename(tmp, final)
    await fs.syncDir(dir)
  } catch (err) {
    await file.close().catch(() => {})
    throw err
  }
  return new Segment(final, header, file, bytes.length)
}

export const SEGMENT_TMP_SUFFIX = '.tmp'
