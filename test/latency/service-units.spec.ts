import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { createLatencyEstimator } from '../../src/latency/index.js'
import {
  SenderRateLimiter, RttWindows, nearestRank, createGossipValidator, LATENCY_TOPIC
} from '../../src/latency/service/index.js'
import { pickProbeTargets, forEachLimited, seedFromString } from '../../src/latency/service/probe-targets.js'
import { Periodic, jittered } from '../../src/latency/service/periodic.js'
import { waitFor } from '../helpers/wait.js'
import type { Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { LatencyState } from '../../src/latency/index.js'

describe('latency/service: token bucket', () => {
  it('allows a burst, then one message per refill interval', () => {
    const rl = new SenderRateLimiter({ burst: 3, refillMs: 3000 })
    assert.deepEqual([0, 1, 2, 3].map(() => rl.take('a', 1000)), [true, true, true, false])
    assert.equal(rl.take('b', 1000), true, 'buckets are per sender')
    assert.equal(rl.take('a', 3999), false, 'not yet refilled')
    assert.equal(rl.take('a', 4000), true, 'one token after refillMs')
    assert.equal(rl.take('a', 4001), false)
    // a long silence refills at most `burst` tokens
    assert.deepEqual([0, 1, 2, 3].map(() => rl.take('a', 1_000_000)), [true, true, true, false])
  })

  it('a clock stepping back refills nothing, and memory is bounded', () => {
    const rl = new SenderRateLimiter({ burst: 1, refillMs: 1000, maxSenders: 4 })
    assert.equal(rl.take('a', 10_000), true)
    assert.equal(rl.take('a', 0), false)
    for (let i = 0; i < 100; i++) rl.take(`s${i}`, 10_000)
    assert.ok(rl.size <= 4, `tracks at most 4 senders, has ${rl.size}`)
  })

  it('rejects a bad configuration', () => {
    assert.throws(() => new SenderRateLimiter({ burst: 0, refillMs: 1 }), RangeError)
    assert.throws(() => new SenderRateLimiter({ burst: 1, refillMs: Number.NaN }), RangeError)
  })
})

describe('latency/service: rtt windows and probe targets', () => {
  it('keeps the last samples per peer and reports nearest-rank p50/p95', () => {
    const w = new RttWindows(20, 8)
    for (let i = 1; i <= 25; i++) w.push('p', i) // keeps 6..25
    const q = w.quantiles('p')
    assert.deepEqual(q, { p50: 15, p95: 24, count: 20 })
    assert.equal(w.quantiles('other'), undefined)
    assert.equal(nearestRank([7], 0.95), 7)
  })

  it('evicts the least recently probed peer when full and says which', () => {
    const w = new RttWindows(3, 2)
    assert.equal(w.push('a', 1), undefined)
    assert.equal(w.push('b', 1), undefined)
    w.push('a', 2)
    assert.equal(w.push('c', 1), 'b')
    assert.deepEqual(w.peerIds().sort(), ['a', 'c'])
  })

  it('rotates through all peers in id order, max per round', () => {
    const ids = ['e', 'c', 'a', 'd', 'b']
    let cursor = 0
    const seen: string[][] = []
    for (let r = 0; r < 3; r++) {
      const pick = pickProbeTargets(ids, cursor, 2)
      seen.push(pick.targets)
      cursor = pick.cursor
    }
    assert.deepEqual(seen, [['a', 'b'], ['c', 'd'], ['e', 'a']])
    assert.deepEqual(pickProbeTargets([], 5, 8), { targets: [], cursor: 0 })
    assert.deepEqual(pickProbeTargets(['x', 'y'], 7, 8).targets, ['y', 'x'], 'a stale cursor wraps')
  })

  it('forEachLimited never has more than `limit` calls in flight', async () => {
    let inFlight = 0
    let peak = 0
    const done: number[] = []
    await forEachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (x) => {
      inFlight++
      peak = Math.max(peak, inFlight)
      await new Promise(resolve => setImmediate(resolve))
      done.push(x)
      inFlight--
    })
    assert.equal(peak, 3)
    assert.deepEqual(done.sort(), [1, 2, 3, 4, 5, 6, 7])
  })

  it('forEachLimited: a rejection stops the other lanes taking items and the run rejects with it', async () => {
    const started: number[] = []
    const finished: number[] = []
    // item 1 fails once item 2 is running; item 2 finishes two event-loop turns later
    let twoStarted!: () => void
    const twoRunning = new Promise<void>(resolve => { twoStarted = resolve })
    await assert.rejects(forEachLimited([0, 1, 2, 3, 4, 5, 6, 7], 2, async (x, i) => {
      assert.equal(x, i)
      started.push(x)
      if (x === 1) {
        await twoRunning
        throw new Error('item 1 failed')
      }
      if (x === 2) {
        twoStarted()
        for (let turn = 0; turn < 2; turn++) await new Promise(resolve => setImmediate(resolve))
      }
      finished.push(x)
    }), /item 1 failed/)
    // lanes took 0 and 1, then 2 (after 0); once 1 failed nothing more was taken, and the run
    // answered only after the call in flight (2) was done: no work goes on behind the caller
    assert.deepEqual(started.sort(), [0, 1, 2])
    assert.deepEqual(finished.sort(), [0, 2])
  })

  it('jitter stays within its band and seeds are stable', () => {
    for (const r of [0, 0.5, 0.999]) {
      const d = jittered(1000, 0.2, () => r)
      assert.ok(d >= 800 && d <= 1200, `${d}`)
    }
    assert.equal(seedFromString('12D3KooWabc'), seedFromString('12D3KooWabc'))
    assert.notEqual(seedFromString('12D3KooWabc'), seedFromString('12D3KooWabd'))
  })
})

describe('latency/service: Periodic', () => {
  // stopped even when a test fails early: a live Periodic would keep mocha (exit: false) running
  const periodics: Periodic[] = []
  afterEach(async () => { await Promise.all(periodics.splice(0).map(async p => { await p.stop() })) })

  it('runs repeatedly and stop() clears the timer and aborts the run in flight', async () => {
    let runs = 0
    let sawAbort = false
    let release!: () => void
    const blocked = new Promise<void>(resolve => { release = resolve })
    const p = new Periodic(async (signal) => {
      runs++
      if (runs === 3) {
        signal.addEventListener('abort', () => { sawAbort = true; release() })
        await blocked
      }
    }, { nextDelayMs: () => 1, firstDelayMs: 0, timeoutMs: 60_000, onError: () => {} })
    periodics.push(p)
    p.start()
    await waitFor('Periodic to run 3 times', () => runs >= 3, { timeoutMs: 10_000, intervalMs: 1 })
    assert.equal(p.active, true)
    await p.stop()
    assert.equal(sawAbort, true, 'the run in flight saw its signal abort')
    assert.equal(p.active, false, 'no timer and no run left after stop()')
    assert.equal(runs, 3)
  })

  it('reports a failing run and keeps going', async () => {
    const errors: unknown[] = []
    let runs = 0
    const p = new Periodic(async () => { runs++; throw new Error('boom') }, { nextDelayMs: () => 1, firstDelayMs: 0, timeoutMs: 1000, onError: (e) => errors.push(e) })
    periodics.push(p)
    p.start()
    await waitFor('Periodic to run again after a failure', () => runs >= 2, { timeoutMs: 10_000, intervalMs: 1 })
    await p.stop()
    assert.ok(errors.length >= 1)
    assert.equal((errors[0] as Error).message, 'boom')
  })
})

describe('latency/service: gossip validator', () => {
  let sender: PeerId
  let other: PeerId
  const selfId = 'self-peer'

  before(async () => {
    sender = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  })

  function signed (from: PeerId, data: Uint8Array | string): Message {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
    return { type: 'signed', from, topic: LATENCY_TOPIC, data: bytes, sequenceNumber: 1n, signature: new Uint8Array(64), key: from.publicKey as never }
  }

  function setup (burst = 100): { validate: ReturnType<typeof createGossipValidator>, drops: string[], accepted: Array<[string, LatencyState]>, good: LatencyState, clock: { t: number } } {
    const est = createLatencyEstimator({ selfId, seed: 1 })
    const remote = createLatencyEstimator({ selfId: 'remote', seed: 2 })
    const drops: string[] = []
    const accepted: Array<[string, LatencyState]> = []
    const clock = { t: 0 }
    const validate = createGossipValidator({
      selfId,
      limits: est.limits,
      maxBytes: 16_384,
      limiter: new SenderRateLimiter({ burst, refillMs: 3000 }),
      now: () => clock.t,
      accept: (from, state) => accepted.push([from, state]),
      onDrop: (reason) => drops.push(reason)
    })
    return { validate, drops, accepted, good: remote.publicState(), clock }
  }

  it('accepts a signed, well-formed state and hands it on once validated', () => {
    const { validate, drops, accepted, good } = setup()
    assert.equal(validate(sender, signed(sender, JSON.stringify(good))), TopicValidatorResult.Accept)
    assert.deepEqual(drops, [])
    assert.equal(accepted.length, 1)
    assert.equal(accepted[0][0], sender.toString())
    assert.deepEqual(accepted[0][1], good)
  })

  it('rejects unsigned, oversized, non-JSON and invalid states, naming the reason', () => {
    const { validate, drops, accepted, good } = setup()
    const unsigned: Message = { type: 'unsigned', topic: LATENCY_TOPIC, data: new TextEncoder().encode(JSON.stringify(good)) }
    assert.equal(validate(sender, unsigned), TopicValidatorResult.Reject)
    assert.equal(validate(sender, signed(sender, new Uint8Array(16_385))), TopicValidatorResult.Reject)
    assert.equal(validate(sender, signed(sender, '{"v":1,')), TopicValidatorResult.Reject)
    assert.equal(validate(sender, signed(sender, new Uint8Array([0xff, 0xfe, 0x7b]))), TopicValidatorResult.Reject)
    // NaN has no JSON spelling: a literal NaN is not JSON, a null is the wrong type
    const nanLiteral = JSON.stringify(good).replace(/"height":[^,]+/, '"height":NaN')
    assert.equal(validate(sender, signed(sender, nanLiteral)), TopicValidatorResult.Reject)
    const withNull = { ...good, coord: { ...good.coord, vec: good.coord.vec.map((x, i) => i === 0 ? null : x) } }
    assert.equal(validate(sender, signed(sender, JSON.stringify(withNull))), TopicValidatorResult.Reject)
    const huge = { ...good, coord: { ...good.coord, height: 1e300 } }
    assert.equal(validate(sender, signed(sender, JSON.stringify(huge))), TopicValidatorResult.Reject)
    const wrongDims = { ...good, coord: { ...good.coord, vec: [1, 2, 3] } }
    assert.equal(validate(sender, signed(sender, JSON.stringify(wrongDims))), TopicValidatorResult.Reject)
    const extra = { ...good, evil: true }
    assert.equal(validate(sender, signed(sender, JSON.stringify(extra))), TopicValidatorResult.Reject)
    assert.deepEqual(drops, ['unsigned', 'oversized', 'not-json', 'not-json', 'not-json', 'WRONG_TYPE', 'OUT_OF_RANGE', 'WRONG_DIMENSIONS', 'UNKNOWN_FIELD'])
    assert.equal(accepted.length, 0)
  })

  it('rate-limits per sender: excess is ignored (not rejected) and counted; other senders pass', () => {
    const { validate, drops, accepted, good, clock } = setup(3)
    const msg = (from: PeerId): Message => signed(from, JSON.stringify(good))
    const results = Array.from({ length: 10 }, () => validate(sender, msg(sender)))
    assert.deepEqual(results.slice(0, 3), [TopicValidatorResult.Accept, TopicValidatorResult.Accept, TopicValidatorResult.Accept])
    assert.ok(results.slice(3).every(r => r === TopicValidatorResult.Ignore))
    assert.equal(drops.filter(d => d === 'rate-limited').length, 7)
    assert.equal(validate(other, msg(other)), TopicValidatorResult.Accept, 'another sender is unaffected')
    clock.t += 3000
    assert.equal(validate(sender, msg(sender)), TopicValidatorResult.Accept, 'a token comes back after refillMs')
    assert.equal(accepted.length, 5)
  })

  it('an oversized message does not spend the sender\'s tokens', () => {
    const { validate, good } = setup(1)
    validate(sender, signed(sender, new Uint8Array(20_000)))
    assert.equal(validate(sender, signed(sender, JSON.stringify(good))), TopicValidatorResult.Accept)
  })
})
