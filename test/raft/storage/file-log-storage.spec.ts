/**
 * FileLogStorage write path: group commit, concurrency, durability across
 * reopen, failure poisoning, validation at the boundary, abort, locking,
 * lifecycle and metrics.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createMetricsRegistry } from '../../../src/telemetry/index.js'
import { emptyConfState } from '../../../src/raft/core/types.js'
import type { Entry , EntryType } from '../../../src/raft/core/types.js'
import {
  createWalMetrics, InvalidEntriesError, nodeWalFs, openFileLogStorage, StorageClosedError,
  StorageFailedError, StorageLockedError
} from '../../../src/raft/storage/index.js'
import type { FileLogStorageApi, FileLogStorageOptions, WalFs } from '../../../src/raft/storage/index.js'
import { dataFor, ent, ents, prng, sameEntries, tempDir } from './helpers.js'

/** node fs whose segment fdatasync can be held at a gate or made to fail */
function controllableFs (): {
  fs: WalFs
  hold: () => void
  release: () => void
  /** resolves when a datasync is waiting at the held gate */
  blocked: () => Promise<void>
  failNext: (err: Error) => void
  datasyncs: () => number
} {
  const base = nodeWalFs()
  let gate: { promise: Promise<void>, open: () => void } | undefined
  let onBlocked: Array<() => void> = []
  let waiting = 0
  let fail: Error | undefined
  let count = 0
  return {
    fs: {
      ...base,
      async open (path, mode) {
        const f = await base.open(path, mode)
        return {
          write: f.write.bind(f),
          sync: f.sync.bind(f),
          truncate: f.truncate.bind(f),
          readSync: f.readSync.bind(f),
          close: f.close.bind(f),
          async datasync () {
            count++
            if (fail != null) {
              const err = fail
              fail = undefined
              throw err
            }
            if (gate != null) {
              waiting++
              for (const cb of onBlocked) cb()
              onBlocked = []
              await gate.promise
              waiting--
            }
            await f.datasync()
          }
        }
      }
    },
    hold () {
      let open = (): void => {}
      const promise = new Promise<void>(resolve => { open = resolve })
      gate = { promise, open }
    },
    release () {
      gate?.open()
      gate = undefined
    },
    async blocked () {
      if (waiting > 0) return
      await new Promise<void>(resolve => onBlocked.push(resolve))
    },
    failNext (err) { fail = err },
    datasyncs: () => count
  }
}

describe('raft/storage FileLogStorage', function () {
  let tmp: { path: string, remove: () => Promise<void> }
  let open: FileLogStorageApi[] = []

  async function openStorage (options: FileLogStorageOptions = {}): Promise<FileLogStorageApi> {
    const s = await openFileLogStorage(tmp.path, options)
    open.push(s)
    return s
  }

  async function reopen (s: FileLogStorageApi, options: FileLogStorageOptions = {}): Promise<FileLogStorageApi> {
    await s.close()
    open = open.filter(x => x !== s)
    return await openStorage(options)
  }

  beforeEach(async function () { tmp = await tempDir() })
  afterEach(async function () {
    await Promise.all(open.map(async s => { await s.close() }))
    open = []
    await tmp.remove()
  })

  it('group commit: appends arriving during an fsync share the next one', async function () {
    const ctl = controllableFs()
    const s = await openStorage({ fs: ctl.fs })
    await s.append([ent(1, 1)])
    const base = s.stats()
    ctl.hold()
    const first = s.append([ent(2, 1)])
    await ctl.blocked()
    const rest: Array<Promise<void>> = []
    for (let i = 3; i <= 12; i++) rest.push(s.append([ent(i, 1)], i === 12 ? { term: 1, vote: 'x', commit: 11 } : undefined))
    ctl.release()
    await Promise.all([first, ...rest])
    const after = s.stats()
    assert.equal(after.batches - base.batches, 2, 'one batch for the first append, one for the 10 that queued behind it')
    assert.equal(after.fsyncs - base.fsyncs, 2)
    assert.equal(after.writes - base.writes, 11)
    const again = await reopen(s)
    assert.ok(sameEntries(again.entries(1, 13), ents(1, 12, 1)))
    assert.deepEqual(again.initialState().hardState, { term: 1, vote: 'x', commit: 11 })
  })

  it('many concurrent appends (seeded mix with overwrites and hard states) are all durable, in call order', async function () {
    const seed = 1234
    const rnd = prng(seed)
    const s = await openStorage({ segmentBytes: 8 * 1024 })
    const calls: Array<Promise<void>> = []
    let model: Entry[] = []
    let last = 0
    let term = 1
    let hs = { term: 0, vote: '', commit: 0 }
    for (let k = 0; k < 400; k++) {
      // mostly extend, sometimes overwrite a short suffix with a higher term
      const lo = rnd() < 0.1 && last > 3 ? last - Math.floor(rnd() * 3) : last + 1
      if (lo <= last) term++
      const add = ents(lo, lo + Math.floor(rnd() * 3), term, 1 + Math.floor(rnd() * 300))
      model = [...model.slice(0, lo - 1), ...add]
      last = model.length
      if (rnd() < 0.2) {
        hs = { term, vote: `n${k % 3}`, commit: Math.floor(last / 2) }
        calls.push(s.append(add, hs))
      } else {
        calls.push(s.append(add))
      }
    }
    await Promise.all(calls)
    assert.ok(s.stats().batches < 400, 'concurrent appends were batched')
    try {
      assert.ok(sameEntries(s.entries(1, last + 1), model))
      const again = await reopen(s, { segmentBytes: 8 * 1024 })
      assert.ok(sameEntries(again.entries(1, last + 1), model))
      assert.equal(again.lastIndex(), last)
      assert.deepEqual(again.initialState().hardState, hs)
    } catch (err) {
      console.error(`concurrent append test failed, seed ${seed}`)
      throw err
    }
  })

  it('reads entries evicted from the cache back from disk', async function () {
    const s = await openStorage({ cacheBytes: 1000 })
    const all = ents(1, 50, 1, 100)
    for (let i = 0; i < 50; i += 5) await s.append(all.slice(i, i + 5))
    assert.ok(s.stats().cachedBytes <= 1000)
    assert.ok(sameEntries(s.entries(1, 51), all))
    assert.ok(sameEntries(s.entries(3, 40, 350), all.slice(2, 5)))
  })

  it('stores an entry larger than a segment and rolls over after it', async function () {
    const s = await openStorage({ segmentBytes: 1024 })
    await s.append([ent(1, 1, 5000)])
    await s.append([ent(2, 1, 10)])
    assert.equal(s.stats().segments, 2)
    const again = await reopen(s, { segmentBytes: 1024 })
    assert.ok(sameEntries(again.entries(1, 3), [ent(1, 1, 5000), ent(2, 1, 10)]))
  })

  it('copies appended data: later mutation by the caller does not change the log', async function () {
    const s = await openStorage()
    const e = ent(1, 1, 4)
    await s.append([e])
    e.data.fill(0xee)
    assert.deepEqual([...s.entries(1, 2)[0].data], [...dataFor(1, 1, 4)])
  })

  it('a failed fsync poisons the storage; reopening recovers what is on disk', async function () {
    const ctl = controllableFs()
    const s = await openStorage({ fs: ctl.fs })
    await s.append(ents(1, 3, 1))
    ctl.failNext(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }))
    await assert.rejects(s.append([ent(4, 1)]), (err: Error) => err instanceof StorageFailedError && err.name === 'StorageFailedError')
    await assert.rejects(s.append([ent(5, 1)]), StorageFailedError)
    await assert.rejects(s.setHardState({ term: 1, vote: '', commit: 1 }), StorageFailedError)
    const again = await reopen(s)
    assert.ok(again.lastIndex() >= 3, 'acknowledged entries survive')
    assert.ok(sameEntries(again.entries(1, 4), ents(1, 3, 1)))
  })

  it('validates what it is given, naming the field', async function () {
    const s = await openStorage()
    await s.append(ents(1, 2, 1))
    const bad: Array<[() => Promise<unknown>, string]> = [
      [async () => { await s.append([ent(3, 1), ent(5, 1)]) }, 'entries[1].index'],
      [async () => { await s.append([{ ...ent(3, 1), term: 0 }]) }, 'entries[0].term'],
      [async () => { await s.append([{ ...ent(3, 1), index: 1.5 }]) }, 'entries[0].index'],
      [async () => { await s.append([ent(3, 2), ent(4, 1)]) }, 'entries[1].term'],
      [async () => { await s.append([{ ...ent(3, 1), type: 7 as EntryType }]) }, 'entries[0].type'],
      [async () => { await s.append([{ ...ent(3, 1), data: 'x' as unknown as Uint8Array }]) }, 'entries[0].data'],
      [async () => { await s.append([null as unknown as Entry]) }, 'entries[0]'],
      [async () => { await s.append('x' as unknown as Entry[]) }, 'entries'],
      [async () => { await s.append([ent(9, 1)]) }, 'entries[0].index'],
      [async () => { await s.setHardState({ term: -1, vote: '', commit: 0 }) }, 'hardState.term'],
      [async () => { await s.setHardState({ term: 1, vote: 3 as unknown as string, commit: 0 }) }, 'hardState.vote'],
      [async () => { await s.append([ent(3, 1)], { term: 1, vote: '', commit: NaN }) }, 'hardState.commit'],
      [async () => { await s.compact(-1) }, 'index'],
      [async () => { await s.applySnapshot({ metadata: { index: 5, term: 1, confState: { ...emptyConfState(), voters: [1 as unknown as string] } }, data: new Uint8Array() }) }, 'snapshot.metadata.confState.voters'],
      [async () => { await s.applySnapshot({ metadata: { index: 5, term: 1, confState: emptyConfState() }, data: [] as unknown as Uint8Array }) }, 'snapshot.data'],
      [async () => { await s.createSnapshot(2, { voters: [] } as unknown as ReturnType<typeof emptyConfState>, new Uint8Array()) }, 'confState.learners']
    ]
    for (const [call, field] of bad) {
      await assert.rejects(call(), (err: Error) => err instanceof InvalidEntriesError && (err as InvalidEntriesError).field === field, field)
    }
    assert.equal(s.lastIndex(), 2)
    const again = await reopen(s)
    assert.ok(sameEntries(again.entries(1, 3), ents(1, 2, 1)))
  })

  it('an append aborted while queued is never written; an aborted signal is refused up front', async function () {
    const ctl = controllableFs()
    const s = await openStorage({ fs: ctl.fs })
    await assert.rejects(s.append([ent(1, 1)], undefined, { signal: AbortSignal.abort() }), { name: 'AbortError' })
    ctl.hold()
    const first = s.append([ent(1, 1)])
    await ctl.blocked()
    const ac = new AbortController()
    const aborted = s.append([ent(2, 9)], undefined, { signal: ac.signal })
    const third = s.append([ent(2, 1)])
    ac.abort()
    await assert.rejects(aborted, { name: 'AbortError' })
    ctl.release()
    await Promise.all([first, third])
    const again = await reopen(s)
    assert.ok(sameEntries(again.entries(1, 3), ents(1, 2, 1)))
  })

  it('close finishes queued writes, is idempotent, and refuses writes afterwards', async function () {
    const s = await openStorage()
    const pending = [s.append([ent(1, 1)]), s.append([ent(2, 1)]), s.setHardState({ term: 1, vote: 'a', commit: 2 })]
    const closing = s.close()
    await Promise.all(pending)
    await closing
    await s.close()
    await assert.rejects(s.append([ent(3, 1)]), StorageClosedError)
    const again = await openStorage()
    assert.equal(again.lastIndex(), 2)
    assert.deepEqual(again.initialState().hardState, { term: 1, vote: 'a', commit: 2 })
  })

  it('locks its directory against a second live owner and takes over a dead owner\'s lock', async function () {
    const s = await openStorage()
    await assert.rejects(openFileLogStorage(tmp.path), StorageLockedError)
    await s.close()
    open = []
    const dead = spawnSync(process.execPath, ['-e', '0']).pid
    assert.ok(dead != null && dead > 0)
    await writeFile(join(tmp.path, 'LOCK'), String(dead))
    const again = await openStorage()
    assert.equal(again.lastIndex(), 0)
  })

  it('unsynced hard-state updates cost no fsync and ride along with the next synced write or close', async function () {
    const s = await openStorage()
    await s.append(ents(1, 3, 1), { term: 1, vote: 'a', commit: 0 })
    const base = s.stats().fsyncs
    await s.setHardState({ term: 1, vote: 'a', commit: 2 }, { sync: false })
    await s.append([], { term: 1, vote: 'a', commit: 3 }, { sync: false })
    assert.equal(s.stats().fsyncs, base, 'no fsync for commit-only updates')
    assert.deepEqual(s.initialState().hardState, { term: 1, vote: 'a', commit: 3 })
    // entries are always synced, even when asked not to
    await s.append([ent(4, 1)], undefined, { sync: false })
    assert.equal(s.stats().fsyncs, base + 1)
    const again = await reopen(s)
    assert.deepEqual(again.initialState().hardState, { term: 1, vote: 'a', commit: 3 }, 'carried by the entry batch')
    await again.setHardState({ term: 1, vote: 'a', commit: 4 }, { sync: false })
    const third = await reopen(again)
    assert.deepEqual(third.initialState().hardState, { term: 1, vote: 'a', commit: 4 }, 'flushed on close')
  })

  it('applySnapshot records the given hard state atomically with the snapshot', async function () {
    const s = await openStorage()
    await s.append(ents(1, 3, 1), { term: 1, vote: '', commit: 1 })
    await s.applySnapshot({ metadata: { index: 10, term: 2, confState: emptyConfState() }, data: dataFor(10, 2) }, { term: 2, vote: '', commit: 10 })
    assert.deepEqual(s.initialState().hardState, { term: 2, vote: '', commit: 10 })
    const again = await reopen(s)
    assert.deepEqual(again.initialState().hardState, { term: 2, vote: '', commit: 10 })
    assert.equal(again.firstIndex(), 11)
  })

  it('reports to shared metrics labelled by group', async function () {
    const registry = createMetricsRegistry({ processMetrics: false })
    const metrics = createWalMetrics(registry)
    const s = await openStorage({ metrics, group: 'g1' })
    await s.append(ents(1, 3, 1))
    await s.setHardState({ term: 1, vote: '', commit: 3 })
    const text = await registry.metrics()
    assert.match(text, /dcis_raft_wal_fsyncs_total\{group="g1"\} 2/)
    assert.match(text, /dcis_raft_wal_batch_records_count\{group="g1"\} 2/)
  })
})
