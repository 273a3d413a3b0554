/**
 * The log storage compliance suite, run against the core's in-memory
 * MemoryLogStorage and the durable FileLogStorage.
 */
import { MemoryLogStorage } from '../../../src/raft/core/memory-storage.js'
import { MemoryDurableLogStorage } from '../../../src/raft/storage/index.js'
import { fileSubject, runLogStorageCompliance } from './compliance.js'
import type { ComplianceSubject } from './compliance.js'
import { tempDir } from './helpers.js'

function memorySubject (): ComplianceSubject {
  const m = new MemoryLogStorage()
  return {
    storage: m,
    async append (entries, hs) { m.append(entries); if (hs != null) m.setHardState(hs) },
    async setHardState (hs) { m.setHardState(hs) },
    async compact (i) { m.compact(i) },
    async applySnapshot (s) { m.applySnapshot(s) },
    async createSnapshot (i, cs, data) { return m.createSnapshot(i, cs, data) },
    async close () {}
  }
}

runLogStorageCompliance('MemoryLogStorage', async () => memorySubject())

runLogStorageCompliance('MemoryDurableLogStorage', async () => {
  const m = new MemoryDurableLogStorage()
  return {
    storage: m,
    append: async (entries, hs) => { await m.append(entries, hs) },
    setHardState: async (hs) => { await m.setHardState(hs) },
    compact: async (i) => { await m.compact(i) },
    applySnapshot: async (s) => { await m.applySnapshot(s) },
    createSnapshot: async (i, cs, data) => await m.createSnapshot(i, cs, data),
    close: async () => { await m.close() }
  }
})

runLogStorageCompliance('FileLogStorage', async () => {
  const tmp = await tempDir()
  return await fileSubject(tmp.path, {}, tmp.remove)
})

// tiny segments and no data cache: every read goes to disk and compaction deletes segments
runLogStorageCompliance('FileLogStorage (1 KiB segments, no cache)', async () => {
  const tmp = await tempDir()
  return await fileSubject(tmp.path, { segmentBytes: 1024, cacheBytes: 0 }, tmp.remove)
})
