/**
 * Strict decoding: every malformed, oversized or truncated input is a
 * CrdtDecodeError with a reason code, nothing else is ever thrown, and
 * length prefixes never drive allocation.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  contextCount, contextSize, CrdtDecodeError, decodeCrdt, decodeDeltaGroup, decodeDigest, digest, encodeCrdt, encodeDeltaGroup,
  encodeDigest, equals, gcounter, join, lwwRegister, makeContext, orset, ormap, pncounter, mvRegister, replicaIds, value
} from '../../src/crdt/index.js'
import type { Crdt, CrdtDecodeReason, ORMap, ORSet } from '../../src/crdt/index.js'
import { check, MODELS, run, scenario } from './support.js'

function rejects (fn: () => unknown, reason?: CrdtDecodeReason): void {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof CrdtDecodeError, `expected CrdtDecodeError, got ${String(err)}`)
    assert.equal(err.name, 'CrdtDecodeError')
    assert.equal(err.code, 'CRDT_DECODE_ERROR')
    if (reason != null) assert.equal(err.reason, reason, err.message)
    return
  }
  assert.fail('decoding succeeded')
}

function sample (): Crdt[] {
  let s: ORSet = orset.bottom()
  s = join(s, orset.add(s, 'replica-a', 'apple'))
  s = join(s, orset.add(s, 'replica-b', new Uint8Array([1, 2, 3])))
  let m: ORMap = ormap.bottom({ kind: 'mvregister' })
  m = join(m, ormap.update(m, 'k', (v) => mvRegister.write(v as mvRegister.MVRegister, 'replica-a', 'v')))
  const p = join(pncounter.add(pncounter.bottom(), 'x', 5), pncounter.add(pncounter.bottom(), 'y', -3))
  const l = lwwRegister.set(lwwRegister.bottom(), 'w', { wall: 1_700_000_000_000, logical: 3 }, 'hello')
  return [s, m, p, gcounter.inc(gcounter.bottom(), 'z', 300), l, lwwRegister.bottom()]
}

/** Hand-assembled message: version 1, kind 1 (state), then `rest`. */
function msg (...rest: number[]): Uint8Array {
  return new Uint8Array([1, 1, ...rest])
}

describe('crdt codec', () => {
  it('round-trips states, delta-groups and digests', () => {
    for (const s of sample()) {
      assert.ok(equals(decodeCrdt(encodeCrdt(s)), s))
      const g = decodeDeltaGroup(encodeDeltaGroup({ seq: 42, full: true, state: s }))
      assert.equal(g.seq, 42)
      assert.equal(g.full, true)
      assert.ok(equals(g.state, s))
      const d = digest(s)
      assert.deepEqual(encodeDigest(decodeDigest(encodeDigest(d))), encodeDigest(d))
    }
  })

  it('is compact: replica ids are written once, dots are small integers', () => {
    let s: ORSet = orset.bottom()
    const peer = '12D3KooWGzBxDf4hJm7X6yUo3hP7h8Kc3nYqL4mXyZtGkR5vWq1e'
    for (let i = 0; i < 100; i++) s = join(s, orset.add(s, peer, `item-${i}`))
    const bytes = encodeCrdt(s)
    // 100 × (atom tag + len + ~7 chars + dot count + dot idx + counter ≤ 2) + header
    assert.ok(bytes.length < 100 * 13 + peer.length + 20, `got ${bytes.length}`)
    const delta = orset.add(s, peer, 'item-100')
    assert.ok(encodeCrdt(delta).length < peer.length + 30, `delta is ${encodeCrdt(delta).length} bytes`)
  })

  it('lists the replica ids a state mentions', () => {
    assert.deepEqual(replicaIds(sample()[0]), ['replica-a', 'replica-b'])
    assert.deepEqual(replicaIds(sample()[2]), ['x', 'y'])
  })

  it('rejects a wrong version, kind or type tag', () => {
    const good = encodeCrdt(gcounter.inc(gcounter.bottom(), 'a', 1))
    rejects(() => decodeCrdt(new Uint8Array([2, ...good.subarray(1)])), 'UNSUPPORTED_VERSION')
    rejects(() => decodeDigest(good), 'UNKNOWN_TYPE')
    rejects(() => decodeCrdt(msg(0, 99)), 'UNKNOWN_TYPE')
    rejects(() => decodeCrdt(new Uint8Array([])), 'TRUNCATED')
    rejects(() => decodeCrdt('nope' as unknown as Uint8Array), 'NOT_BYTES')
  })

  it('rejects every truncation of every sample', () => {
    for (const s of sample()) {
      const bytes = encodeCrdt(s)
      for (let n = 0; n < bytes.length; n++) rejects(() => decodeCrdt(bytes.subarray(0, n)))
    }
  })

  it('rejects trailing bytes', () => {
    const bytes = encodeCrdt(sample()[0])
    rejects(() => decodeCrdt(new Uint8Array([...bytes, 0])), 'TRAILING_BYTES')
  })

  it('rejects non-minimal and overlong varints', () => {
    // gcounter with replica table ["a"], one entry, count 1 written as 0x81 0x00
    rejects(() => decodeCrdt(msg(1, 1, 97, 1, 1, 0, 0x81, 0x00)), 'NON_CANONICAL')
    rejects(() => decodeCrdt(msg(1, 1, 97, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)), 'VARINT_OVERFLOW')
    // 2^53 does not fit
    rejects(() => decodeCrdt(msg(1, 1, 97, 1, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10)), 'VARINT_OVERFLOW')
  })

  it('never allocates from a length or count prefix', () => {
    // a replica id claiming 2^52 bytes
    rejects(() => decodeCrdt(msg(1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x08)), 'LIMIT_EXCEEDED')
    // a table claiming 2^40 replicas
    rejects(() => decodeCrdt(msg(0x80, 0x80, 0x80, 0x80, 0x80, 0x20)), 'TRUNCATED')
    // an ORSet context whose cloud range names 2^50 dots in 8 bytes ...
    const ctxRange = [1, 1, 1, 1, 97, 7, /* vv */ 0, /* cloud */ 1, 0, 1, /* gap */ 0, /* len-1 */ 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, 0]
    // is held as one range: it decodes in constant memory and time
    const huge = decodeCrdt(new Uint8Array(ctxRange))
    assert.ok(huge.type === 'orset')
    assert.equal(contextCount(huge.ctx), 2 ** 50 + 1)
    assert.equal(contextSize(huge.ctx), 1)
    // ... but a range reaching past 2^53 is refused
    const past = [1, 1, 1, 1, 97, 7, 0, 1, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0]
    rejects(() => decodeCrdt(new Uint8Array(past)), 'VARINT_OVERFLOW')
    // an element budget
    let s: ORSet = orset.bottom()
    for (let i = 0; i < 50; i++) s = join(s, orset.add(s, 'a', `e${i}`))
    rejects(() => decodeCrdt(encodeCrdt(s), { maxElements: 40 }), 'LIMIT_EXCEEDED')
    rejects(() => decodeCrdt(encodeCrdt(s), { maxBytes: 10 }), 'TOO_LARGE')
    rejects(() => decodeCrdt(encodeCrdt(s), { maxStringBytes: 2 }), 'LIMIT_EXCEEDED')
  })

  it('bounds nesting depth', () => {
    const deep = encodeCrdt(ormap.bottom({ kind: 'ormap', value: { kind: 'ormap', value: { kind: 'ormap', value: { kind: 'ccounter' } } } }))
    decodeCrdt(deep)
    rejects(() => decodeCrdt(deep, { maxDepth: 2 }), 'DEPTH_EXCEEDED')
    // a value-type chain of 10k nested maps is cut off, not recursed into
    rejects(() => decodeCrdt(msg(0, 8, ...new Array(10_000).fill(8))), 'DEPTH_EXCEEDED')
  })

  it('rejects invalid UTF-8, unsorted entries, unreferenced and duplicate replicas', () => {
    rejects(() => decodeCrdt(msg(1, 2, 0xc3, 0x28, 1, 1, 0, 1)), 'INVALID_UTF8')
    rejects(() => decodeCrdt(msg(2, 1, 98, 1, 97, 1, 2, 0, 1, 1, 1)), 'NOT_SORTED')
    rejects(() => decodeCrdt(msg(2, 1, 97, 1, 97, 1, 1, 0, 1)), 'NOT_SORTED')
    rejects(() => decodeCrdt(msg(2, 1, 97, 1, 98, 1, 1, 0, 1)), 'NON_CANONICAL')
    // gcounter entries out of order
    rejects(() => decodeCrdt(msg(2, 1, 97, 1, 98, 1, 2, 1, 1, 0, 1)), 'NOT_SORTED')
    // zero count is not canonical
    rejects(() => decodeCrdt(msg(1, 1, 97, 1, 1, 0, 0)), 'INVALID_VALUE')
  })

  it('rejects states that break dot-store invariants', () => {
    // ORSet: ctx empty but element "x" carries dot (a,1)
    rejects(() => decodeCrdt(msg(1, 1, 97, 7, 0, 0, 1, 0, 1, 120, 1, 0, 1)), 'INVALID_STATE')
    // ORSet: ctx vv a:1, two elements share dot (a,1)
    rejects(() => decodeCrdt(msg(1, 1, 97, 7, 1, 0, 1, 0, 2, 0, 1, 120, 1, 0, 1, 0, 1, 121, 1, 0, 1)), 'INVALID_STATE')
    // ORSet: element with no dots
    rejects(() => decodeCrdt(msg(1, 1, 97, 7, 1, 0, 1, 0, 1, 0, 1, 120, 0)), 'INVALID_STATE')
    // CCounter: two live dots of one replica are legal (a reset the holder has not seen yet)
    assert.equal(value(decodeCrdt(msg(1, 1, 97, 4, 1, 0, 2, 0, 2, 0, 1, 0, 5, 0, 2, 0, 6))), 11)
    // CCounter: a dot outside the context
    rejects(() => decodeCrdt(msg(1, 1, 97, 4, 1, 0, 1, 0, 1, 0, 2, 0, 6)), 'INVALID_STATE')
    // CCounter: negative zero
    rejects(() => decodeCrdt(msg(1, 1, 97, 4, 1, 0, 1, 0, 1, 0, 1, 1, 0)), 'NON_CANONICAL')
    // decodes when valid
    const ok = decodeCrdt(msg(1, 1, 97, 4, 1, 0, 1, 0, 1, 0, 1, 1, 5))
    assert.equal(ok.type, 'ccounter')
    // digest: live dot outside the context
    const d = digest(orset.add(orset.bottom(), 'a', 'x'))
    assert.ok(d.type === 'causal')
    const bad = encodeDigest({ ...d, ctx: makeContext([]) })
    rejects(() => decodeDigest(bad), 'INVALID_STATE')
  })

  it('fuzz: random bytes never throw anything but CrdtDecodeError', () => {
    check(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      for (const dec of [decodeCrdt, decodeDeltaGroup, decodeDigest]) {
        try { dec(bytes) } catch (err) { assert.ok(err instanceof CrdtDecodeError, String(err)) }
      }
      // with a valid header, so the fuzz reaches the type payloads
      for (const body of [[1, 1, 1, 97, ...bytes], [1, 1, 2, 97, 98, ...bytes], [1, 1, 0, ...bytes]]) {
        try { decodeCrdt(new Uint8Array(body)) } catch (err) { assert.ok(err instanceof CrdtDecodeError, String(err)) }
      }
    }), 2000)
  })

  it('fuzz: mutated valid encodings decode to canonical states or fail with CrdtDecodeError', () => {
    const pool = MODELS.map((m) => ({ m, arb: scenario(m, 3, 12) }))
    check(fc.property(fc.nat(pool.length - 1).chain((i) => fc.tuple(fc.constant(i), pool[i].arb)),
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.nat(8), ([i, sc], flips, cut) => {
        const { states } = run(pool[i].m, sc)
        const bytes = encodeCrdt(states[0])
        const mutated = bytes.slice(0, Math.max(2, bytes.length - (cut === 0 ? 1 : 0)))
        for (const [pos, val] of flips) mutated[pos % mutated.length] = val
        let decoded: Crdt
        try { decoded = decodeCrdt(mutated) } catch (err) {
          assert.ok(err instanceof CrdtDecodeError, String(err))
          return
        }
        // whatever is accepted is canonical: it re-encodes to the same bytes
        assert.deepEqual(encodeCrdt(decoded), mutated)
      }), 1000)
  })

  it('fuzz: mutated digests and delta-groups decode canonically or fail with CrdtDecodeError', () => {
    const pool = MODELS.map((m) => ({ m, arb: scenario(m, 3, 12) }))
    check(fc.property(fc.nat(pool.length - 1).chain((i) => fc.tuple(fc.constant(i), pool[i].arb)),
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 }), fc.boolean(), ([i, sc], flips, asDigest) => {
        const { states } = run(pool[i].m, sc)
        const bytes = asDigest ? encodeDigest(digest(states[0])) : encodeDeltaGroup({ seq: 7, full: false, state: states[0] })
        const mutated = bytes.slice()
        for (const [pos, val] of flips) mutated[pos % mutated.length] = val
        try {
          const again = asDigest ? encodeDigest(decodeDigest(mutated)) : encodeDeltaGroup(decodeDeltaGroup(mutated))
          assert.deepEqual(again, mutated)
        } catch (err) {
          assert.ok(err instanceof CrdtDecodeError, String(err))
        }
      }), 1000)
  })

  it('enforces replica-table limits', () => {
    const s = join(gcounter.inc(gcounter.bottom(), 'a-long-replica-id', 1), gcounter.inc(gcounter.bottom(), 'b', 1))
    rejects(() => decodeCrdt(encodeCrdt(s), { maxReplicas: 1 }), 'LIMIT_EXCEEDED')
    rejects(() => decodeCrdt(encodeCrdt(s), { maxReplicaIdBytes: 4 }), 'LIMIT_EXCEEDED')
    rejects(() => decodeCrdt(msg(1, 0, 1, 0, 1, 1)), 'INVALID_VALUE')
  })
})

describe('crdt codec-io strings', () => {
  it('round-trips ASCII and non-ASCII strings across the varint length boundaries; a lone surrogate is refused', async () => {
    const { Reader, Writer, DEFAULT_LIMITS } = await import('../../src/crdt/codec-io.js')
    const lengths = [0, 1, 127, 128, 129, 16_383, 16_384, 65_535]
    for (const n of lengths) {
      for (const tail of ['', 'é', '\u{1F600}']) {
        const s = 'a'.repeat(Math.max(0, n - tail.length)) + tail
        const w = new Writer()
        w.byte(7)
        w.string(s, 'f')
        w.varint(300)
        const bytes = w.finish()
        const utf8 = new TextEncoder().encode(s)
        const r = new Reader(bytes, DEFAULT_LIMITS)
        assert.equal(r.byte('b'), 7)
        assert.equal(r.string('f', 1 << 20), s, `length ${n} tail ${JSON.stringify(tail)}`)
        assert.equal(r.varint('v'), 300)
        r.end()
        // canonical: length varint then the UTF-8 bytes
        const rr = new Reader(bytes, DEFAULT_LIMITS)
        rr.byte('b')
        assert.equal(rr.varint('len'), utf8.length)
      }
    }
    assert.throws(() => { new Writer().string('x'.repeat(200) + '\uD800', 'f') }, /lone surrogate/)
  })
})

describe('crdt codec-io buffer reuse', () => {
  it('a finished Writer\'s bytes stay intact while later and nested Writers reuse its buffer', async () => {
    const { Reader, Writer, DEFAULT_LIMITS } = await import('../../src/crdt/codec-io.js')
    const write = (fill: number, n: number): Uint8Array => {
      const w = new Writer()
      for (let i = 0; i < n; i++) w.byte(fill)
      return w.finish()
    }
    const big = write(1, 300_000)
    const outer = new Writer()
    outer.byte(9)
    // nested: the inner Writer is finished while the outer one is still open
    const inner = write(2, 200_000)
    outer.bytes(inner)
    outer.bytes(write(3, 10))
    const nested = outer.finish()
    const small = write(4, 5)
    assert.ok(big.every(b => b === 1) && big.length === 300_000, 'the first output was not overwritten')
    assert.ok(inner.every(b => b === 2) && small.every(b => b === 4) && small.length === 5)
    const r = new Reader(nested, { ...DEFAULT_LIMITS, maxBytes: 1 << 20 })
    assert.equal(r.byte('b'), 9)
    assert.deepEqual(r.rawBytes('inner', 1 << 20), inner)
    assert.deepEqual(r.rawBytes('tail', 100), new Uint8Array(10).fill(3))
    r.end()
    // a finished Writer can be written again: it starts empty
    const w = new Writer()
    w.byte(5)
    assert.deepEqual(w.finish(), new Uint8Array([5]))
    w.byte(6)
    assert.deepEqual(w.finish(), new Uint8Array([6]))
  })
})
