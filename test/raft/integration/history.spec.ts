/** The global-revision linearizability checker flags each kind of violation (and passes a valid history). */
import assert from 'node:assert/strict'
import { checkRevisionHistory } from './history.js'
import type { HistOp } from './history.js'

const put = (value: string, call: number, ret: number, rev?: number, key = 'k'): HistOp => ({ kind: 'put', client: 0, key, value, call, ret, rev })
const get = (value: string | null, rev: number, call: number, ret: number, key = 'k'): HistOp => ({ kind: 'get', client: 1, key, call, ret, value, rev })

describe('raft integration: revision-history linearizability checker', () => {
  it('accepts a valid concurrent history, including an unknown-outcome write revealed by a read', () => {
    const h = [put('a', 0, 10, 1), put('b', 5, 20, 2), get('a', 1, 6, 8), get('b', 2, 21, 25), put('c', 22, Infinity), get('c', 3, 30, 31), put('x', 26, 40, 4, 'other')]
    assert.deepEqual(checkRevisionHistory(h), { ok: true, problems: [] })
  })
  it('flags a stale read', () => {
    const v = checkRevisionHistory([put('a', 0, 10, 1), put('b', 11, 20, 2), get('a', 1, 21, 22)])
    assert.equal(v.ok, false)
    assert.match(v.problems[0], /stale read/)
  })
  it('flags a write ordered before one that completed earlier', () => {
    const v = checkRevisionHistory([put('a', 0, 10, 5), put('b', 11, 20, 3)])
    assert.equal(v.ok, false)
    assert.match(v.problems[0], /completed before it started/)
  })
  it('flags a read of a value never written, read from the future, and a wrong revision', () => {
    assert.match(checkRevisionHistory([get('zz', 1, 0, 1)]).problems[0], /nobody wrote/)
    assert.match(checkRevisionHistory([get('a', 1, 0, 1), put('a', 5, 6, 1)]).problems.join(), /before its write was called/)
    assert.match(checkRevisionHistory([put('a', 0, 1, 1), get('a', 2, 3, 4)]).problems.join(), /written at 1/)
  })
  it('flags one revision acknowledged to two writes', () => {
    assert.match(checkRevisionHistory([put('a', 0, 1, 1), put('b', 0, 1, 1, 'j')]).problems.join(), /two writes/)
  })
})
