import assert from 'node:assert/strict'
import { EntryType } from '../../../src/raft/core/types.js'
import {
  BatchEncoder, RecordKind, decodeBatchHeader, decodeEntry, decodeHardState, decodePair, decodeSegmentHeader, readRecord
} from '../../../src/raft/storage/record.js'
import { findBatchStart } from '../../../src/raft/storage/recovery.js'

describe('raft/storage record framing', function () {
  function sample (): Uint8Array {
    const enc = new BatchEncoder(16)
    enc.segmentHeader({ seq: 7, prevIndex: 2 ** 40, prevTerm: 3, compactIndex: 5, compactTerm: 2, snapIndex: 4, snapTerm: 2, hardState: { term: 9, vote: 'peer-é', commit: 12 }, salt: 0xdeadbeef })
    enc.entry(2 ** 53 - 1, 4, EntryType.ConfChange, new Uint8Array([1, 2, 3]))
    enc.hardState({ term: 5, vote: '', commit: 0 })
    enc.compact(10, 2)
    enc.reset(11, 3)
    enc.snapshot(12, 4)
    return enc.finish()
  }

  it('round-trips every record kind, marking only the first as a batch start', function () {
    const buf = sample()
    const out: unknown[] = []
    let at = 0
    let starts = 0
    while (at < buf.length) {
      const r = readRecord(buf, at)
      assert.equal(r.status, 'ok')
      if (r.status !== 'ok') return
      if (r.batchStart) starts++
      switch (r.kind) {
        case RecordKind.BatchHeader: out.push(decodeBatchHeader(buf, r.payloadStart, r.payloadEnd)); break
        case RecordKind.SegmentHeader: out.push(decodeSegmentHeader(buf, r.payloadStart, r.payloadEnd)); break
        case RecordKind.Entry: {
          const e = decodeEntry(buf, r.payloadStart, r.payloadEnd)
          out.push({ ...e, data: [...buf.subarray(e.dataStart, e.dataStart + e.dataLength)] })
          break
        }
        case RecordKind.HardState: out.push(decodeHardState(buf, r.payloadStart, r.payloadEnd)); break
        default: out.push({ kind: r.kind, ...decodePair(buf, r.payloadStart, r.payloadEnd) })
      }
      at = r.end
    }
    assert.equal(starts, 1)
    assert.equal(out.length, 7)
    const batchHeader = readRecord(buf, 0)
    assert.ok(batchHeader.status === 'ok')
    assert.deepEqual(out.shift(), { bytes: buf.length - batchHeader.end, records: 6 })
    assert.deepEqual(out[0], { seq: 7, prevIndex: 2 ** 40, prevTerm: 3, compactIndex: 5, compactTerm: 2, snapIndex: 4, snapTerm: 2, hardState: { term: 9, vote: 'peer-é', commit: 12 }, salt: 0xdeadbeef })
    assert.equal((out[1] as { index: number }).index, 2 ** 53 - 1)
    assert.deepEqual((out[1] as { data: number[] }).data, [1, 2, 3])
    assert.equal((out[1] as { type: number }).type, EntryType.ConfChange)
    assert.deepEqual(out[2], { term: 5, vote: '', commit: 0 })
    assert.deepEqual(out[3], { kind: RecordKind.Compact, index: 10, term: 2 })
    assert.deepEqual(out[4], { kind: RecordKind.Reset, index: 11, term: 3 })
    assert.deepEqual(out[5], { kind: RecordKind.Snapshot, index: 12, term: 4 })
  })

  it('detects every single-bit flip (including in the length field) and every truncation', function () {
    const buf = sample()
    const first = readRecord(buf, 0)
    assert.equal(first.status, 'ok')
    if (first.status !== 'ok') return
    for (let byte = 0; byte < first.end; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = buf.slice()
        bad[byte] ^= 1 << bit
        const r = readRecord(bad, 0)
        // a flipped type bit can only change the batch mark/kind: the checksum covers the type byte too
        assert.notEqual(r.status, 'ok', `flip byte ${byte} bit ${bit} went unnoticed`)
      }
    }
    for (let cut = 0; cut < first.end; cut++) {
      assert.equal(readRecord(buf.subarray(0, cut), 0).status, 'incomplete', `cut at ${cut}`)
    }
  })

  it('finds the next batch start by scanning, ignoring non-start records and garbage', function () {
    const a = new BatchEncoder(16)
    a.entry(1, 1, EntryType.Normal, new Uint8Array(5))
    a.entry(2, 1, EntryType.Normal, new Uint8Array(5))
    const b = new BatchEncoder(16)
    b.entry(3, 1, EntryType.Normal, new Uint8Array(5))
    const ab = a.finish()
    const all = new Uint8Array(ab.length + 7 + b.byteLength)
    all.set(ab, 0)
    all.set([0xff, 0x80, 0, 0, 0, 0x81, 0x82], ab.length)
    all.set(b.finish(), ab.length + 7)
    assert.equal(findBatchStart(all, 1, 0), ab.length + 7)
    assert.equal(findBatchStart(all, ab.length + 8, 0), -1)
    assert.equal(findBatchStart(new Uint8Array(100), 0, 0), -1)
    // records checksum only under their segment's salt
    assert.equal(findBatchStart(all, 1, 12345), -1)
  })

  it('checksums depend on the salt', function () {
    const enc = new BatchEncoder(16, true, 0x1234)
    enc.hardState({ term: 1, vote: '', commit: 0 })
    const buf = enc.finish()
    assert.equal(readRecord(buf, 0, 0x1234).status, 'ok')
    assert.equal(readRecord(buf, 0, 0).status, 'bad-crc')
    assert.equal(readRecord(buf, 0, 0x1235).status, 'bad-crc')
  })
})
