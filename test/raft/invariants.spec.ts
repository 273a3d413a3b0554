import assert from 'node:assert/strict'
import { EntryType, MemoryLogStorage } from '../../src/raft/core/index.js'
import type { Entry } from '../../src/raft/core/index.js'
import { SafetyChecker, SafetyViolation } from './sim/invariants.js'

const e = (index: number, term: number, data: string): Entry => ({ index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) })

function storage (ents: Entry[]): MemoryLogStorage {
  const s = new MemoryLogStorage()
  s.append(ents)
  return s
}

describe('simulator safety checks (they can fail)', () => {
  it('election safety: two leaders in one term', () => {
    const c = new SafetyChecker()
    c.leader(3, '1')
    c.leader(3, '1')
    c.leader(4, '2')
    assert.throws(() => { c.leader(3, '2') }, SafetyViolation)
  })

  it('log matching: one (index, term), two different entries', () => {
    const c = new SafetyChecker()
    c.persist('1', [e(1, 1, 'a'), e(2, 1, 'b')])
    c.persist('2', [e(1, 1, 'a'), e(2, 2, 'x')])
    assert.throws(() => { c.persist('3', [e(2, 1, 'c')]) }, SafetyViolation)
  })

  it('log matching: logs agreeing at an (index, term) but not before it', () => {
    const a = storage([e(1, 1, 'a'), e(2, 1, 'b'), e(3, 2, 'c')])
    const b = storage([e(1, 1, 'a'), e(2, 1, 'X'), e(3, 2, 'c')])
    assert.throws(() => { SafetyChecker.logsMatch({ id: 'a', s: a }, { id: 'b', s: b }) }, SafetyViolation)
    // diverging only after the last common (index, term) is fine
    const d = storage([e(1, 1, 'a'), e(2, 1, 'b'), e(3, 3, 'z')])
    SafetyChecker.logsMatch({ id: 'a', s: a }, { id: 'd', s: d })
  })

  it('state-machine safety: two entries applied at one index', () => {
    const c = new SafetyChecker()
    c.apply('1', e(5, 2, 'x'))
    c.apply('2', e(5, 2, 'x'))
    assert.throws(() => { c.apply('3', e(5, 3, 'y')) }, SafetyViolation)
  })

  it('leader completeness: a new leader missing a committed entry', () => {
    const c = new SafetyChecker()
    c.apply('1', e(1, 1, 'a'))
    c.apply('1', e(2, 1, 'b'))
    const short = storage([e(1, 1, 'a')])
    assert.throws(() => { c.newLeader('2', 2, short, []) }, SafetyViolation)
    const wrong = storage([e(1, 1, 'a'), e(2, 2, 'q')])
    assert.throws(() => { c.newLeader('3', 3, wrong, []) }, SafetyViolation)
    const good = storage([e(1, 1, 'a'), e(2, 1, 'b')])
    c.newLeader('4', 4, good, [e(3, 4, '')])
  })
})
