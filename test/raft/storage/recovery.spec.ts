/**
 * Crash recovery of FileLogStorage: torn tails, bit flips, leftover temp
 * files, missing segments. Damage is made by editing the files of a closed
 * storage, exactly as a crash or a bad disk would leave them.
 */
import assert from 'node:assert/strict'
import { readdir, readFile, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { emptyConfState } from '../../../src/raft/core/types.js'
import { openFileLogStorage, WalCorruptionError, SnapshotCorruptionError } from '../../../src/raft/storage/index.js'
import type { FileLogStorageApi, FileLogStorageOptions } from '../../../src/raft/storage/index.js'
import { BatchEncoder, decodeSegmentHeader, readRecord } from '../../../src/raft/storage/record.js'
import { dataFor, describeEntries, ents, sameEntries, tempDir } from './helpers.js'

async function segmentFiles (dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'wal'))).filter(n => n.endsWith('.seg')).sort().map(n => join(dir, 'wal', n))
}

/** [offset, end) of every record in a segment file */
function recordBounds (buf: Uint8Array): Array<[number, number]> {
  const out: Array<[number, number]> = []
  const h = readRecord(buf, 0)
  if (h.status !== 'ok') throw new Error('bad segment header')
  const salt = decodeSegmentHeader(buf, h.payloadStart, h.payloadEnd).salt
  out.push([0, h.end])
  let at = h.end
  while (at < buf.length) {
    const r = readRecord(buf, at, salt)
    if (r.status !== 'ok') throw new Error(`unexpected ${r.status} at ${at}`)
    out.push([at, r.end])
    at = r.end
  }
  return out
}

describe('raft/storage recovery', function () {
  let tmp: { path: string, remove: () => Promise<void> }
  let open: FileLogStorageApi[] = []

  async function openStorage (options: FileLogStorageOptions = {}): Promise<FileLogStorageApi> {
    const s = await openFileLogStorage(tmp.path, options)
    open.push(s)
    return s
  }

  async function closeAll (): Promise<void> {
    await Promise.all(open.map(async s => { await s.close() }))
    open = []
  }

  beforeEach(async function () { tmp = await tempDir() })
  afterEach(async function () {
    await closeAll()
    await tmp.remove()
  })

  /** five entries, each appended (and fsynced) on its own: five batches */
  async function fiveBatches (size = 20): Promise<void> {
    const s = await openStorage()
    for (const e of ents(1, 5, 1, size)) await s.append([e])
    await closeAll()
  }

  it('truncates a torn tail at every byte offset of the last record, keeping every complete record', async function () {
    await fiveBatches()
    const [seg] = await segmentFiles(tmp.path)
    const original = await readFile(seg)
    const bounds = recordBounds(original)
    // the last batch: its batch header record and the entry record
    const batchStart = bounds[bounds.length - 2][0]
    const lastEnd = bounds[bounds.length - 1][1]
    assert.equal(lastEnd, original.length)
    for (let cut = batchStart; cut < lastEnd; cut++) {
      await writeFile(seg, original.subarray(0, cut))
      const s = await openStorage()
      assert.equal(s.lastIndex(), 4, `cut at ${cut}`)
      assert.ok(sameEntries(s.entries(1, 5), ents(1, 4, 1, 20)), `cut at ${cut}: ${describeEntries(s.entries(1, 5))}`)
      await closeAll()
      assert.equal((await readFile(seg)).length, batchStart, `cut at ${cut}: file truncated to the end of the last complete batch`)
    }
    // and the log continues normally after a repaired tail
    const s = await openStorage()
    await s.append(ents(5, 6, 2))
    await closeAll()
    const again = await openStorage()
    assert.ok(sameEntries(again.entries(1, 7), [...ents(1, 4, 1, 20), ...ents(5, 6, 2)]))
  })

  it('drops a torn multi-record batch as a whole (each write is atomic across a crash)', async function () {
    const s = await openStorage()
    await s.append(ents(1, 2, 1))
    await s.append(ents(3, 8, 1), { term: 1, vote: 'n1', commit: 2 })
    await closeAll()
    const [seg] = await segmentFiles(tmp.path)
    const original = await readFile(seg)
    const bounds = recordBounds(original)
    // records: segment header, [batch header, e1, e2], [batch header, e3..e8, hard state]
    assert.equal(bounds.length, 12)
    for (let r = 4; r < bounds.length; r++) {
      const cut = bounds[r][0] + Math.floor((bounds[r][1] - bounds[r][0]) / 2)
      await writeFile(seg, original.subarray(0, cut))
      const st = await openStorage()
      assert.equal(st.lastIndex(), 2, `cut inside record ${r}`)
      assert.deepEqual(st.initialState().hardState, { term: 0, vote: '', commit: 0 }, 'the batch\'s hard state record was lost with it')
      await closeAll()
      assert.equal((await readFile(seg)).length, bounds[4][0])
    }
    // a bit flip in any record of the final batch drops that batch too
    for (let r = 4; r < bounds.length; r++) {
      const bad = Buffer.from(original)
      bad[bounds[r][0] + 5] ^= 0x20
      await writeFile(seg, bad)
      const st = await openStorage()
      assert.equal(st.lastIndex(), 2, `flip in record ${r}`)
      await closeAll()
    }
  })

  it('truncates a zero-filled tail (file extended but never written)', async function () {
    await fiveBatches()
    const [seg] = await segmentFiles(tmp.path)
    const size = (await readFile(seg)).length
    await truncate(seg, size + 4096)
    const s = await openStorage()
    assert.equal(s.lastIndex(), 5)
    await closeAll()
    assert.equal((await readFile(seg)).length, size)
  })

  it('truncates when a bit flips anywhere in the final record', async function () {
    await fiveBatches()
    const [seg] = await segmentFiles(tmp.path)
    const original = await readFile(seg)
    const bounds = recordBounds(original)
    const lastStart = bounds[bounds.length - 2][0] // the final batch's header
    const lastEnd = bounds[bounds.length - 1][1]
    for (let byte = lastStart; byte < lastEnd; byte += 3) {
      const bad = Buffer.from(original)
      bad[byte] ^= 0x10
      await writeFile(seg, bad)
      const s = await openStorage()
      assert.equal(s.lastIndex(), 4, `flip at ${byte}`)
      await closeAll()
    }
  })

  it('refuses to open when an earlier record is damaged and later batches exist (WalCorruptionError)', async function () {
    await fiveBatches()
    const [seg] = await segmentFiles(tmp.path)
    const original = await readFile(seg)
    const bounds = recordBounds(original)
    // every byte of every record before the final batch (segment header included)
    for (let r = 0; r < bounds.length - 2; r++) {
      for (let byte = bounds[r][0]; byte < bounds[r][1]; byte++) {
        const bad = Buffer.from(original)
        bad[byte] ^= 0x01
        await writeFile(seg, bad)
        await assert.rejects(openStorage(), (err: Error) => err instanceof WalCorruptionError && err.name === 'WalCorruptionError',
          `record ${r} byte ${byte}`)
      }
    }
    // nothing was truncated by the failed opens
    await writeFile(seg, original)
    const s = await openStorage()
    assert.equal(s.lastIndex(), 5)
  })

  it('is not fooled by record-shaped client data after a torn batch', async function () {
    const s = await openStorage()
    await s.append(ents(1, 2, 1))
    // an entry whose data is a complete, well-formed batch (as an attacker could send it, without the salt)
    const forged = new BatchEncoder(64)
    forged.entry(99, 9, 0, new Uint8Array(10))
    await s.append([{ index: 3, term: 1, type: 0, data: forged.finish().slice() }])
    await closeAll()
    const [seg] = await segmentFiles(tmp.path)
    const buf = await readFile(seg)
    const bounds = recordBounds(buf)
    const bad = Buffer.from(buf)
    bad[bounds[bounds.length - 2][0] + 6] ^= 1 // damage the final batch's header
    await writeFile(seg, bad)
    const st = await openStorage()
    assert.equal(st.lastIndex(), 2, 'the torn final batch is dropped, not mistaken for mid-log corruption')
  })

  it('refuses damage in a sealed (non-last) segment and a missing segment', async function () {
    const s = await openStorage({ segmentBytes: 1024 })
    for (let i = 1; i <= 60; i++) await s.append([{ index: i, term: 1, type: 0, data: dataFor(i, 1, 64) }])
    await closeAll()
    const segs = await segmentFiles(tmp.path)
    assert.ok(segs.length >= 3, `expected several segments, got ${segs.length}`)
    const original = await readFile(segs[0])
    // torn end of a sealed segment
    await writeFile(segs[0], original.subarray(0, original.length - 5))
    await assert.rejects(openStorage({ segmentBytes: 1024 }), WalCorruptionError)
    // flipped bit in its last record
    const bad = Buffer.from(original)
    bad[bad.length - 3] ^= 0x40
    await writeFile(segs[0], bad)
    await assert.rejects(openStorage({ segmentBytes: 1024 }), WalCorruptionError)
    await writeFile(segs[0], original)
    // a middle segment gone
    const middle = await readFile(segs[1])
    await import('node:fs/promises').then(async fs => { await fs.unlink(segs[1]) })
    await assert.rejects(openStorage({ segmentBytes: 1024 }), WalCorruptionError)
    await writeFile(segs[1], middle)
    const ok = await openStorage({ segmentBytes: 1024 })
    assert.equal(ok.lastIndex(), 60)
  })

  it('rolls segments over, reads across them, and deletes the ones compaction frees', async function () {
    const s = await openStorage({ segmentBytes: 1024, cacheBytes: 0 })
    const all = []
    for (let i = 1; i <= 100; i++) {
      const e = { index: i, term: 1 + Math.floor(i / 30), type: 0, data: dataFor(i, 1, 50) }
      all.push(e)
      await s.append([e])
    }
    const before = (await segmentFiles(tmp.path)).length
    assert.ok(before >= 5, `expected rollover, got ${before} segments`)
    assert.equal(s.stats().segments, before)
    assert.ok(sameEntries(s.entries(1, 101), all), 'read back from disk across segments')
    await s.compact(80)
    const after = (await segmentFiles(tmp.path)).length
    assert.ok(after < before, `compaction should delete segments (${before} -> ${after})`)
    // the segment holding entry 81 must remain
    await closeAll()
    const again = await openStorage({ segmentBytes: 1024 })
    assert.equal(again.firstIndex(), 81)
    assert.equal(again.term(80), all[79].term)
    assert.ok(sameEntries(again.entries(81, 101), all.slice(80)))
  })

  it('survives segment deletion after a suffix was overwritten across a rollover', async function () {
    const s = await openStorage({ segmentBytes: 1024 })
    for (let i = 1; i <= 40; i++) await s.append([{ index: i, term: 1, type: 0, data: dataFor(i, 1, 60) }])
    // overwrite from 30 on (a new leader's log), spanning segments, then compact past the old segments
    await s.append(ents(30, 60, 2, 60))
    await s.compact(55)
    await closeAll()
    const again = await openStorage({ segmentBytes: 1024 })
    assert.equal(again.firstIndex(), 56)
    assert.equal(again.term(55), 2)
    assert.ok(sameEntries(again.entries(56, 61), ents(56, 60, 2, 60)))
  })

  it('verifies the checksum again when reading an uncached entry back from disk', async function () {
    const s = await openStorage({ cacheBytes: 0 })
    await s.append(ents(1, 3, 1, 40))
    const [seg] = await segmentFiles(tmp.path)
    const buf = await readFile(seg)
    const bounds = recordBounds(buf)
    const bad = Buffer.from(buf)
    bad[bounds[3][1] - 5] ^= 0x04 // inside entry 2's data (records: segment header, batch header, e1, e2, e3)
    await writeFile(seg, bad)
    assert.ok(sameEntries(s.entries(1, 2), ents(1, 1, 1, 40)))
    assert.throws(() => s.entries(1, 3), WalCorruptionError)
    assert.ok(sameEntries(s.entries(3, 4), ents(3, 3, 1, 40)))
  })

  it('removes a segment temp file left by a crash during rollover', async function () {
    await fiveBatches()
    const leftover = join(tmp.path, 'wal', '0000000000000002-0000000000000006.seg.tmp')
    await writeFile(leftover, new Uint8Array(10))
    const s = await openStorage()
    assert.equal(s.lastIndex(), 5)
    assert.ok(!(await readdir(join(tmp.path, 'wal'))).some(n => n.endsWith('.tmp')))
  })

  it('ignores a crash during a snapshot write: temp file removed, unfinished snapshot dropped', async function () {
    const s = await openStorage()
    await s.append(ents(1, 10, 1))
    await s.createSnapshot(5, { ...emptyConfState(), voters: ['a'] }, dataFor(5, 1, 100))
    await closeAll()
    const snapDir = join(tmp.path, 'snap')
    // a temp file from a write that never finished, and a renamed file whose WAL record never made it
    await writeFile(join(snapDir, '0000000000000008-0000000000000001.snap.tmp'), new Uint8Array(50))
    const s2 = await openStorage()
    await s2.createSnapshot(8, emptyConfState(), dataFor(8, 1, 10))
    await closeAll()
    const segs = await segmentFiles(tmp.path)
    const buf = await readFile(segs[segs.length - 1])
    const bounds = recordBounds(buf)
    await writeFile(segs[segs.length - 1], buf.subarray(0, bounds[bounds.length - 1][0])) // drop the Snapshot record
    const s3 = await openStorage()
    assert.equal(s3.snapshot().metadata.index, 5, 'the unacknowledged snapshot is not current')
    assert.deepEqual(Buffer.from(s3.snapshot().data), Buffer.from(dataFor(5, 1, 100)))
    assert.deepEqual(s3.initialState().confState.voters, ['a'])
    assert.deepEqual((await readdir(snapDir)).sort(), ['0000000000000005-0000000000000001.snap'])
    assert.equal(s3.lastIndex(), 10)
  })

  it('keeps the newest two snapshots', async function () {
    const s = await openStorage()
    await s.append(ents(1, 10, 1))
    for (const i of [2, 4, 6, 8]) await s.createSnapshot(i, emptyConfState(), dataFor(i, 1))
    assert.deepEqual((await readdir(join(tmp.path, 'snap'))).sort(), [
      '0000000000000006-0000000000000001.snap', '0000000000000008-0000000000000001.snap'
    ])
  })

  it('falls back past a damaged current snapshot only when no log entry is lost', async function () {
    const s = await openStorage()
    await s.append(ents(1, 10, 1))
    await s.createSnapshot(4, emptyConfState(), dataFor(4, 1))
    await s.createSnapshot(8, emptyConfState(), dataFor(8, 1))
    await closeAll()
    const current = join(tmp.path, 'snap', '0000000000000008-0000000000000001.snap')
    const good = await readFile(current)
    const bad = Buffer.from(good)
    bad[bad.length - 1] ^= 1
    await writeFile(current, bad)
    // the log still starts at 1: the snapshot at 4 covers it
    const s2 = await openStorage()
    assert.equal(s2.snapshot().metadata.index, 4)
    await closeAll()

    // now compacted past the older snapshot: falling back would lose 5..8
    await writeFile(current, good)
    await import('node:fs/promises').then(async fs => { await fs.rm(current + '.corrupt', { force: true }) })
    const s3 = await openStorage()
    assert.equal(s3.snapshot().metadata.index, 8)
    await s3.compact(8)
    await closeAll()
    await writeFile(current, bad)
    await assert.rejects(openStorage(), SnapshotCorruptionError)
  })

  it('finishes nothing it never acknowledged: a Reset record lost with the torn tail leaves the old log', async function () {
    const s = await openStorage()
    await s.append(ents(1, 6, 1))
    await s.applySnapshot({ metadata: { index: 20, term: 3, confState: emptyConfState() }, data: dataFor(20, 3) })
    await closeAll()
    const [seg] = await segmentFiles(tmp.path)
    const buf = await readFile(seg)
    const bounds = recordBounds(buf)
    await writeFile(seg, buf.subarray(0, bounds[bounds.length - 1][0] + 3)) // tear the Reset record
    const s2 = await openStorage()
    assert.equal(s2.lastIndex(), 6)
    assert.equal(s2.snapshot().metadata.index, 0)
    assert.deepEqual(await readdir(join(tmp.path, 'snap')), [])
  })
})
