import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  decodePreamble, encodePreamble, DelayQueue, DelayTable, emulatedTcp, validateRttMatrix,
  LinkEmulatorConfigError, PreambleError, MAX_REGION_BYTES, PREAMBLE_MAGIC, PREAMBLE_VERSION
} from '../../src/latency/emulator/index.js'
import { createJitter } from '../../src/latency/emulator/jitter.js'
import { FakeClock } from './emulator-fake-clock.js'
import type { RttMatrix } from '../../src/latency/emulator/index.js'

function expectPreambleError (bytes: Uint8Array, reason: string): void {
  assert.throws(() => decodePreamble(bytes), (err: unknown) => {
    assert.ok(err instanceof PreambleError)
    assert.equal(err.name, 'PreambleError')
    assert.equal(err.code, 'LINK_EMULATOR_BAD_PREAMBLE')
    assert.equal(err.reason, reason)
    return true
  })
}

describe('latency/emulator: preamble codec', () => {
  it('round-trips a region and reports the bytes it used', () => {
    const enc = encodePreamble('eu-west-1')
    assert.deepEqual(enc.subarray(0, 4), PREAMBLE_MAGIC)
    assert.equal(enc[4], PREAMBLE_VERSION)
    assert.equal(enc[5], 9)
    const withTail = new Uint8Array([...enc, 0x2f, 0x6d])
    assert.deepEqual(decodePreamble(withTail), { done: true, region: 'eu-west-1', site: 'eu-west-1', consumed: enc.length })
  })

  it('asks for more bytes on every strict prefix', () => {
    const enc = encodePreamble('ap-south')
    for (let i = 0; i < enc.length; i++) assert.deepEqual(decodePreamble(enc.subarray(0, i)), { done: false }, `prefix ${i}`)
  })

  it('rejects garbage on its first wrong byte', () => {
    expectPreambleError(new TextEncoder().encode('G'), 'BAD_MAGIC')
    expectPreambleError(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'), 'BAD_MAGIC')
    expectPreambleError(Uint8Array.of(0x64, 0x6c, 0x00), 'BAD_MAGIC')
    // a libp2p multistream-select header from a non-emulating peer
    expectPreambleError(Uint8Array.of(0x13, 0x2f, 0x6d, 0x75, 0x6c), 'BAD_MAGIC')
  })

  it('rejects a wrong version, a bad length and non-printable region bytes', () => {
    expectPreambleError(Uint8Array.of(...PREAMBLE_MAGIC, 3), 'BAD_VERSION')
    expectPreambleError(Uint8Array.of(...PREAMBLE_MAGIC, 1, 0), 'BAD_REGION_LENGTH')
    expectPreambleError(Uint8Array.of(...PREAMBLE_MAGIC, 1, MAX_REGION_BYTES + 1), 'BAD_REGION_LENGTH')
    expectPreambleError(Uint8Array.of(...PREAMBLE_MAGIC, 1, 255), 'BAD_REGION_LENGTH')
    expectPreambleError(Uint8Array.of(...PREAMBLE_MAGIC, 1, 3, 0x61, 0x20), 'BAD_REGION_CHARS')
    expectPreambleError(Uint8Array.of(...PREAMBLE_MAGIC, 1, 3, 0x61, 0x62, 0xc3), 'BAD_REGION_CHARS')
  })

  it('refuses to encode an invalid local region', () => {
    assert.throws(() => encodePreamble(''), PreambleError)
    assert.throws(() => encodePreamble('a b'), PreambleError)
    assert.throws(() => encodePreamble('x'.repeat(MAX_REGION_BYTES + 1)), PreambleError)
    assert.throws(() => encodePreamble('zürich'), PreambleError)
  })

  it('never throws anything but PreambleError on random bytes (property, seeded)', () => {
    const seed = 20261127
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      try {
        const r = decodePreamble(bytes)
        if (r.done) assert.ok(r.consumed <= bytes.length && r.region.length > 0)
      } catch (err) {
        if (!(err instanceof PreambleError)) throw err
      }
    }), { seed, numRuns: 2000 })
    fc.assert(fc.property(fc.stringMatching(/^[!-~]{1,64}$/), (region) => {
      const r = decodePreamble(encodePreamble(region))
      assert.deepEqual(r, { done: true, region, site: region, consumed: 6 + region.length })
    }), { seed, numRuns: 500 })
  })
})

describe('latency/emulator: RTT matrix', () => {
  const matrix: RttMatrix = { regions: ['a', 'b', 'c'], rttMs: [[0, 40, 100], [40, 2, 60], [80, 60, 0]] }

  it('gives half of rttMs[from][to] as the one-way delay, directionally', () => {
    const t = new DelayTable(matrix)
    assert.equal(t.oneWayMs('a', 'b'), 20)
    assert.equal(t.oneWayMs('b', 'b'), 1)
    assert.equal(t.oneWayMs('a', 'c'), 50)
    assert.equal(t.oneWayMs('c', 'a'), 40)
    assert.equal(t.oneWayMs('a', 'zz'), undefined)
    assert.equal(t.oneWayMs('zz', 'a'), undefined)
  })

  it('accepts null (unknown) entries, which give no delay', () => {
    const t = new DelayTable(validateRttMatrix({ regions: ['a', 'b'], rttMs: [[0, null], [30, null]] }))
    assert.equal(t.oneWayMs('a', 'b'), undefined)
    assert.equal(t.oneWayMs('b', 'a'), 15)
    assert.equal(t.oneWayMs('b', 'b'), undefined)
    assert.equal(t.has('b'), true)
  })

  const bad: Array<[unknown, string]> = [
    [null, 'matrix'],
    [{ regions: [], rttMs: [] }, 'matrix.regions'],
    [{ regions: ['a', 5], rttMs: [[0, 0], [0, 0]] }, 'matrix.regions[1]'],
    [{ regions: ['a', 'a'], rttMs: [[0, 0], [0, 0]] }, 'matrix.regions[1]'],
    [{ regions: ['a', 'b c'], rttMs: [[0, 0], [0, 0]] }, 'matrix.regions[1]'],
    [{ regions: ['a', 'b'], rttMs: [[0, 0]] }, 'matrix.rttMs'],
    [{ regions: ['a', 'b'], rttMs: [[0, 0], [0]] }, 'matrix.rttMs[1]'],
    [{ regions: ['a', 'b'], rttMs: [[0, -1], [0, 0]] }, 'matrix.rttMs[0][1]'],
    [{ regions: ['a', 'b'], rttMs: [[0, 1], [Number.NaN, 0]] }, 'matrix.rttMs[1][0]'],
    [{ regions: ['a', 'b'], rttMs: [[0, 1], ['5', 0]] }, 'matrix.rttMs[1][0]'],
    [{ regions: ['a', 'b'], rttMs: [[0, 1e9], [1, 0]] }, 'matrix.rttMs[0][1]']
  ]
  bad.forEach(([m, field], i) => {
    it(`rejects bad matrix #${i}, naming ${field}`, () => {
      assert.throws(() => validateRttMatrix(m), (err: unknown) => {
        assert.ok(err instanceof LinkEmulatorConfigError)
        assert.equal(err.field, field)
        assert.equal(err.code, 'LINK_EMULATOR_CONFIG')
        return true
      })
    })
  })

  it('emulatedTcp() validates its init eagerly, naming the field', () => {
    const check = (init: unknown, field: string): void => {
      assert.throws(() => emulatedTcp(init as never), (err: unknown) => err instanceof LinkEmulatorConfigError && err.field === field)
    }
    check({ region: '', matrix }, 'region')
    check({ region: 7, matrix }, 'region')
    check({ region: 'a', matrix: { regions: ['a'], rttMs: [[0, 1]] } }, 'matrix.rttMs[0]')
    check({ region: 'a', matrix, jitterMs: -1 }, 'jitterMs')
    check({ region: 'a', matrix, seed: 1.5 }, 'seed')
    check({ region: 'a', matrix, handshakeTimeoutMs: 0 }, 'handshakeTimeoutMs')
    check({ region: 'a', matrix, handshakeTimeoutMs: 2 ** 32 }, 'handshakeTimeoutMs')
    check({ region: 'a', matrix, jitterMs: '3' }, 'jitterMs')
    check(null, 'init')
    check({ region: 'a', matrix, maxQueuedBytes: -5 }, 'maxQueuedBytes')
  })
})

describe('latency/emulator: jitter', () => {
  it('is reproducible per (seed, link), bounded, and differs across links', () => {
    const a = createJitter(5, 42, 0)
    const b = createJitter(5, 42, 0)
    const c = createJitter(5, 42, 1)
    const xs = Array.from({ length: 200 }, () => a())
    assert.deepEqual(Array.from({ length: 200 }, () => b()), xs)
    assert.notDeepEqual(Array.from({ length: 200 }, () => c()), xs)
    for (const x of xs) assert.ok(x >= -5 && x <= 5, `jitter ${x} out of range`)
    assert.ok(xs.some(x => x < -2.5) && xs.some(x => x > 2.5), 'jitter spans its range')
    assert.equal(createJitter(0, 42, 0)(), 0)
  })
})

describe('latency/emulator: delay queue', () => {
  function setup (opts: { full?: (item: string) => boolean } = {}): { clock: FakeClock, q: DelayQueue<string>, out: Array<[number, string]> } {
    const clock = new FakeClock()
    const out: Array<[number, string]> = []
    const q = new DelayQueue<string>({
      scheduler: clock,
      sizeOf: s => s.length,
      deliver: s => { out.push([clock.now(), s]); return opts.full?.(s) !== true }
    })
    return { clock, q, out }
  }

  it('releases each item exactly delay ms after it was pushed, using one timer', () => {
    const { clock, q, out } = setup()
    q.push('a', 20)
    clock.advance(5)
    q.push('bb', 20)
    clock.advance(3)
    q.push('ccc', 20)
    assert.equal(clock.pending, 1, 'one timer for the whole queue')
    assert.equal(q.queuedBytes, 6)
    clock.advance(11)
    assert.deepEqual(out, [])
    clock.advance(1)
    assert.deepEqual(out, [[20, 'a']])
    clock.advance(100)
    assert.deepEqual(out, [[20, 'a'], [25, 'bb'], [28, 'ccc']])
    assert.equal(q.queuedBytes, 0)
    assert.equal(clock.pending, 0, 'no timer left when empty')
  })

  it('delivers synchronously at delay 0 when nothing is queued', () => {
    const { clock, q, out } = setup()
    q.push('x', 0)
    assert.deepEqual(out, [[0, 'x']])
    assert.equal(clock.pending, 0)
    // within the sub-millisecond tolerance counts as due now
    q.push('y', 0.4)
    assert.deepEqual(out, [[0, 'x'], [0, 'y']])
    q.push('z', 0.6)
    assert.equal(out.length, 2)
    clock.advance(1)
    assert.deepEqual(out[2], [1, 'z'])
  })

  it('never reorders, whatever the per-item delays (property, seeded)', () => {
    const seed = 7
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 30 })), { maxLength: 60 }), (steps) => {
      const { clock, q, out } = setup()
      steps.forEach(([gap, delay], i) => { clock.advance(gap); q.push(String(i), delay) })
      clock.advance(1000)
      assert.deepEqual(out.map(o => o[1]), steps.map((_, i) => String(i)))
      for (let i = 1; i < out.length; i++) assert.ok(out[i][0] >= out[i - 1][0])
      // nothing leaves before its own delay
      let t = 0
      steps.forEach(([gap, delay], i) => { t += gap; assert.ok(out[i][0] >= t + delay, `item ${i} left early`) })
    }), { seed, numRuns: 300 })
  })

  it('holds items while the downstream is full and resumes in order', () => {
    const { clock, q, out } = setup({ full: s => s === 'b' })
    q.push('a', 10)
    q.push('b', 10)
    q.push('c', 10)
    clock.advance(10)
    assert.deepEqual(out.map(o => o[1]), ['a', 'b'])
    assert.equal(q.blocked, true)
    assert.equal(q.length, 1)
    clock.advance(50)
    assert.deepEqual(out.map(o => o[1]), ['a', 'b'], 'still blocked')
    q.resume()
    assert.deepEqual(out.map(o => o[1]), ['a', 'b', 'c'])
  })

  it('whenEmpty() waits for the last item; clear() drops everything and cancels the timer', async () => {
    const { clock, q, out } = setup()
    q.push('a', 10)
    let emptied = false
    const p = q.whenEmpty().then(() => { emptied = true })
    await Promise.resolve()
    assert.equal(emptied, false)
    clock.advance(10)
    await p
    assert.equal(emptied, true)
    q.push('b', 10)
    const p2 = q.whenEmpty()
    q.clear()
    await p2
    assert.equal(clock.pending, 0)
    clock.advance(100)
    assert.deepEqual(out.map(o => o[1]), ['a'])
    assert.throws(() => { q.push('c', 0) })
  })

  it('whenEmpty() honours an abort signal', async () => {
    const { q } = setup()
    q.push('a', 10)
    const ac = new AbortController()
    const p = q.whenEmpty({ signal: ac.signal })
    ac.abort(new Error('stop'))
    await assert.rejects(p, /stop/)
    q.clear()
  })
})
