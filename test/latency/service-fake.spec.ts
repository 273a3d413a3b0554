import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { createLatencyEstimator } from '../../src/latency/index.js'
import { createLatencyService, LATENCY_TOPIC } from '../../src/latency/service/index.js'
import { waitFor } from '../helpers/wait.js'
import type { LatencyService, LatencyServiceInit } from '../../src/latency/service/index.js'
import type { Message, TopicValidatorFn } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

/** The narrow slice of libp2p the service uses, with pings the test controls. */
class FakeLibp2p extends EventTarget {
  connected: PeerId[] = []
  published: Uint8Array[] = []
  pingCalls = 0
  pingImpl: (peer: PeerId, options: { signal?: AbortSignal }) => Promise<number> = async () => 10
  readonly topicValidators = new Map<string, TopicValidatorFn>()
  readonly subscriptions = new Set<string>()
  constructor (readonly peerId: PeerId) { super() }
  getPeers (): PeerId[] { return this.connected }
  // no connection with a muxer that pings: probes use the ping service above
  getConnections (): [] { return [] }
  readonly services = {
    ping: { ping: async (peer: PeerId, options: { signal?: AbortSignal } = {}) => { this.pingCalls++; return await this.pingImpl(peer, options) } },
    pubsub: {
      topicValidators: this.topicValidators,
      subscribe: (t: string) => { this.subscriptions.add(t) },
      unsubscribe: (t: string) => { this.subscriptions.delete(t) },
      publish: async (_t: string, data: Uint8Array) => { this.published.push(data); return { recipients: [] } }
    }
  }
}

async function newPeerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

describe('latency/service: driver logic against a fake libp2p', function () {
  this.timeout(20_000)
  let self: PeerId
  let a: PeerId
  let b: PeerId
  const started: LatencyService[] = []

  before(async () => {
    [self, a, b] = await Promise.all([newPeerId(), newPeerId(), newPeerId()])
  })

  afterEach(async () => {
    await Promise.all(started.splice(0).map(async s => { await s.stop() }))
  })

  function make (init: LatencyServiceInit = {}): { fake: FakeLibp2p, service: LatencyService, registry: Registry } {
    const fake = new FakeLibp2p(self)
    const registry = new Registry()
    // long intervals: the tests drive probes themselves unless they ask for rounds
    const service = createLatencyService({ libp2p: fake as never, metrics: registry, logger: pino({ level: 'silent' }) }, { probeIntervalMs: 60_000, gossipIntervalMs: 60_000, seed: 1, ...init })
    return { fake, service, registry }
  }

  async function start (s: LatencyService): Promise<void> {
    started.push(s)
    await s.start()
  }

  it('rejects bad settings with a LatencyConfigError naming the field', () => {
    for (const [init, field] of [
      [{ probeIntervalMs: 0 }, 'probeIntervalMs'],
      [{ gossipIntervalMs: Number.NaN }, 'gossipIntervalMs'],
      [{ maxProbesPerRound: 1.5 }, 'maxProbesPerRound'],
      [{ jitter: 1 }, 'jitter'],
      [{ rateLimit: { burst: 0 } }, 'rateLimit.burst'],
      [{ rateLimit: { refillMs: -1 } }, 'rateLimit.refillMs'],
      [{ minOfPings: 5, windowSize: 3 }, 'windowSize']
    ] as Array<[LatencyServiceInit, string]>) {
      assert.throws(() => make(init), (err: Error & { field?: string }) => err.name === 'LatencyConfigError' && err.field === field, field)
    }
  })

  it('shares one ping between concurrent probes of the same peer, and retries when the ping stream is busy', async () => {
    const { fake, service } = make()
    await start(service)
    let release!: (ms: number) => void
    fake.pingImpl = async () => await new Promise<number>(resolve => { release = resolve })
    const p1 = service.probe(a.toString())
    const p2 = service.probe(a.toString())
    await waitFor('the ping started', () => fake.pingCalls === 1, { intervalMs: 5 })
    release(42)
    assert.deepEqual(await Promise.all([p1, p2]), [42, 42])
    assert.equal(fake.pingCalls, 1)

    let calls = 0
    fake.pingImpl = async () => {
      if (++calls < 3) throw Object.assign(new Error('Too many outbound protocol streams'), { name: 'TooManyOutboundProtocolStreamsError' })
      return 30
    }
    assert.equal(await service.probe(a.toString()), 30)
    assert.equal(calls, 3)

    fake.pingImpl = async () => { throw new Error('connection reset') }
    await assert.rejects(service.probe(b.toString()), { name: 'ProbeFailedError', code: 'LATENCY_PROBE_FAILED' })
    assert.equal(service.stats().probesFailed, 1)
    // a 0 ms loopback reading is kept as 0.5 ms, not an error
    fake.pingImpl = async () => 0
    assert.equal(await service.probe(b.toString()), 0.5)
  })

  it('a caller\'s abort rejects its probe without cancelling the shared ping', async () => {
    const { fake, service } = make()
    await start(service)
    let release!: (ms: number) => void
    fake.pingImpl = async () => await new Promise<number>(resolve => { release = resolve })
    const controller = new AbortController()
    const impatient = service.probe(a.toString(), { signal: controller.signal })
    const patient = service.probe(a.toString())
    controller.abort(new Error('caller gave up'))
    await assert.rejects(impatient, /caller gave up/)
    await waitFor('the ping started', () => fake.pingCalls === 1, { intervalMs: 5 })
    release(12)
    assert.equal(await patient, 12)
  })

  it('probes connected peers in rounds, exports p50/p95, and drops a peer\'s series on disconnect', async () => {
    const { fake, service, registry } = make({ probeIntervalMs: 20, maxProbesPerRound: 1 })
    fake.connected = [a, b]
    const rtts = new Map([[a.toString(), 10], [b.toString(), 50]])
    fake.pingImpl = async (peer) => rtts.get(peer.toString()) ?? 1
    await start(service)
    await waitFor('both peers probed in rotation', () => service.rttMs(a.toString()) === 10 && service.rttMs(b.toString()) === 50, { intervalMs: 10 })
    const text = await registry.metrics()
    assert.match(text, new RegExp(`dcis_latency_rtt_seconds\\{peer="${b.toString()}",stat="p95"\\} 0.05`))
    fake.connected = [a]
    fake.dispatchEvent(new CustomEvent('peer:disconnect', { detail: b }))
    assert.doesNotMatch(await registry.metrics(), new RegExp(b.toString()))
    const est = service.estimate(a.toString())
    assert.equal(est?.source, 'measured')
    assert.equal(est?.ms, 10)
    const summary = service.latencySummary()
    assert.ok(summary !== null && Object.keys(summary).length <= 16)
  })

  it('has no END summary before the first probe; publishes its state once probed', async () => {
    const { fake, service } = make({ gossipIntervalMs: 20, probeIntervalMs: 20 })
    assert.equal(service.latencySummary(), null)
    await start(service)
    assert.equal(fake.subscriptions.has(LATENCY_TOPIC), true)
    assert.equal(fake.published.length, 0)
    fake.connected = [a]
    await waitFor('a state published after the first probe', () => fake.published.length > 0, { intervalMs: 10 })
    const state = JSON.parse(new TextDecoder().decode(fake.published[0])) as { v: number, samples: Array<{ peer: string }> }
    assert.equal(state.v, 1)
    assert.ok(fake.published[0].byteLength <= 16_384)
  })

  it('forgets gossiped states not refreshed within stateTtlMs (unless connected)', async () => {
    const clock = { t: 1_000_000 }
    const { fake, service } = make({ gossipIntervalMs: 20, stateTtlMs: 10_000, now: () => clock.t })
    await start(service)
    const validate = fake.topicValidators.get(LATENCY_TOPIC)
    assert.ok(validate !== undefined)
    const state = createLatencyEstimator({ selfId: b.toString(), seed: 3 }).publicState()
    const msg: Message = { type: 'signed', from: b, topic: LATENCY_TOPIC, data: new TextEncoder().encode(JSON.stringify(state)), sequenceNumber: 1n, signature: new Uint8Array(64), key: b.publicKey as never }
    assert.equal(await validate(b, msg), TopicValidatorResult.Accept)
    assert.equal(service.stats().heardPeers, 1)
    assert.ok(service.map().peers.some(p => p.peerId === b.toString()))
    clock.t += 10_001
    await waitFor('the stale state swept', () => service.stats().heardPeers === 0, { intervalMs: 10 })
    assert.ok(!service.map().peers.some(p => p.peerId === b.toString()))
  })

  it('stop() stops the loops, removes validator and subscription, and is idempotent', async () => {
    const { fake, service } = make({ probeIntervalMs: 10, gossipIntervalMs: 10 })
    fake.connected = [a]
    await start(service) // afterEach stops it if an assertion fails first
    await waitFor('some rounds', () => service.stats().probeRounds >= 2, { intervalMs: 5 })
    await service.stop()
    assert.equal(service.busy, false)
    assert.equal(fake.topicValidators.size, 0)
    assert.equal(fake.subscriptions.size, 0)
    await service.stop()
  })
  it('adaptive: stable rounds double the probe interval up to the cap; a new neighbour resets it', async () => {
    const { fake, service } = make({ probeIntervalMs: 10, maxProbeIntervalMs: 80, gossipIntervalMs: 60_000, jitter: 0 })
    fake.connected = [a]
    fake.pingImpl = async () => 10
    await start(service)
    const interval = (): number => (service as unknown as { probeIntervalMs: number }).probeIntervalMs
    await waitFor('the interval backed off to the cap', () => interval() === 80, { intervalMs: 5, timeoutMs: 10_000 })
    fake.connected = [a, b]
    fake.dispatchEvent(new CustomEvent('peer:connect', { detail: b }))
    assert.equal(interval(), 10)
    // an RTT far off its band is news too
    await waitFor('backed off again', () => interval() >= 40, { intervalMs: 5, timeoutMs: 10_000 })
    fake.pingImpl = async () => 200
    await waitFor('reset by the jump', () => interval() === 10, { intervalMs: 5, timeoutMs: 10_000 })
  })

  it('adaptive: gossip goes out when the state changed or the heartbeat is due, not every round', async () => {
    const clock = { t: 1_000_000 }
    const { fake, service } = make({ probeIntervalMs: 60_000, gossipIntervalMs: 10, maxGossipIntervalMs: 5_000, now: () => clock.t })
    fake.connected = [a]
    fake.pingImpl = async () => 10
    await start(service)
    for (let i = 0; i < 5; i++) await service.probe(a.toString())
    await waitFor('a first publication', () => fake.published.length >= 1, { intervalMs: 5 })
    // several gossip rounds with nothing new: the coordinate settles, publications stop
    await waitFor('a quiet stretch', async () => {
      const n = fake.published.length
      await new Promise(resolve => setTimeout(resolve, 100))
      return fake.published.length === n
    }, { intervalMs: 1, timeoutMs: 10_000 })
    const quiet = fake.published.length
    // the heartbeat is due: one more
    clock.t += 5_001
    await waitFor('the heartbeat publication', () => fake.published.length > quiet, { intervalMs: 5 })
    // a new measured peer changes the state: published without waiting for the heartbeat
    const afterBeat = fake.published.length
    fake.connected = [a, b]
    await service.probe(b.toString())
    await waitFor('a publication for the new peer', () => fake.published.length > afterBeat, { intervalMs: 5 })
  })

  it('publishes only the medians measured since its last message, and merges what it hears into the sender\'s earlier view', async () => {
    const { fake, service } = make({ probeIntervalMs: 60_000, gossipIntervalMs: 60_000, digestSize: 2 })
    const peers = await Promise.all(Array.from({ length: 3 }, newPeerId))
    fake.connected = peers
    await start(service)
    const digests = async (): Promise<string[][]> => {
      const before = fake.published.length
      await service.publish()
      return fake.published.slice(before).map(m => (JSON.parse(new TextDecoder().decode(m)) as { samples: Array<{ peer: string }> }).samples.map(s => s.peer))
    }
    for (const p of peers) await service.probe(p.toString())
    const ids = peers.map(p => p.toString())
    // three measured peers, two per message: newest first, the third next, then nothing new
    assert.deepEqual(await digests(), [[ids[2], ids[1]]])
    assert.deepEqual(await digests(), [[ids[0]]])
    assert.deepEqual(await digests(), [[]])
    await service.probe(ids[1])
    assert.deepEqual(await digests(), [[ids[1]]])
    // the receiving side: a sender's digests accumulate (news first), so it still answers for pairs it reported earlier
    const validate = fake.topicValidators.get(LATENCY_TOPIC)
    assert.ok(validate !== undefined)
    const sender = createLatencyEstimator({ selfId: ids[0], seed: 5 })
    sender.observe(ids[1], 30)
    sender.observe(ids[2], 40)
    const send = async (state: unknown): Promise<void> => {
      const msg: Message = { type: 'signed', from: peers[0], topic: LATENCY_TOPIC, data: new TextEncoder().encode(JSON.stringify(state)), sequenceNumber: 1n, signature: new Uint8Array(64), key: peers[0].publicKey as never }
      assert.equal(await validate(peers[0], msg), TopicValidatorResult.Accept)
    }
    await send(sender.publicState({ changedSince: new Map([[ids[2], 1]]) }))
    await send(sender.publicState({ changedSince: new Map([[ids[1], 1]]) }))
    assert.equal(service.estimateBetween(ids[0], ids[1])?.ms, 30)
    assert.equal(service.estimateBetween(ids[0], ids[2])?.ms, 40)
  })

  it('adaptive: false publishes every round (the old cadence)', async () => {
    const { fake, service } = make({ probeIntervalMs: 60_000, gossipIntervalMs: 10, adaptive: false })
    fake.connected = [a]
    await start(service)
    await service.probe(a.toString())
    await waitFor('several publications', () => fake.published.length >= 4, { intervalMs: 5 })
  })
  it('adaptive: the gossip interval grows with the peers heard (each peer receives about the same), capped below the state TTL', async () => {
    const { fake, service } = make({ gossipIntervalMs: 1_000, stateTtlMs: 20_000 })
    await start(service)
    const interval = (): number => (service as unknown as { gossipIntervalMs: number }).gossipIntervalMs
    assert.equal(interval(), 1_000)
    const validate = fake.topicValidators.get(LATENCY_TOPIC)
    assert.ok(validate !== undefined)
    const peers = await Promise.all(Array.from({ length: 23 }, newPeerId))
    for (const p of peers) {
      const state = createLatencyEstimator({ selfId: p.toString(), seed: 3 }).publicState()
      const msg: Message = { type: 'signed', from: p, topic: LATENCY_TOPIC, data: new TextEncoder().encode(JSON.stringify(state)), sequenceNumber: 1n, signature: new Uint8Array(64), key: p.publicKey as never }
      assert.equal(await validate(p, msg), TopicValidatorResult.Accept)
    }
    // 23 heard + self = 24 = 3 x 8
    assert.equal(interval(), 3_000)
    const capped = make({ gossipIntervalMs: 1_000, stateTtlMs: 4_000 })
    await start(capped.service)
    const v2 = capped.fake.topicValidators.get(LATENCY_TOPIC)
    for (const p of peers) {
      const state = createLatencyEstimator({ selfId: p.toString(), seed: 3 }).publicState()
      await v2?.(p, { type: 'signed', from: p, topic: LATENCY_TOPIC, data: new TextEncoder().encode(JSON.stringify(state)), sequenceNumber: 1n, signature: new Uint8Array(64), key: p.publicKey as never })
    }
    assert.equal((capped.service as unknown as { gossipIntervalMs: number }).gossipIntervalMs, 2_000)
  })
})
