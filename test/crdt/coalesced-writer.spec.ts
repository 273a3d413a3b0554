/**
 * Coalesced durable writes (src/crdt/service/coalesced-writer.ts): one write
 * at a time, calls made while a write is queued share it, and every call
 * resolves only after a write that started after it.
 */
import assert from 'node:assert/strict'
import { CoalescedWriter } from '../../src/crdt/service/coalesced-writer.js'

describe('crdt: coalesced writer', function () {
  it('runs one write at a time, coalesces queued calls and stores state newer than each call', async function () {
    let state = 0
    const stored: number[] = []
    let running = 0
    const releases: Array<() => void> = []
    const w = new CoalescedWriter(async () => {
      running++
      assert.equal(running, 1, 'two writes ran at once')
      const snapshot = state
      await new Promise<void>(resolve => { releases.push(resolve) })
      stored.push(snapshot)
      running--
    })
    state = 1
    const a = w.write() // starts at once (nothing in flight)
    await Promise.resolve()
    state = 2
    const b = w.write() // queued behind a
    state = 3
    const c = w.write() // shares b's queued write (one write stores state 3 for both)
    while (releases.length === 0) await Promise.resolve()
    releases.shift()?.()
    await a
    assert.deepEqual(stored, [1])
    while (releases.length === 0) await Promise.resolve()
    releases.shift()?.()
    await Promise.all([b, c, w.flushed()])
    assert.deepEqual(stored, [1, 3], 'the queued write stores the state as it is when it runs')
  })

  it('a failed write rejects its callers but not the next write', async function () {
    let fail = true
    const w = new CoalescedWriter(async () => {
      if (fail) throw new Error('disk full')
    })
    await assert.rejects(w.write(), /disk full/)
    await w.flushed()
    fail = false
    await w.write()
  })
})
