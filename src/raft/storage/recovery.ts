/**
 * WAL recovery: read every segment in order, verify every record's checksum,
 * and replay the records into a LogIndex and a hard state.
 *
 * Records are applied a whole write batch at a time (see record.ts), so
 * every write call is atomic across a crash.
 *
 * Damage policy (never silently drop acknowledged data):
 * - inside the last segment, a batch that is incomplete or holds a record
 *   failing its checksum, with no complete, checksummed batch-start record
 *   anywhere after it, is a torn final write: the file is truncated to the
 *   start of that batch, fsynced, and the event logged;
 * - any other damage (a bad record followed by a later batch, which can only
 *   have been written after the damaged one was fsynced and acknowledged; a
 *   bad record in a sealed segment; a missing segment; records that
 *   contradict each other) raises WalCorruptionError.
 */
import { join } from 'node:path'
import type { Logger } from '../../telemetry/index.js'
import { emptyHardState } from '../core/types.js'
import type { HardState } from '../core/types.js'
import { WalCorruptionError } from './errors.js'
import type { WalFs } from './fs.js'
import { LogIndex } from './log-index.js'
import {
  BATCH_START_FLAG, MAX_RECORD_KIND, RECORD_HEADER_BYTES, RecordKind, RecordFormatError,
  decodeBatchHeader, decodeEntry, decodeHardState, decodePair, decodeSegmentHeader, readRecord
} from './record.js'
import type { ScanResult } from './record.js'
import { createSegment, parseSegmentFileName, Segment, SEGMENT_TMP_SUFFIX } from './segment.js'

export interface RecoveredWal {
  index: LogIndex
  hardState: HardState
  /** the snapshot the WAL says is current (0, 0 for none) */
  snapshot: { index: number, term: number }
  segments: Segment[]
  /** set when a torn tail was cut off */
  truncated?: { file: string, offset: number, droppedBytes: number }
}

/** mutable replay state shared by the record handlers */
interface Replay {
  index: LogIndex
  hardState: HardState
  snapshot: { index: number, term: number }
  /**
   * Older segments were deleted after a compaction: the first remaining
   * segment's header gives the log position but the entries before it are
   * gone. A later Compact/Reset record at or beyond that position must
   * confirm the deletion was legitimate.
   */
  provisional: boolean
}

export async function recoverWal (fs: WalFs, dir: string, cacheLimit: number, log?: Logger): Promise<RecoveredWal> {
  await fs.mkdirp(dir)
  const names = await fs.readdir(dir)
  let removedTmp = false
  for (const name of names) {
    if (name.endsWith(SEGMENT_TMP_SUFFIX)) {
      log?.warn({ file: name }, 'removing segment temp file left by an interrupted rollover')
      await fs.unlink(join(dir, name))
      removedTmp = true
    }
  }
  if (removedTmp) await fs.syncDir(dir)

  const found = names
    .map(name => ({ name, parsed: parseSegmentFileName(name) }))
    .filter((x): x is { name: string, parsed: { seq: number, firstIndex: number } } => x.parsed != null)
    .sort((a, b) => a.parsed.seq - b.parsed.seq)

  const replay: Replay = { index: new LogIndex(cacheLimit), hardState: emptyHardState(), snapshot: { index: 0, term: 0 }, provisional: false }

  if (found.length === 0) {
    const seg = await createSegment(fs, dir, {
      seq: 1, prevIndex: 0, prevTerm: 0, compactIndex: 0, compactTerm: 0, snapIndex: 0, snapTerm: 0, hardState: emptyHardState()
    })
    return { index: replay.index, hardState: replay.hardState, snapshot: replay.snapshot, segments: [seg] }
  }

  for (let i = 1; i < found.length; i++) {
    if (found[i].parsed.seq !== found[i - 1].parsed.seq + 1) {
      throw new WalCorruptionError(`segment ${found[i - 1].parsed.seq + 1} is missing`, { file: join(dir, found[i].name), offset: -1 })
    }
  }

  const segments: Segment[] = []
  let truncated: RecoveredWal['truncated']
  try {
    for (let s = 0; s < found.length; s++) {
      const path = join(dir, found[s].name)
      const isLast = s === found.length - 1
      const buf = await fs.readFile(path)
      const file = await fs.open(path, isLast ? 'append' : 'read')
      let seg: Segment | undefined
      let kept = false
      try {
        const result = replaySegment(replay, buf, path, found[s].parsed, s === 0, isLast, (header) => {
          seg = new Segment(path, header, file, 0)
          return seg
        })
        if (seg == null) throw new Error('unreachable: segment without header')
        seg.size = result.validBytes
        segments.push(seg)
        kept = true
        if (result.validBytes < buf.length) {
          const droppedBytes = buf.length - result.validBytes
          log?.warn({ file: path, offset: result.validBytes, droppedBytes }, 'WAL torn tail: truncating the unacknowledged final write')
          await file.truncate(result.validBytes)
          await file.sync()
          truncated = { file: path, offset: result.validBytes, droppedBytes }
        }
      } catch (err) {
        if (!kept) await file.close().catch(() => {})
        throw err
      }
    }
    if (replay.provisional) {
      throw new WalCorruptionError('older segments are missing: no compaction record covers them', { file: segments[0].path, offset: 0 })
    }
  } catch (err) {
    await Promise.all(segments.map(async s => { await s.file.close().catch(() => {}) }))
    throw err
  }
  return { index: replay.index, hardState: replay.hardState, snapshot: replay.snapshot, segments, truncated }
}

function replaySegment (
  replay: Replay,
  buf: Uint8Array,
  path: string,
  named: { seq: number, firstIndex: number },
  first: boolean,
  isLast: boolean,
  onHeader: (h: ReturnType<typeof decodeSegmentHeader>) => Segment
): { validBytes: number } {
  const corrupt = (msg: string, offset: number): WalCorruptionError => new WalCorruptionError(msg, { file: path, offset })

  // the header was fsynced before the segment got its name: it must be intact
  const h = readRecord(buf, 0)
  if (h.status !== 'ok' || h.kind !== RecordKind.SegmentHeader) throw corrupt('segment header missing or damaged', 0)
  let header
  try {
    header = decodeSegmentHeader(buf, h.payloadStart, h.payloadEnd)
  } catch (err) {
    throw corrupt(`segment header: ${(err as Error).message}`, 0)
  }
  if (header.seq !== named.seq || header.prevIndex + 1 !== named.firstIndex) throw corrupt('segment header does not match the file name', 0)
  applyHeader(replay, header, first, () => corrupt('segment header does not continue the previous segment', 0))
  const seg = onHeader(header)

  let offset = h.end
  while (offset < buf.length) {
    const batch = completeBatch(buf, offset, header.salt)
    if (typeof batch === 'string') {
      if (!isLast) throw corrupt(`damaged write batch (${batch}) in a sealed segment`, offset)
      const later = findBatchStart(buf, offset + 1, header.salt)
      if (later >= 0) throw corrupt(`damaged write batch (${batch}) followed by a later write batch at ${later}`, offset)
      // a torn final write: it was never acknowledged, drop all of it
      return { validBytes: offset }
    }
    for (const r of batch.records) {
      try {
        applyRecord(replay, buf, r.kind, r.payloadStart, r.payloadEnd, seg)
      } catch (err) {
        if (err instanceof RecordFormatError || err instanceof ReplayError) throw corrupt(err.message, r.offset)
        throw err
      }
    }
    offset = batch.end
  }
  return { validBytes: offset }
}

type OkRecord = Extract<ScanResult, { status: 'ok' }>

/**
 * The write batch starting at `offset` if it is complete: a BatchHeader and
 * exactly the records it announces, all checksummed. Otherwise why not.
 */
function completeBatch (buf: Uint8Array, offset: number, salt: number): { records: OkRecord[], end: number } | string {
  const h = readRecord(buf, offset, salt)
  if (h.status !== 'ok') return h.status
  if (h.kind !== RecordKind.BatchHeader || !h.batchStart) return `record kind ${h.kind} where a batch header belongs`
  let announced
  try {
    announced = decodeBatchHeader(buf, h.payloadStart, h.payloadEnd)
  } catch (err) {
    return (err as Error).message
  }
  const end = h.end + announced.bytes
  if (end > buf.length) return 'incomplete'
  const records: OkRecord[] = []
  let at = h.end
  while (at < end) {
    const r = readRecord(buf.subarray(0, end), at, salt)
    if (r.status !== 'ok') return r.status
    if (r.batchStart) return 'batch start inside a batch'
    records.push(r)
    at = r.end
  }
  if (records.length !== announced.records) return `batch announces ${announced.records} records, holds ${records.length}`
  return { records, end }
}

class ReplayError extends Error {}

/** dummy term while replaying after deleted segments, before the covering compaction is seen */
const UNKNOWN_TERM = -1

function applyHeader (replay: Replay, h: ReturnType<typeof decodeSegmentHeader>, first: boolean, fail: () => Error): void {
  const idx = replay.index
  if (first) {
    replay.hardState = { ...h.hardState }
    replay.snapshot = { index: h.snapIndex, term: h.snapTerm }
    if (h.compactIndex > h.prevIndex) throw fail()
    if (h.compactIndex === h.prevIndex) {
      if (h.compactTerm !== h.prevTerm) throw fail()
      idx.reset(h.compactIndex, h.compactTerm)
    } else if (h.seq === 1) {
      // the very first segment starts from its compaction point
      throw fail()
    } else {
      idx.reset(h.prevIndex, h.prevTerm)
      replay.provisional = true
    }
    return
  }
  const hs = replay.hardState
  const lastTerm = idx.term(idx.lastIndex())
  if (h.prevIndex !== idx.lastIndex() || (lastTerm !== UNKNOWN_TERM && h.prevTerm !== lastTerm) ||
    h.hardState.term !== hs.term || h.hardState.vote !== hs.vote || h.hardState.commit !== hs.commit ||
    h.snapIndex !== replay.snapshot.index || h.snapTerm !== replay.snapshot.term ||
    (!replay.provisional && (h.compactIndex !== idx.dummyIndex || h.compactTerm !== idx.dummyTerm))) {
    throw fail()
  }
}

function applyRecord (replay: Replay, buf: Uint8Array, kind: number, start: number, end: number, seg: Segment): void {
  const idx = replay.index
  switch (kind) {
    case RecordKind.Entry: {
      const e = decodeEntry(buf, start, end)
      if (e.index <= idx.dummyIndex) {
        if (!replay.provisional) throw new ReplayError(`entry ${e.index} at or below the compaction point ${idx.dummyIndex}`)
        // it overwrote entries held by deleted segments; the term before it is
        // unknown until the compaction that justified the deletion is replayed
        idx.reset(e.index - 1, UNKNOWN_TERM)
      }
      if (e.index > idx.lastIndex() + 1) throw new ReplayError(`entry ${e.index} leaves a gap after ${idx.lastIndex()}`)
      idx.truncateAfter(e.index - 1)
      idx.push({ term: e.term, type: e.type, source: seg, offset: e.dataStart, length: e.dataLength })
      return
    }
    case RecordKind.HardState:
      replay.hardState = decodeHardState(buf, start, end)
      return
    case RecordKind.Compact: {
      const c = decodePair(buf, start, end)
      if (replay.provisional && c.index <= idx.dummyIndex) {
        if (c.index < idx.dummyIndex) return // an older compaction, already covered
        if (idx.dummyTerm !== UNKNOWN_TERM && idx.dummyTerm !== c.term) throw new ReplayError(`compaction to ${c.index} names term ${c.term}, the log has ${idx.dummyTerm}`)
        idx.dummyTerm = c.term
        replay.provisional = false
        return
      }
      if (c.index <= idx.dummyIndex) throw new ReplayError(`compaction to ${c.index} at or below the compaction point ${idx.dummyIndex}`)
      if (c.index > idx.lastIndex()) throw new ReplayError(`compaction to ${c.index} beyond the last index ${idx.lastIndex()}`)
      if (idx.term(c.index) !== c.term) throw new ReplayError(`compaction to ${c.index} names term ${c.term}, the log has ${idx.term(c.index)}`)
      idx.compact(c.index)
      replay.provisional = false
      return
    }
    case RecordKind.Reset: {
      const r = decodePair(buf, start, end)
      idx.reset(r.index, r.term)
      replay.snapshot = { index: r.index, term: r.term }
      replay.provisional = false
      return
    }
    case RecordKind.Snapshot: {
      const r = decodePair(buf, start, end)
      if (r.index <= replay.snapshot.index) throw new ReplayError(`snapshot ${r.index} is not newer than ${replay.snapshot.index}`)
      replay.snapshot = { index: r.index, term: r.term }
      return
    }
    case RecordKind.SegmentHeader:
      throw new ReplayError('segment header in the middle of a segment')
    default:
      throw new ReplayError(`unknown record kind ${kind}`)
  }
}

/**
 * Offset of the first complete, checksummed record marked as a batch start
 * at or after `from`, or -1. Scans byte by byte: the length of a damaged
 * record cannot be trusted to find the next one.
 */
export function findBatchStart (buf: Uint8Array, from: number, salt: number): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  for (let at = from; at + RECORD_HEADER_BYTES <= buf.length; at++) {
    const type = buf[at + 8]
    if ((type & BATCH_START_FLAG) === 0) continue
    const kind = type & ~BATCH_START_FLAG
    if (kind < RecordKind.SegmentHeader || kind > MAX_RECORD_KIND) continue
    const len = view.getUint32(at, true)
    if (len === 0 || at + RECORD_HEADER_BYTES + len > buf.length) continue
    if (readRecord(buf, at, salt).status === 'ok') return at
  }
  return -1
}
