/**
 * Reusable compliance suite for Raft log storages. Run it with a factory
 * producing a fresh, empty subject; durable implementations also provide
 * `reopen`, and every check is then repeated on the reopened storage.
 *
 *   runLogStorageCompliance('memory', async () => memorySubject())
 *   runLogStorageCompliance('file', async () => fileSubject(dir))
 */
import assert from 'node:assert/strict'
import { CompactedError, SnapshotOutOfDateError, UnavailableError } from '../../../src/raft/core/errors.js'
import { emptyConfState } from '../../../src/raft/core/types.js'
import { openFileLogStorage } from '../../../src/raft/storage/index.js'
import type { FileLogStorageOptions } from '../../../src/raft/storage/index.js'
import type { ConfState, Entry, HardState, LogStorage, Snapshot } from '../../../src/raft/core/types.js'
import { dataFor, describeEntries, ent, ents, prng, sameEntries } from './helpers.js'

/** a storage under test: the read interface plus async writes */
export interface ComplianceSubject {
  storage: LogStorage
  append (entries: Entry[], hardState?: HardState): Promise<void>
  setHardState (hs: HardState): Promise<void>
  compact (index: number): Promise<void>
  applySnapshot (snap: Snapshot): Promise<void>
  createSnapshot (index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot>
  /** durable implementations: close and open again over the same data */
  reopen?: () => Promise<ComplianceSubject>
  close (): Promise<void>
}

export type SubjectFactory = () => Promise<ComplianceSubject>

/** a FileLogStorage in `dir` as a compliance subject (`options` may carry a WAL cipher); reopen keeps the dir */
export async function fileSubject (dir: string, options: FileLogStorageOptions, onClose: () => Promise<void>): Promise<ComplianceSubject> {
  const f = await openFileLogStorage(dir, options)
  return {
    storage: f,
    append: async (entries, hs) => { await f.append(entries, hs) },
    setHardState: async (hs) => { await f.setHardState(hs) },
    compact: async (i) => { await f.compact(i) },
    applySnapshot: async (s) => { await f.applySnapshot(s) },
    createSnapshot: async (i, cs, data) => await f.createSnapshot(i, cs, data),
    reopen: async () => {
      await f.close()
      return await fileSubject(dir, options, onClose)
    },
    close: async () => {
      await f.close()
      await onClose()
    }
  }
}

function conf (...voters: string[]): ConfState {
  return { ...emptyConfState(), voters }
}

function snap (index: number, term: number, data = dataFor(index, term, 16), cs = conf('a', 'b', 'c')): Snapshot {
  return { metadata: { index, term, confState: cs }, data }
}

/** what a storage must report; checked live and again after a reopen */
interface Expect {
  first: number
  last: number
  /** term of first - 1 (the dummy) */
  dummyTerm: number
  entries: Entry[]
  hardState?: HardState
  snapshot?: { index: number, term: number, data?: Uint8Array, confState?: ConfState }
}

function checkStorage (s: LogStorage, exp: Expect, where: string): void {
  assert.equal(s.firstIndex(), exp.first, `${where}: firstIndex`)
  assert.equal(s.lastIndex(), exp.last, `${where}: lastIndex`)
  assert.equal(s.term(exp.first - 1), exp.dummyTerm, `${where}: term of the dummy`)
  const got = s.entries(exp.first, exp.last + 1)
  assert.ok(sameEntries(got, exp.entries), `${where}: entries ${describeEntries(got)} != ${describeEntries(exp.entries)}`)
  for (const e of exp.entries) assert.equal(s.term(e.index), e.term, `${where}: term(${e.index})`)
  if (exp.hardState != null) assert.deepEqual(s.initialState().hardState, exp.hardState, `${where}: hard state`)
  if (exp.snapshot != null) {
    const sn = s.snapshot()
    assert.equal(sn.metadata.index, exp.snapshot.index, `${where}: snapshot index`)
    assert.equal(sn.metadata.term, exp.snapshot.term, `${where}: snapshot term`)
    if (exp.snapshot.data != null) assert.deepEqual(Buffer.from(sn.data), Buffer.from(exp.snapshot.data), `${where}: snapshot data`)
    if (exp.snapshot.confState != null) {
      assert.deepEqual(sn.metadata.confState, exp.snapshot.confState, `${where}: snapshot confState`)
      assert.deepEqual(s.initialState().confState, exp.snapshot.confState, `${where}: initialState confState`)
    }
  }
}

export function runLogStorageCompliance (name: string, factory: SubjectFactory): void {
  describe(`LogStorage compliance: ${name}`, function () {
    let subject: ComplianceSubject

    beforeEach(async function () {
      subject = await factory()
    })

    afterEach(async function () {
      await subject?.close()
    })

    /** check now, and (durable impls) after closing and reopening */
    async function verify (exp: Expect): Promise<void> {
      checkStorage(subject.storage, exp, 'live')
      if (subject.reopen != null) {
        subject = await subject.reopen()
        checkStorage(subject.storage, exp, 'after reopen')
      }
    }

    it('starts empty', async function () {
      const s = subject.storage
      assert.equal(s.firstIndex(), 1)
      assert.equal(s.lastIndex(), 0)
      assert.equal(s.term(0), 0)
      assert.deepEqual(s.entries(1, 1), [])
      assert.deepEqual(s.initialState().hardState, { term: 0, vote: '', commit: 0 })
      assert.deepEqual(s.initialState().confState, emptyConfState())
      assert.equal(s.snapshot().metadata.index, 0)
      assert.throws(() => s.term(1), UnavailableError)
      assert.throws(() => s.entries(1, 2), UnavailableError)
      await verify({ first: 1, last: 0, dummyTerm: 0, entries: [] })
    })

    it('appends and reads back entries, terms and bounds', async function () {
      const es = [...ents(1, 3, 1), ...ents(4, 6, 2)]
      await subject.append(es.slice(0, 2))
      await subject.append(es.slice(2))
      const s = subject.storage
      assert.equal(s.firstIndex(), 1)
      assert.equal(s.lastIndex(), 6)
      assert.equal(s.term(3), 1)
      assert.equal(s.term(4), 2)
      assert.ok(sameEntries(s.entries(2, 5), es.slice(1, 4)))
      assert.deepEqual(s.entries(3, 3), [])
      assert.throws(() => s.term(7), UnavailableError)
      assert.throws(() => s.entries(5, 8), UnavailableError)
      await verify({ first: 1, last: 6, dummyTerm: 0, entries: es })
    })

    it('ignores an empty append', async function () {
      await subject.append([])
      await subject.append(ents(1, 2, 1))
      await subject.append([])
      await verify({ first: 1, last: 2, dummyTerm: 0, entries: ents(1, 2, 1) })
    })

    // etcd's TestStorageAppend cases, in our words: log 4..5 behind a snapshot at 3
    const appendCases: Array<{ name: string, add: Entry[], want: Entry[] }> = [
      { name: 'same entries again', add: [ent(3, 3), ent(4, 4), ent(5, 5)], want: [ent(4, 4), ent(5, 5)] },
      { name: 'conflicting suffix replaced', add: [ent(3, 3), ent(4, 6), ent(5, 6)], want: [ent(4, 6), ent(5, 6)] },
      { name: 'extension through the existing tail', add: [ent(3, 3), ent(4, 4), ent(5, 5), ent(6, 5)], want: [ent(4, 4), ent(5, 5), ent(6, 5)] },
      { name: 'compacted prefix ignored', add: [ent(2, 3), ent(3, 3), ent(4, 5)], want: [ent(4, 5)] },
      { name: 'truncate at 4', add: [ent(4, 5)], want: [ent(4, 5)] },
      { name: 'truncate at 5', add: [ent(5, 6)], want: [ent(4, 4), ent(5, 6)] },
      { name: 'plain extension', add: [ent(6, 5)], want: [ent(4, 4), ent(5, 5), ent(6, 5)] },
      { name: 'wholly compacted append ignored', add: [ent(1, 1), ent(2, 1)], want: [ent(4, 4), ent(5, 5)] }
    ]
    for (const c of appendCases) {
      it(`append semantics: ${c.name}`, async function () {
        await subject.applySnapshot(snap(3, 3))
        await subject.append([ent(4, 4), ent(5, 5)])
        await subject.append(c.add)
        await verify({ first: 4, last: c.want[c.want.length - 1].index, dummyTerm: 3, entries: c.want })
      })
    }

    it('rejects an append that would leave a gap and keeps the log unchanged', async function () {
      await subject.append(ents(1, 3, 1))
      await assert.rejects(subject.append([ent(5, 1)]))
      await verify({ first: 1, last: 3, dummyTerm: 0, entries: ents(1, 3, 1) })
    })

    it('limits entries() by maxBytes but always returns at least one entry', async function () {
      const es = [ent(1, 1, 100), ent(2, 1, 100), ent(3, 1, 100), ent(4, 1, 100)]
      await subject.append(es)
      const s = subject.storage
      assert.equal(s.entries(1, 5, 1).length, 1, 'at least one entry')
      assert.equal(s.entries(1, 5, 100).length, 1)
      assert.equal(s.entries(1, 5, 199).length, 1)
      assert.equal(s.entries(1, 5, 200).length, 2)
      assert.equal(s.entries(1, 5, 350).length, 3)
      assert.equal(s.entries(1, 5, 400).length, 4)
      assert.equal(s.entries(1, 5, 10_000).length, 4)
      assert.equal(s.entries(1, 5).length, 4, 'no limit')
      assert.ok(sameEntries(s.entries(2, 5, 200), es.slice(1, 3)))
    })

    it('compacts: first index moves, dummy term kept, errors out of range', async function () {
      const es = [...ents(1, 5, 1), ...ents(6, 10, 2)]
      await subject.append(es)
      await subject.compact(6)
      const s = subject.storage
      assert.equal(s.firstIndex(), 7)
      assert.equal(s.term(6), 2)
      assert.throws(() => s.term(5), CompactedError)
      assert.throws(() => s.entries(6, 8), CompactedError)
      assert.throws(() => s.entries(1, 8), CompactedError)
      await assert.rejects(subject.compact(6), CompactedError)
      await assert.rejects(subject.compact(3), CompactedError)
      await assert.rejects(subject.compact(11), UnavailableError)
      await verify({ first: 7, last: 10, dummyTerm: 2, entries: es.slice(6) })
      await subject.compact(10)
      await verify({ first: 11, last: 10, dummyTerm: 2, entries: [] })
      await subject.append(ents(11, 12, 3))
      await verify({ first: 11, last: 12, dummyTerm: 2, entries: ents(11, 12, 3) })
    })

    it('applies a snapshot: the log is replaced, confState and snapshot reported', async function () {
      await subject.append(ents(1, 5, 1))
      const sn = snap(8, 3, dataFor(8, 3, 300), conf('x', 'y'))
      await subject.applySnapshot(sn)
      const s = subject.storage
      assert.equal(s.firstIndex(), 9)
      assert.equal(s.lastIndex(), 8)
      assert.equal(s.term(8), 3)
      assert.throws(() => s.term(7), CompactedError)
      assert.throws(() => s.entries(5, 6), CompactedError)
      await verify({ first: 9, last: 8, dummyTerm: 3, entries: [], snapshot: { index: 8, term: 3, data: sn.data, confState: conf('x', 'y') } })
      await subject.append(ents(9, 10, 3))
      await verify({ first: 9, last: 10, dummyTerm: 3, entries: ents(9, 10, 3), snapshot: { index: 8, term: 3 } })
    })

    it('applies a snapshot inside the existing log: the log is still replaced', async function () {
      await subject.append(ents(1, 10, 1))
      await subject.applySnapshot(snap(5, 1))
      await verify({ first: 6, last: 5, dummyTerm: 1, entries: [], snapshot: { index: 5, term: 1 } })
    })

    it('rejects an out-of-date snapshot', async function () {
      await subject.applySnapshot(snap(5, 2))
      await assert.rejects(subject.applySnapshot(snap(5, 2)), SnapshotOutOfDateError)
      await assert.rejects(subject.applySnapshot(snap(4, 2)), SnapshotOutOfDateError)
      await subject.applySnapshot(snap(7, 3))
      await verify({ first: 8, last: 7, dummyTerm: 3, entries: [], snapshot: { index: 7, term: 3 } })
    })

    it('creates a snapshot without touching the log, then compacts to it', async function () {
      await subject.append([...ents(1, 4, 1), ...ents(5, 8, 2)])
      await assert.rejects(subject.createSnapshot(9, conf('a'), dataFor(9, 2)), UnavailableError)
      const sn = await subject.createSnapshot(6, conf('a', 'b'), dataFor(6, 2, 40))
      assert.equal(sn.metadata.index, 6)
      assert.equal(sn.metadata.term, 2)
      await assert.rejects(subject.createSnapshot(6, conf('a'), dataFor(6, 2)), SnapshotOutOfDateError)
      await assert.rejects(subject.createSnapshot(3, conf('a'), dataFor(3, 1)), SnapshotOutOfDateError)
      const all = [...ents(1, 4, 1), ...ents(5, 8, 2)]
      await verify({ first: 1, last: 8, dummyTerm: 0, entries: all, snapshot: { index: 6, term: 2, data: dataFor(6, 2, 40), confState: conf('a', 'b') } })
      await subject.compact(6)
      await verify({ first: 7, last: 8, dummyTerm: 2, entries: all.slice(6), snapshot: { index: 6, term: 2 } })
    })

    it('keeps the hard state, alone or with an append', async function () {
      await subject.setHardState({ term: 1, vote: 'peer-a', commit: 0 })
      await verify({ first: 1, last: 0, dummyTerm: 0, entries: [], hardState: { term: 1, vote: 'peer-a', commit: 0 } })
      await subject.append(ents(1, 3, 1), { term: 2, vote: 'peer-ü', commit: 2 })
      await verify({ first: 1, last: 3, dummyTerm: 0, entries: ents(1, 3, 1), hardState: { term: 2, vote: 'peer-ü', commit: 2 } })
      await subject.setHardState({ term: 2, vote: '', commit: 3 })
      await verify({ first: 1, last: 3, dummyTerm: 0, entries: ents(1, 3, 1), hardState: { term: 2, vote: '', commit: 3 } })
    })

    it('matches a reference model under a seeded random workload', async function () {
      const seed = Number(process.env.WAL_SEED ?? 0x5eed)
      const rnd = prng(seed)
      const model = new ModelLog()
      try {
        for (let step = 0; step < 120; step++) {
          const r = rnd()
          const last = model.last()
          if (r < 0.55) {
            // append: start anywhere from the compaction point (conflict) to last+1
            const lo = Math.max(model.dummy + 1, last + 1 - Math.floor(rnd() * 4))
            const n = 1 + Math.floor(rnd() * 5)
            const term = Math.max(model.termAt(lo - 1), model.maxTerm) + (rnd() < 0.3 ? 1 : 0)
            const add = ents(lo, lo + n - 1, term, Math.floor(rnd() * 64))
            await subject.append(add)
            model.append(add)
          } else if (r < 0.7 && last > model.dummy) {
            const c = model.dummy + 1 + Math.floor(rnd() * (last - model.dummy))
            await subject.compact(c)
            model.compact(c)
          } else if (r < 0.78) {
            const idx = Math.max(model.snapIndex, last) + 1 + Math.floor(rnd() * 3)
            const term = model.maxTerm + 1
            await subject.applySnapshot(snap(idx, term))
            model.reset(idx, term)
          } else if (r < 0.85 && last > model.snapIndex && last >= model.dummy) {
            const idx = Math.max(model.snapIndex + 1, model.dummy) + Math.floor(rnd() * (last - Math.max(model.snapIndex + 1, model.dummy) + 1))
            const sn = await subject.createSnapshot(idx, conf('m'), dataFor(idx, 9))
            assert.equal(sn.metadata.term, model.termAt(idx))
            model.snapIndex = idx
            model.snapTerm = sn.metadata.term
          } else if (r < 0.95) {
            const hs = { term: model.maxTerm, vote: rnd() < 0.5 ? '' : `p${Math.floor(rnd() * 3)}`, commit: Math.floor(rnd() * (last + 1)) }
            await subject.setHardState(hs)
            model.hardState = hs
          } else if (subject.reopen != null) {
            subject = await subject.reopen()
          }
          checkStorage(subject.storage, model.expect(), `step ${step}`)
        }
        if (subject.reopen != null) {
          subject = await subject.reopen()
          checkStorage(subject.storage, model.expect(), 'final reopen')
        }
      } catch (err) {
        console.error(`compliance random workload failed with WAL_SEED=${seed}`)
        throw err
      }
    })
  })
}

/** the obvious reference log the random workloads are checked against */
export class ModelLog {
  dummy = 0
  dummyTerm = 0
  log: Entry[] = []
  snapIndex = 0
  snapTerm = 0
  maxTerm = 1
  hardState: HardState = { term: 0, vote: '', commit: 0 }

  clone (): ModelLog {
    const m = new ModelLog()
    Object.assign(m, this, { log: [...this.log], hardState: { ...this.hardState } })
    return m
  }

  last (): number { return this.dummy + this.log.length }
  termAt (i: number): number { return i === this.dummy ? this.dummyTerm : this.log[i - this.dummy - 1].term }

  append (add: Entry[]): void {
    for (const e of add) {
      if (e.index <= this.dummy) continue
      this.log.length = e.index - this.dummy - 1
      this.log.push(e)
      this.maxTerm = Math.max(this.maxTerm, e.term)
    }
  }

  compact (c: number): void {
    this.dummyTerm = this.termAt(c)
    this.log = this.log.slice(c - this.dummy)
    this.dummy = c
  }

  reset (i: number, t: number): void {
    this.dummy = i
    this.dummyTerm = t
    this.log = []
    this.snapIndex = i
    this.snapTerm = t
    this.maxTerm = Math.max(this.maxTerm, t)
  }

  expect (): Expect {
    return { first: this.dummy + 1, last: this.last(), dummyTerm: this.dummyTerm, entries: [...this.log], hardState: this.hardState }
  }

  /** does `s` hold exactly this log, hard state and snapshot? */
  matches (s: LogStorage): boolean {
    try {
      checkStorage(s, { ...this.expect(), snapshot: { index: this.snapIndex, term: this.snapTerm } }, 'model')
      return true
    } catch {
      return false
    }
  }
}
