/**
 * The WAL with encryption at rest: the log storage compliance suite against
 * a sealed FileLogStorage (tiny segments, no cache: every read opens a
 * sealed record from disk), entry data and snapshots absent from the files
 * in clear, and a tampered entry reported at read, never returned.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openFileLogStorage, SnapshotCorruptionError } from '../../src/raft/storage/index.js'
import { Sealer, TamperedRecordError, walCipherFor } from '../../src/protection/index.js'
import { EntryType } from '../../src/raft/core/types.js'
import { fileSubject, runLogStorageCompliance } from '../raft/storage/compliance.js'
import { tempDir } from '../raft/storage/helpers.js'
import type { FileLogStorageOptions } from '../../src/raft/storage/index.js'
import type { ComplianceSubject } from '../raft/storage/compliance.js'

const key = new Uint8Array(randomBytes(32))
const sealer = new Sealer({ activeId: 'k1', key: (id) => id === 'k1' ? key : undefined })

async function sealedSubject (dir: string, options: FileLogStorageOptions, onClose: () => Promise<void>): Promise<ComplianceSubject> {
  return await fileSubject(dir, { ...options, cipher: walCipherFor(sealer, 'g1') }, onClose)
}

runLogStorageCompliance('FileLogStorage sealed (1 KiB segments, no cache)', async () => {
  const tmp = await tempDir()
  return await sealedSubject(tmp.path, { segmentBytes: 1024, cacheBytes: 0 }, tmp.remove)
})

runLogStorageCompliance('FileLogStorage sealed', async () => {
  const tmp = await tempDir()
  return await sealedSubject(tmp.path, {}, tmp.remove)
})

describe('protection: sealed WAL', () => {
  it('no entry data or snapshot in clear; a tampered entry is reported at read', async () => {
    const tmp = await tempDir()
    try {
      const marker = `wal-${randomBytes(8).toString('hex')}`
      const data = (i: number): Uint8Array => new TextEncoder().encode(`${marker}#${i}`)
      let s = await openFileLogStorage(tmp.path, { cacheBytes: 0, cipher: walCipherFor(sealer, 'g1') })
      await s.append(Array.from({ length: 10 }, (_, k) => ({ index: k + 1, term: 1, type: EntryType.Normal, data: data(k + 1) })), { term: 1, vote: '', commit: 10 })
      await s.createSnapshot(5, { voters: ['a'], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, new TextEncoder().encode(`${marker} snapshot`))
      await s.close()
      const files: string[] = []
      for (const sub of ['wal', 'snap']) for (const f of await readdir(join(tmp.path, sub))) files.push(join(tmp.path, sub, f))
      assert.ok(files.length >= 2)
      for (const f of files) assert.ok(!(await readFile(f)).includes(Buffer.from(marker)), f)
      s = await openFileLogStorage(tmp.path, { cacheBytes: 0, cipher: walCipherFor(sealer, 'g1') })
      assert.deepEqual(s.entries(6, 11).map(e => new TextDecoder().decode(e.data)), [6, 7, 8, 9, 10].map(i => `${marker}#${i}`))
      assert.equal(new TextDecoder().decode(s.snapshot().data), `${marker} snapshot`)
      await s.close()
      // the same files opened as another group: the snapshot does not open there, the peer does not start
      await assert.rejects(openFileLogStorage(tmp.path, { cacheBytes: 0, cipher: walCipherFor(sealer, 'g2') }), SnapshotCorruptionError)
    } finally {
      await tmp.remove()
    }
  })

  it('an entry moved to another group, or read with another key, is reported at read, never returned', async () => {
    const tmp = await tempDir()
    try {
      let s = await openFileLogStorage(tmp.path, { cacheBytes: 0, cipher: walCipherFor(sealer, 'g1') })
      await s.append([{ index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array([1, 2, 3]) }], { term: 1, vote: '', commit: 1 })
      await s.close()
      s = await openFileLogStorage(tmp.path, { cacheBytes: 0, cipher: walCipherFor(sealer, 'g2') })
      assert.throws(() => s.entries(1, 2), TamperedRecordError)
      await s.close()
      const other = new Sealer({ activeId: 'k1', key: (id) => id === 'k1' ? new Uint8Array(randomBytes(32)) : undefined })
      s = await openFileLogStorage(tmp.path, { cacheBytes: 0, cipher: walCipherFor(other, 'g1') })
      assert.throws(() => s.entries(1, 2), TamperedRecordError)
      await s.close()
    } finally {
      await tmp.remove()
    }
  })
})
