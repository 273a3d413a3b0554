/**
 * WAL record framing and payload codecs (pure, no I/O).
 *
 * A record on disk is
 *
 *   [len u32 LE][crc32c u32 LE][type u8][payload: len bytes]
 *
 * where `crc32c` covers the four length bytes, the type byte and the payload
 * (so a damaged length field is caught too), and starts from the segment's
 * random salt (from its header; the header itself uses salt 0). The salt
 * means bytes that merely look like records (stale data, or record-shaped
 * bytes inside client-supplied entry data) never checksum as records of this
 * segment, so recovery's search for a later batch cannot be fooled. The low 7 bits of `type` are the
 * record kind; bit 7 marks the first record of a write batch.
 *
 * Every write batch (one write + one fdatasync) starts with a BatchHeader
 * record giving the byte length and record count of the rest of the batch.
 * Recovery applies a batch only if it is complete, so every write call is
 * atomic across a crash. The header is also what lets recovery tell a torn
 * final write (damage inside the last batch: drop that batch) from damage to
 * acknowledged data (a later batch exists, and a batch is only written after
 * the previous one's fsync returned: refuse to open).
 *
 * Integers are u64 LE limited to Number.MAX_SAFE_INTEGER.
 */
import { EntryType } from '../core/types.js'
import type { HardState } from '../core/types.js'
import { crc32cUpdate } from './crc32c.js'

export const RECORD_HEADER_BYTES = 9
export const BATCH_START_FLAG = 0x80

export enum RecordKind {
  /** first record of every segment: where it continues from and the state at that point */
  SegmentHeader = 1,
  Entry = 2,
  HardState = 3,
  /** entries <= index dropped; term is the term of `index` */
  Compact = 4,
  /** a snapshot at (index, term) replaced the whole log (and is now the current snapshot) */
  Reset = 5,
  /** the snapshot file (index, term) is complete and is now the current snapshot; the log is unchanged */
  Snapshot = 6,
  /** first record of every write batch: bytes u32 and records u32 of the rest of the batch */
  BatchHeader = 7
}

export const MAX_RECORD_KIND = RecordKind.BatchHeader
export const BATCH_HEADER_BYTES = RECORD_HEADER_BYTES + 8

export interface SegmentHeader {
  seq: number
  /** last index of the log when the segment was opened, and its term */
  prevIndex: number
  prevTerm: number
  /** compaction point (index and term of the dummy entry) at that moment */
  compactIndex: number
  compactTerm: number
  /** the current snapshot (0, 0 for none) */
  snapIndex: number
  snapTerm: number
  hardState: HardState
  /** random u32 seeding every record checksum in this segment after the header */
  salt: number
}

/** bytes of an entry record's payload before its data: index u64, term u64, type u8 */
export const ENTRY_FIXED = 17
const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** A payload failed to decode although its checksum matched. */
export class RecordFormatError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'RecordFormatError'
  }
}

function putU64 (view: DataView, at: number, n: number): void {
  view.setUint32(at, n % 0x100000000, true)
  view.setUint32(at + 4, Math.floor(n / 0x100000000), true)
}

function getU64 (view: DataView, at: number): number {
  const lo = view.getUint32(at, true)
  const hi = view.getUint32(at + 4, true)
  if (hi > 0x1fffff) throw new RecordFormatError(`integer at +${at} exceeds 2^53`)
  return hi * 0x100000000 + lo
}

/**
 * Builds one write batch: records are framed straight into a growing buffer.
 * A framed batch (the default) starts with a BatchHeader, completed by
 * finish(); a segment's own header is written unframed, alone in its file.
 * The first record gets the batch-start mark.
 */
export class BatchEncoder {
  private buf: Uint8Array
  private view: DataView
  private len = 0
  private first = true
  private records = 0
  private readonly batchHeaderAt: number

  constructor (initial = 4096, framed = true, private readonly salt = 0) {
    this.buf = new Uint8Array(Math.max(initial, 64))
    this.view = new DataView(this.buf.buffer)
    this.batchHeaderAt = framed ? this.open(RecordKind.BatchHeader, 8) : -1
  }

  get byteLength (): number { return this.len }
  /** no record besides the batch header */
  get empty (): boolean { return this.records === 0 }

  private reserve (n: number): void {
    if (this.len + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.len + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  /** start a record of `payloadLen` bytes; returns the payload's offset in the batch */
  private open (kind: RecordKind, payloadLen: number): number {
    if (kind !== RecordKind.BatchHeader) this.records++
    this.reserve(RECORD_HEADER_BYTES + payloadLen)
    const at = this.len
    this.view.setUint32(at, payloadLen, true)
    this.buf[at + 8] = kind | (this.first ? BATCH_START_FLAG : 0)
    this.first = false
    this.len += RECORD_HEADER_BYTES + payloadLen
    return at + RECORD_HEADER_BYTES
  }

  private seal (payloadAt: number): void {
    const at = payloadAt - RECORD_HEADER_BYTES
    const len = this.view.getUint32(at, true)
    const crc = crc32cRecord(this.buf, at, len, this.salt)
    this.view.setUint32(at + 4, crc, true)
  }

  /** returns the offset of the entry's data within the batch */
  entry (index: number, term: number, type: EntryType, data: Uint8Array): number {
    const p = this.open(RecordKind.Entry, ENTRY_FIXED + data.length)
    putU64(this.view, p, index)
    putU64(this.view, p + 8, term)
    this.buf[p + 16] = type
    this.buf.set(data, p + ENTRY_FIXED)
    this.seal(p)
    return p + ENTRY_FIXED
  }

  hardState (hs: HardState): void {
    const vote = encoder.encode(hs.vote)
    const p = this.open(RecordKind.HardState, 16 + vote.length)
    putU64(this.view, p, hs.term)
    putU64(this.view, p + 8, hs.commit)
    this.buf.set(vote, p + 16)
    this.seal(p)
  }

  compact (index: number, term: number): void { this.pair(RecordKind.Compact, index, term) }
  reset (index: number, term: number): void { this.pair(RecordKind.Reset, index, term) }
  snapshot (index: number, term: number): void { this.pair(RecordKind.Snapshot, index, term) }

  private pair (kind: RecordKind, index: number, term: number): void {
    const p = this.open(kind, 16)
    putU64(this.view, p, index)
    putU64(this.view, p + 8, term)
    this.seal(p)
  }

  segmentHeader (h: SegmentHeader): void {
    const vote = encoder.encode(h.hardState.vote)
    const p = this.open(RecordKind.SegmentHeader, 80 + vote.length)
    putU64(this.view, p, h.seq)
    putU64(this.view, p + 8, h.prevIndex)
    putU64(this.view, p + 16, h.prevTerm)
    putU64(this.view, p + 24, h.compactIndex)
    putU64(this.view, p + 32, h.compactTerm)
    putU64(this.view, p + 40, h.hardState.term)
    putU64(this.view, p + 48, h.hardState.commit)
    putU64(this.view, p + 56, h.snapIndex)
    putU64(this.view, p + 64, h.snapTerm)
    putU64(this.view, p + 72, h.salt)
    this.buf.set(vote, p + 80)
    this.seal(p)
  }

  /** the encoded batch (a view on the internal buffer; the encoder must not be reused) */
  finish (): Uint8Array {
    if (this.batchHeaderAt >= 0) {
      this.view.setUint32(this.batchHeaderAt, this.len - BATCH_HEADER_BYTES, true)
      this.view.setUint32(this.batchHeaderAt + 4, this.records, true)
      this.seal(this.batchHeaderAt)
    }
    return this.buf.subarray(0, this.len)
  }
}

function crc32cRecord (buf: Uint8Array, at: number, payloadLen: number, salt: number): number {
  // salt, then length bytes, then type byte + payload (skipping the crc field itself)
  const c = crc32cUpdate(salt, buf, at, at + 4)
  return crc32cUpdate(c, buf, at + 8, at + RECORD_HEADER_BYTES + payloadLen)
}

export type ScanResult =
  | { status: 'ok', offset: number, kind: number, batchStart: boolean, payloadStart: number, payloadEnd: number, end: number }
  /** not enough bytes left for the header or the declared payload */
  | { status: 'incomplete', offset: number }
  /** the record is complete but its checksum does not match */
  | { status: 'bad-crc', offset: number, end: number }
  /** `len` is zero-sized garbage: a record always has a payload */
  | { status: 'bad-length', offset: number }

/** Read the record framed at `offset` of `buf` (no payload decoding). */
export function readRecord (buf: Uint8Array, offset: number, salt = 0): ScanResult {
  if (buf.length - offset < RECORD_HEADER_BYTES) return { status: 'incomplete', offset }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const len = view.getUint32(offset, true)
  if (len === 0) return { status: 'bad-length', offset }
  const end = offset + RECORD_HEADER_BYTES + len
  if (end > buf.length) return { status: 'incomplete', offset }
  const crc = view.getUint32(offset + 4, true)
  if (crc32cRecord(buf, offset, len, salt) !== crc) return { status: 'bad-crc', offset, end }
  const type = buf[offset + 8]
  return {
    status: 'ok',
    offset,
    kind: type & ~BATCH_START_FLAG,
    batchStart: (type & BATCH_START_FLAG) !== 0,
    payloadStart: offset + RECORD_HEADER_BYTES,
    payloadEnd: end,
    end
  }
}

function viewOf (buf: Uint8Array, start: number, end: number): DataView {
  return new DataView(buf.buffer, buf.byteOffset + start, end - start)
}

export interface DecodedEntry {
  index: number
  term: number
  type: EntryType
  /** offset of the data in `buf` and its length */
  dataStart: number
  dataLength: number
}

export function decodeEntry (buf: Uint8Array, start: number, end: number): DecodedEntry {
  if (end - start < ENTRY_FIXED) throw new RecordFormatError('entry record too short')
  const v = viewOf(buf, start, end)
  const type = buf[start + 16]
  if (type !== EntryType.Normal && type !== EntryType.ConfChange) throw new RecordFormatError(`unknown entry type ${type}`)
  return { index: getU64(v, 0), term: getU64(v, 8), type, dataStart: start + ENTRY_FIXED, dataLength: end - start - ENTRY_FIXED }
}

export function decodeHardState (buf: Uint8Array, start: number, end: number): HardState {
  if (end - start < 16) throw new RecordFormatError('hard state record too short')
  const v = viewOf(buf, start, end)
  return { term: getU64(v, 0), commit: getU64(v, 8), vote: decodeText(buf.subarray(start + 16, end)) }
}

export function decodePair (buf: Uint8Array, start: number, end: number): { index: number, term: number } {
  if (end - start !== 16) throw new RecordFormatError('compact/reset/snapshot record must be 16 bytes')
  const v = viewOf(buf, start, end)
  return { index: getU64(v, 0), term: getU64(v, 8) }
}

export function decodeBatchHeader (buf: Uint8Array, start: number, end: number): { bytes: number, records: number } {
  if (end - start !== 8) throw new RecordFormatError('batch header must be 8 bytes')
  const v = viewOf(buf, start, end)
  return { bytes: v.getUint32(0, true), records: v.getUint32(4, true) }
}

export function decodeSegmentHeader (buf: Uint8Array, start: number, end: number): SegmentHeader {
  if (end - start < 80) throw new RecordFormatError('segment header too short')
  const v = viewOf(buf, start, end)
  return {
    seq: getU64(v, 0),
    prevIndex: getU64(v, 8),
    prevTerm: getU64(v, 16),
    compactIndex: getU64(v, 24),
    compactTerm: getU64(v, 32),
    snapIndex: getU64(v, 56),
    snapTerm: getU64(v, 64),
    salt: getU64(v, 72),
    hardState: { term: getU64(v, 40), commit: getU64(v, 48), vote: decodeText(buf.subarray(start + 80, end)) }
  }
}

function decodeText (bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes)
  } catch {
    throw new RecordFormatError('vote is not valid UTF-8')
  }
}

