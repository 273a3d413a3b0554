/**
 * The transport's frame batching: concatFrames() must produce exactly what
 * it-length-prefixed would (the receiving side decodes with it), for any mix
 * of frame sizes, including sizes whose varint prefix spans several bytes.
 */
import assert from 'node:assert/strict'
import * as lp from 'it-length-prefixed'
import fc from 'fast-check'
import { concatFrames } from '../../src/raft/transport/transport.js'

describe('raft transport: batched frames', () => {
  it('are the concatenation of it-length-prefixed frames and decode back to the same frames (property)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 70_000 }).map(n => new Uint8Array(n).fill(n % 251))), { minLength: 1, maxLength: 20 }),
      async (frames) => {
        const batch = concatFrames(frames.map(bytes => ({ bytes })))
        const expected = Buffer.concat(frames.map(f => lp.encode.single(f).subarray()))
        assert.deepEqual(Buffer.from(batch), expected)
        const back: Uint8Array[] = []
        for await (const buf of lp.decode([batch], { maxDataLength: 16 * 1024 * 1024 })) back.push(buf.subarray())
        assert.equal(back.length, frames.length)
        back.forEach((b, i) => { assert.deepEqual(Buffer.from(b), Buffer.from(frames[i])) })
      }
    ), { numRuns: 60, seed: 16 })
  })
})
