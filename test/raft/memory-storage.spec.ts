import assert from 'node:assert/strict'
import { CompactedError, EntryType, MemoryLogStorage, SnapshotOutOfDateError, UnavailableError, emptyConfState } from '../../src/raft/core/index.js'
import type { Entry } from '../../src/raft/core/index.js'

const ent = (index: number, term: number, data = ''): Entry => ({ index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) })

function storageWith (first: number, last: number, term = 1): MemoryLogStorage {
  const s = new MemoryLogStorage()
  if (first > 1) s.applySnapshot({ metadata: { index: first - 1, term, confState: { ...emptyConfState(), voters: ['1'] } }, data: new Uint8Array() })
  const es: Entry[] = []
  for (let i = first; i <= last; i++) es.push(ent(i, term, `e${i}`))
  s.append(es)
  return s
}

describe('MemoryLogStorage', () => {
  it('starts empty with the index-0 sentinel', () => {
    const s = new MemoryLogStorage()
    assert.equal(s.firstIndex(), 1)
    assert.equal(s.lastIndex(), 0)
    assert.equal(s.term(0), 0)
    assert.throws(() => s.term(1), UnavailableError)
    assert.deepEqual(s.entries(1, 1), [])
  })

  it('appends, truncates a conflicting suffix, rejects gaps', () => {
    const s = storageWith(1, 5)
    s.append([ent(4, 2, 'x'), ent(5, 2, 'y'), ent(6, 2, 'z')])
    assert.deepEqual(s.entries(1, 7).map(e => `${e.index}/${e.term}`), ['1/1', '2/1', '3/1', '4/2', '5/2', '6/2'])
    s.append([ent(3, 3)])
    assert.equal(s.lastIndex(), 3)
    assert.throws(() => { s.append([ent(5, 3)]) }, UnavailableError)
  })

  it('ignores entries already compacted and keeps the rest', () => {
    const s = storageWith(5, 8)
    s.append([ent(3, 1), ent(4, 1), ent(5, 1, 'e5'), ent(6, 1, 'e6'), ent(7, 1, 'e7'), ent(8, 1, 'e8'), ent(9, 1, 'e9')])
    assert.equal(s.firstIndex(), 5)
    assert.equal(s.lastIndex(), 9)
  })

  it('terms and entries around the compaction point', () => {
    const s = storageWith(1, 10)
    s.compact(4)
    assert.equal(s.firstIndex(), 5)
    assert.equal(s.term(4), 1) // the dummy keeps the term of the compacted index
    assert.throws(() => s.term(3), CompactedError)
    assert.throws(() => s.entries(4, 6), CompactedError)
    assert.throws(() => s.entries(5, 12), UnavailableError)
    assert.deepEqual(s.entries(5, 8).map(e => e.index), [5, 6, 7])
    assert.throws(() => { s.compact(4) }, CompactedError)
    assert.throws(() => { s.compact(11) }, UnavailableError)
  })

  it('limits entries by size but always returns at least one', () => {
    const s = storageWith(1, 5)
    assert.equal(s.entries(1, 6, 1).length, 1)
    assert.equal(s.entries(1, 6, 4).length, 2)
    assert.equal(s.entries(1, 6).length, 5)
  })

  it('creates snapshots, refuses stale ones, applies a newer one', () => {
    const s = storageWith(1, 10)
    const cs = { ...emptyConfState(), voters: ['1', '2'] }
    const snap = s.createSnapshot(6, cs, new Uint8Array([1]))
    assert.equal(snap.metadata.term, 1)
    assert.deepEqual(s.initialState().confState.voters, ['1', '2'])
    assert.throws(() => s.createSnapshot(6, cs, new Uint8Array()), SnapshotOutOfDateError)
    assert.throws(() => s.createSnapshot(11, cs, new Uint8Array()), UnavailableError)
    assert.throws(() => { s.applySnapshot({ metadata: { index: 5, term: 1, confState: cs }, data: new Uint8Array() }) }, SnapshotOutOfDateError)
    s.applySnapshot({ metadata: { index: 20, term: 3, confState: cs }, data: new Uint8Array() })
    assert.equal(s.firstIndex(), 21)
    assert.equal(s.lastIndex(), 20)
    assert.equal(s.term(20), 3)
  })

  it('stores the hard state', () => {
    const s = new MemoryLogStorage()
    s.setHardState({ term: 3, vote: '2', commit: 0 })
    assert.deepEqual(s.initialState().hardState, { term: 3, vote: '2', commit: 0 })
  })
})
