/* eslint-disable @typescript-eslint/no-explicit-any -- the bad-input cases mutate decoded JSON freely */
import assert from 'node:assert/strict'
import { createLatencyEstimator, validateRemoteState, mergeDigest, compactState, InvalidRttError, LatencyConfigError } from '../../src/latency/index.js'
import type { LatencyEstimator, LatencyState } from '../../src/latency/index.js'

function clockAt (start = 0): { now: () => number, advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => { t += ms } }
}

function valid (e: LatencyEstimator): Record<string, unknown> {
  return JSON.parse(JSON.stringify(e.publicState())) as Record<string, unknown>
}

describe('latency/estimator: remote state validation', () => {
  const a = createLatencyEstimator({ selfId: 'A', seed: 1, now: () => 0 })
  const base = (): Record<string, any> => valid(createLatencyEstimator({ selfId: 'B', seed: 2, now: () => 0 }))

  it('accepts a real published state (after a JSON round trip)', () => {
    const check = validateRemoteState(base(), a.limits)
    assert.equal(check.ok, true)
  })

  const cases: Array<[string, (s: Record<string, any>) => unknown, string, string]> = [
    ['not an object', () => 'hello', 'NOT_OBJECT', '(state)'],
    ['null', () => null, 'NOT_OBJECT', '(state)'],
    ['an array', () => [], 'NOT_OBJECT', '(state)'],
    ['a wrong version', s => ({ ...s, v: 2 }), 'BAD_VERSION', 'v'],
    ['a missing coordinate', s => { delete s.coord; return s }, 'MISSING_FIELD', 'coord'],
    ['an unknown field', s => ({ ...s, extra: 1 }), 'UNKNOWN_FIELD', 'extra'],
    ['NaN in the coordinate', s => { s.coord.vec[3] = NaN; return s }, 'NOT_FINITE', 'coord.vec[3]'],
    ['Infinity as height', s => { s.coord.height = Infinity; return s }, 'NOT_FINITE', 'coord.height'],
    ['a huge coordinate', s => { s.coord.vec[0] = 1e12; return s }, 'OUT_OF_RANGE', 'coord.vec[0]'],
    ['a negative height', s => { s.coord.height = -1; return s }, 'OUT_OF_RANGE', 'coord.height'],
    ['a string component', s => { s.coord.vec[0] = '1'; return s }, 'WRONG_TYPE', 'coord.vec[0]'],
    ['wrong coordinate dimensions', s => { s.coord.vec.push(0); return s }, 'WRONG_DIMENSIONS', 'coord.vec'],
    ['wrong factor rank', s => { s.factors.in = [0]; return s }, 'WRONG_DIMENSIONS', 'factors.in'],
    ['a huge factor', s => { s.factors.outBias = 1e9; return s }, 'OUT_OF_RANGE', 'factors.outBias'],
    ['NaN error', s => { s.err.factors = NaN; return s }, 'NOT_FINITE', 'err.factors'],
    ['too many samples', s => { s.samples = Array.from({ length: 33 }, (_, i) => ({ peer: `p${i}`, ms: 10, n: 1 })); return s }, 'TOO_MANY_SAMPLES', 'samples'],
    ['a zero RTT sample', s => { s.samples = [{ peer: 'A', ms: 0, n: 1 }]; return s }, 'OUT_OF_RANGE', 'samples[0].ms'],
    ['an RTT sample above the cap', s => { s.samples = [{ peer: 'A', ms: 1e6, n: 1 }]; return s }, 'OUT_OF_RANGE', 'samples[0].ms'],
    ['an empty peer id', s => { s.samples = [{ peer: '', ms: 5, n: 1 }]; return s }, 'WRONG_TYPE', 'samples[0].peer'],
    ['a fractional sample count', s => { s.samples = [{ peer: 'A', ms: 5, n: 1.5 }]; return s }, 'WRONG_TYPE', 'samples[0].n'],
    ['samples not an array', s => ({ ...s, samples: {} }), 'WRONG_TYPE', 'samples']
  ]
  for (const [name, mutate, code, field] of cases) {
    it(`rejects ${name} with ${code} naming ${field}`, () => {
      const check = validateRemoteState(mutate(base()), a.limits)
      assert.equal(check.ok, false)
      if (check.ok) return
      assert.equal(check.code, code)
      assert.equal(check.field, field)
      assert.ok(check.message.includes(field))
    })
  }

  it('hear() drops a bad state without touching what it knew', () => {
    const e = createLatencyEstimator({ selfId: 'A', seed: 1, now: () => 0 })
    const b = createLatencyEstimator({ selfId: 'B', seed: 2, now: () => 0 })
    assert.equal(e.hear('B', b.publicState()).ok, true)
    const before = e.estimate('B')
    const bad = valid(b) as any
    bad.coord.vec[0] = NaN
    const check = e.hear('B', bad)
    assert.equal(check.ok, false)
    assert.deepEqual(e.estimate('B'), before)
  })
})

describe('latency/estimator: answers', () => {
  it('a fresh direct median wins; once stale, an estimate from gossip takes over', () => {
    const clock = clockAt()
    const a = createLatencyEstimator({ selfId: 'A', seed: 1, now: clock.now, freshMs: 60_000 })
    const b = createLatencyEstimator({ selfId: 'B', seed: 2, now: clock.now })
    a.hear('B', b.publicState())
    for (const ms of [40, 44, 41]) a.observe('B', ms)
    const m = a.estimate('B')
    assert.equal(m?.source, 'measured')
    assert.equal(m?.ms, 41)
    assert.equal(m?.errorMs, 2)
    const model = a.estimate('B', { modelOnly: true })
    assert.equal(model?.source, 'estimated')
    assert.equal(a.direct('B')?.medianMs, 41)
    clock.advance(61_000)
    const e = a.estimate('B')
    assert.equal(e?.source, 'estimated')
    assert.ok(e !== undefined && e.ms > 0 && Number.isFinite(e.ms) && e.errorMs >= 0 && e.confidence > 0 && e.confidence <= 1)
  })

  it('knows nothing of an unknown peer, and 0 ms to itself', () => {
    const a = createLatencyEstimator({ selfId: 'A', seed: 1, now: () => 0 })
    assert.equal(a.estimate('Z'), undefined)
    assert.equal(a.estimate('A')?.ms, 0)
  })

  it('rejects bad RTT samples with InvalidRttError and clamps huge ones to maxRttMs', () => {
    const a = createLatencyEstimator({ selfId: 'A', seed: 1, now: () => 0 })
    for (const bad of [NaN, Infinity, -1, 0, '5' as unknown as number]) {
      assert.throws(() => a.observe('B', bad), (err: Error) => err instanceof InvalidRttError && (err as InvalidRttError).code === 'LATENCY_INVALID_RTT')
    }
    assert.equal(a.stats().probes, 0)
    a.observe('B', 60_000)
    assert.equal(a.direct('B')?.medianMs, 10_000)
    assert.equal(a.stats().clampedSamples, 1)
  })

  it('rejects bad options with LatencyConfigError naming the field', () => {
    assert.throws(() => createLatencyEstimator({ selfId: '', seed: 1 }), (e: Error) => e instanceof LatencyConfigError && (e as LatencyConfigError).field === 'selfId')
    assert.throws(() => createLatencyEstimator({ selfId: 'A', seed: NaN }), (e: Error) => e instanceof LatencyConfigError && (e as LatencyConfigError).field === 'seed')
    assert.throws(() => createLatencyEstimator({ selfId: 'A', seed: 1, dimensions: 0 }), (e: Error) => e instanceof LatencyConfigError && (e as LatencyConfigError).field === 'dimensions')
    assert.throws(() => createLatencyEstimator({ selfId: 'A', seed: 1, predictors: [] }), (e: Error) => e instanceof LatencyConfigError && (e as LatencyConfigError).field === 'predictors')
  })

  it('stays bounded: at most maxPeers peers tracked, at most maxDigest samples published', () => {
    const a = createLatencyEstimator({ selfId: 'A', seed: 1, now: () => 0, maxPeers: 20, maxDigest: 8 })
    const other = createLatencyEstimator({ selfId: 'X', seed: 3, now: () => 0 }).publicState()
    for (let i = 0; i < 100; i++) {
      a.hear(`P${i}`, other)
      a.observe(`P${i}`, 10 + i)
    }
    const s = a.stats()
    assert.ok(s.peersTracked <= 20 && s.directPeers <= 20, JSON.stringify(s))
    assert.ok(a.peers().length <= 40)
    const pub = a.publicState()
    assert.equal(pub.samples.length, 8)
    // newest first
    assert.equal(pub.samples[0].peer, 'P99')
    assert.equal(validateRemoteState(pub, { ...a.limits, maxDigest: 8 }).ok, true)
    assert.ok(JSON.stringify(pub).length < 2000)
  })

  it('publishes a digest of news: with changedSince only medians measured since, at most maxSamples', () => {
    const a = createLatencyEstimator({ selfId: 'A', seed: 1, now: () => 0 })
    for (let i = 0; i < 20; i++) a.observe(`P${i}`, 10 + i)
    const first = a.publicState({ changedSince: new Map(), maxSamples: 8 })
    assert.deepEqual(first.samples.map(s => s.peer), ['P19', 'P18', 'P17', 'P16', 'P15', 'P14', 'P13', 'P12'])
    const sent = new Map(first.samples.map(s => [s.peer, s.n]))
    // the rest follow in the next messages, oldest news last
    assert.deepEqual(a.publicState({ changedSince: sent, maxSamples: 8 }).samples.map(s => s.peer), ['P11', 'P10', 'P9', 'P8', 'P7', 'P6', 'P5', 'P4'])
    for (let i = 4; i < 20; i++) sent.set(`P${i}`, 1)
    assert.deepEqual(a.publicState({ changedSince: sent, maxSamples: 8 }).samples.map(s => s.peer), ['P3', 'P2', 'P1', 'P0'])
    for (let i = 0; i < 4; i++) sent.set(`P${i}`, 1)
    assert.deepEqual(a.publicState({ changedSince: sent }).samples, [])
    // a peer measured again is news again
    a.observe('P7', 17)
    assert.deepEqual(a.publicState({ changedSince: sent }).samples.map(s => [s.peer, s.n]), [['P7', 2]])
    // without options: every fresh median, up to maxDigest (what simulations and /v1/latency use)
    assert.equal(a.publicState().samples.length, 20)
  })

  it('merges a digest of news into the earlier ones (news first, bounded) and compacts a state for the wire', () => {
    const prev = [{ peer: 'B', ms: 10, n: 1 }, { peer: 'C', ms: 20, n: 1 }, { peer: 'D', ms: 30, n: 1 }]
    assert.deepEqual(mergeDigest([{ peer: 'C', ms: 21, n: 2 }], prev, 32), [{ peer: 'C', ms: 21, n: 2 }, { peer: 'B', ms: 10, n: 1 }, { peer: 'D', ms: 30, n: 1 }])
    assert.deepEqual(mergeDigest([{ peer: 'E', ms: 5, n: 1 }], prev, 2).map(s => s.peer), ['E', 'B'])
    assert.deepEqual(mergeDigest([], prev, 32), prev)
    const a = createLatencyEstimator({ selfId: 'A', seed: 1, now: () => 0 })
    const b = createLatencyEstimator({ selfId: 'B', seed: 2, now: () => 0 })
    for (let i = 0; i < 30; i++) {
      a.hear('B', b.publicState())
      a.observe('B', 12.345678901 + (i % 3))
      b.hear('A', a.publicState())
      b.observe('A', 12.345678901 + (i % 3))
    }
    a.observe('Q', 0.0001)
    const full = a.publicState()
    const wire = compactState(full)
    assert.equal(validateRemoteState(wire, a.limits).ok, true)
    assert.ok(JSON.stringify(wire).length < JSON.stringify(full).length * 0.7, `${JSON.stringify(wire).length} vs ${JSON.stringify(full).length}`)
    for (let i = 0; i < full.coord.vec.length; i++) assert.ok(Math.abs(wire.coord.vec[i] - full.coord.vec[i]) <= 5e-4)
    // what the receiver predicts from the compact state is the same to well under a microsecond per ms
    const viaFull = createLatencyEstimator({ selfId: 'C', seed: 3, now: () => 0 })
    const viaWire = createLatencyEstimator({ selfId: 'C', seed: 3, now: () => 0 })
    viaFull.hear('A', full)
    viaWire.hear('A', wire)
    const e1 = viaFull.estimate('A')?.ms ?? NaN
    const e2 = viaWire.estimate('A')?.ms ?? NaN
    assert.ok(Math.abs(e1 - e2) < 0.01 * Math.max(1, e1), `${e1} vs ${e2}`)
  })

  it('learns its in-part from peers that publish samples of it, once per new sample', () => {
    const a = createLatencyEstimator({ selfId: 'A', seed: 1, now: () => 0 })
    const b = createLatencyEstimator({ selfId: 'B', seed: 2, now: () => 0 })
    a.hear('B', b.publicState())
    b.hear('A', a.publicState())
    b.observe('A', 80)
    const inBefore = a.publicState().factors.inBias
    a.hear('B', b.publicState())
    const inAfter = a.publicState().factors.inBias
    assert.notEqual(inAfter, inBefore)
    a.hear('B', b.publicState())
    assert.equal(a.publicState().factors.inBias, inAfter, 'a repeated digest must not count again')
  })

  it('estimateBetween uses a published direct sample, else the models', () => {
    const a = createLatencyEstimator({ selfId: 'A', seed: 1, now: () => 0 })
    const b = createLatencyEstimator({ selfId: 'B', seed: 2, now: () => 0 })
    const c = createLatencyEstimator({ selfId: 'C', seed: 3, now: () => 0 })
    b.hear('C', c.publicState())
    b.observe('C', 33)
    const sb: LatencyState = b.publicState()
    const sc: LatencyState = c.publicState()
    const direct = a.estimateBetween(sb, sc, 'C')
    assert.equal(direct.source, 'measured')
    assert.equal(direct.ms, 33)
    const model = a.estimateBetween(sc, sb)
    assert.equal(model.source, 'estimated')
    assert.ok(model.ms > 0 && Number.isFinite(model.ms))
  })

  it('is deterministic: same seed and inputs, same published state', () => {
    const run = (): LatencyState => {
      const a = createLatencyEstimator({ selfId: 'A', seed: 77, now: () => 0 })
      const b = createLatencyEstimator({ selfId: 'B', seed: 78, now: () => 0 })
      for (let i = 0; i < 30; i++) {
        a.hear('B', b.publicState())
        b.hear('A', a.publicState())
        a.observe('B', 50 + (i % 5))
        b.observe('A', 60 - (i % 3))
      }
      return a.publicState()
    }
    assert.deepEqual(run(), run())
  })
})
