/**
 * Sink marks by dot (issue 18, "late log entries are never shipped"):
 * the mark algebra (src/sinks/marks.ts), and SinkService against replicas
 * made of real append-only-log CRDT states (src/crdt/alog.ts) with a
 * controlled clock and a real HTTP core receiver:
 * - a late entry (an HLC older than what was shipped, arriving after its
 *   window shipped) is shipped once, under its own key;
 * - a shipper that crashes between delivery and mark is replaced by one
 *   that re-ships the same keys (a late entry included);
 * - two shippers in a partition both ship; their marks merge at the heal
 *   (nothing is shipped again);
 * - retention that removes unshipped entries leaves no hole; the mark stays
 *   a version vector over thousands of entries;
 * - an old `cursor` mark is honoured; malformed marks are ignored.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { alog } from '../../src/crdt/index.js'
import type { ALog } from '../../src/crdt/index.js'
import { encodeCursor, parseCursor } from '../../src/crdt/replication/index.js'
import { SinkMarkError, SinkService, advanceMark, covers, emptyMark, joinMarks, parseMarkDoc, MAX_EXCEPTION_RANGES } from '../../src/sinks/index.js'
import type { SinkSourceBackend } from '../../src/sinks/index.js'
import { createLogger } from '../../src/telemetry/index.js'
import { CoreReceiver } from '../../examples/iot/core-receiver.js'
import { waitFor } from '../helpers/wait.js'

const INTERVAL = 1000
/** window 100 covers [100_000, 101_000) */
const W0 = 100

describe('sink marks: the algebra', function () {
  it('covers a prefix and exception ranges; absorbs ranges that touch the prefix', function () {
    let m = advanceMark(emptyMark(), [{ replica: 'a', counter: 1 }, { replica: 'a', counter: 2 }, { replica: 'a', counter: 5 }], new Map([['a', 3]]), new Map([['a', 4]]))
    assert.deepEqual(m, { upTo: { a: 3 }, x: { a: [[5, 5]] } })
    assert.ok(covers(m, 'a', 3) && covers(m, 'a', 5) && !covers(m, 'a', 4) && !covers(m, 'a', 6) && !covers(m, 'b', 1))
    // entry 4 ships later, 6 is seen and not an entry of this log (or trimmed): the prefix closes the gap
    m = advanceMark(m, [{ replica: 'a', counter: 4 }], new Map([['a', 6]]), new Map())
    assert.deepEqual(m, { upTo: { a: 6 }, x: {} })
  })

  it('never covers a dot not seen, nor one held for a later window', function () {
    const m = advanceMark(emptyMark(), [], new Map([['a', 10], ['b', 4]]), new Map([['a', 7]]))
    assert.deepEqual(m.upTo, { a: 6, b: 4 })
    assert.ok(!covers(m, 'a', 7) && !covers(m, 'b', 5))
  })

  it('joins by union (commutative, idempotent)', function () {
    const a = { upTo: { p: 4 }, x: { p: [[7, 8]] as Array<[number, number]>, q: [[3, 3]] as Array<[number, number]> } }
    const b = { upTo: { p: 6, q: 1 }, x: { q: [[5, 6]] as Array<[number, number]> } }
    const j = joinMarks(a, b)
    assert.deepEqual(j, { upTo: { p: 8, q: 1 }, x: { q: [[3, 3], [5, 6]] } })
    assert.deepEqual(joinMarks(b, a), j)
    assert.deepEqual(joinMarks(j, j), j)
  })

  it('keeps at most MAX_EXCEPTION_RANGES ranges (dropping one only re-ships it)', function () {
    const shipped = Array.from({ length: MAX_EXCEPTION_RANGES + 10 }, (_, i) => ({ replica: 'a', counter: 10 + 2 * i }))
    const m = advanceMark(emptyMark(), shipped, new Map(), new Map())
    assert.equal(m.x.a.length, MAX_EXCEPTION_RANGES)
    assert.ok(covers(m, 'a', 10) && !covers(m, 'a', 10 + 2 * (MAX_EXCEPTION_RANGES + 5)))
  })

  it('alog.readUncovered: entries no mark covers whatever their HLC; seen is the gap-free prefix; held is what waits', function () {
    let origin = alog.bottom()
    const deltas: ALog[] = []
    for (let i = 1; i <= 5; i++) {
      const d = alog.append(origin, 'a', [{ wall: 1000 * i, logical: 0 }], [`v${i}`])
      origin = alog.join(origin, d)
      deltas.push(d)
    }
    // a replica that got 1, 2, 3 and 5 (4 is still on its way)
    let s = alog.bottom()
    for (const i of [0, 1, 2, 4]) s = alog.join(s, deltas[i])
    const m = { upTo: { a: 1 }, x: {} }
    const r = alog.readUncovered(s, (p) => covers(m, p.replica, p.counter), { toMs: 3500 })
    assert.deepEqual(r.entries.map(e => e.value), ['v2', 'v3'])
    assert.deepEqual([...r.held], [['a', 5]])
    assert.deepEqual([...r.seen], [['a', 3]])
    const next = advanceMark(m, r.entries, r.seen, r.held)
    assert.deepEqual(next, { upTo: { a: 3 }, x: {} })
    // 4 arrives: older than 5, it is found
    s = alog.join(s, deltas[3])
    const r2 = alog.readUncovered(s, (p) => covers(next, p.replica, p.counter), {})
    assert.deepEqual(r2.entries.map(e => e.value), ['v4', 'v5'])
    assert.deepEqual(advanceMark(next, r2.entries, r2.seen, r2.held), { upTo: { a: 5 }, x: {} })
  })

  it('rejects malformed mark documents with a typed error', function () {
    for (const bad of ['', 'nope', '[]', '{"v":2,"window":1,"logs":{}}', '{"v":1,"window":"x","logs":{}}', '{"v":1,"window":1,"logs":[]}',
      '{"v":1,"window":1,"logs":{"l":{"upTo":{"a":-1}}}}', '{"v":1,"window":1,"logs":{"l":{"upTo":{},"x":{"a":[[5,3]]}}}}', '{"v":1,"window":1,"logs":{"l":{"upTo":{},"x":{"a":[1]}}}}']) {
      assert.throws(() => parseMarkDoc(bad), (err: Error) => err instanceof SinkMarkError && (err as SinkMarkError).code === 'SINK_MARK_INVALID', bad)
    }
    assert.deepEqual(parseMarkDoc('{"v":1,"window":3,"logs":{"l":{"upTo":{"a":2},"x":{"a":[[3,4],[9,9]]}}}}'), { v: 1, window: 3, logs: { l: { upTo: { a: 4 }, x: { a: [[9, 9]] } } } })
  })
})

/** one replica of the `fleet` service: a real alog CRDT state, a kv and sets (LWW by write time, add-wins sets) */
class Replica {
  log: ALog = alog.bottom()
  readonly kv = new Map<string, { value: string, at: number }>()
  readonly sets = new Map<string, Set<string>>()
  /** mark writes fail (a crash between delivery and mark) */
  failMarks = false
  private static writes = 0
  constructor (readonly id: string) {}

  /** appends one entry stamped `wall`; returns the delta (to deliver to other replicas, in any order) */
  append (value: string, wall: number): ALog {
    const d = alog.append(this.log, this.id, [{ wall, logical: 0 }], [value])
    this.log = alog.join(this.log, d)
    return d
  }

  receive (delta: ALog): void {
    this.log = alog.join(this.log, delta)
  }

  /** the heal of a partition: logs join, kv keeps the later write, sets union */
  heal (other: Replica): void {
    this.log = alog.join(this.log, other.log)
    for (const [k, v] of other.kv) if ((this.kv.get(k)?.at ?? -1) < v.at) this.kv.set(k, v)
    for (const [k, v] of other.sets) this.sets.set(k, new Set([...(this.sets.get(k) ?? []), ...v]))
  }

  backend (live: () => string[]): SinkSourceBackend & { readLog: unknown } {
    const record = (e: alog.LogEntry): { cursor: string, ts: { wall: number, logical: number }, replica: string, counter: number, value: string } =>
      ({ cursor: encodeCursor(e), ts: e.ts, replica: e.replica, counter: e.counter, value: e.value as string })
    return {
      has: () => true,
      isLocal: () => true,
      status: async () => ({ spec: { zones: [], maxStalenessMs: 50 }, liveReplicas: live().map(peerId => ({ peerId })) }),
      localCounters: () => ({}),
      // what the cursor-based sink (before issue 18's fix) reads
      readLog: async (_name: string, _key: string, range: alog.LogRange = {}) => ({ entries: alog.read(this.log, range).map(record) }),
      readLogUncovered: (_name, _key, covered, range) => {
        const r = alog.readUncovered(this.log, covered, range)
        return { entries: r.entries.map(record), held: r.held, seen: r.seen }
      },
      get: async (_name, key) => {
        const v = this.kv.get(key)
        if (v == null) throw new Error(`no key ${key}`)
        return { value: v.value }
      },
      put: async (_name, key, value) => {
        if (this.failMarks && key.startsWith('_sink/')) throw new Error('disk gone')
        this.kv.set(key, { value, at: Replica.writes++ })
        return {}
      },
      members: async (_name, key) => ({ members: [...(this.sets.get(key) ?? [])].sort() }),
      addMember: async (_name, key, member) => {
        if (this.failMarks) throw new Error('disk gone')
        this.sets.set(key, new Set([...(this.sets.get(key) ?? []), member]))
        return {}
      }
    }
  }
}

describe('sink marks: SinkService ships every log entry once, late ones too', function () {
  this.timeout(60_000)
  let core: CoreReceiver
  let url: string
  let dir: string
  const services: SinkService[] = []
  let clock = 0

  beforeEach(async function () {
    core = new CoreReceiver()
    url = await core.start()
    dir = await mkdtemp(join(tmpdir(), 'dcis-sink-marks-'))
    clock = (W0 + 1) * INTERVAL
  })

  afterEach(async function () {
    for (const s of services.splice(0)) await s.stop()
    await core.stop()
    await rm(dir, { recursive: true, force: true })
  })

  function sinkOn (r: Replica, live: () => string[], maxRecords = 3): SinkService {
    const s = new SinkService({
      self: r.id,
      dir: join(dir, r.id),
      manifests: () => [{ name: 'core', spec: { source: { service: 'fleet', counters: false, logs: ['alerts'] }, intervalMs: INTERVAL, destination: { http: { url, gzip: false } }, batch: { maxRecords } }, appliedAt: new Date(W0 * INTERVAL).toISOString() }],
      backend: () => r.backend(live),
      parseCursor,
      logger: createLogger({ level: 'silent' }),
      now: () => clock
    }, { tickMs: 10, backoffMs: 20, maxBackoffMs: 50 })
    services.push(s)
    return s
  }

  /** lets window w be taken (it ended and the settle time passed) */
  function through (w: number): void {
    clock = (w + 1) * INTERVAL + 300
  }

  const logValues = (): string[] => core.of('log').map(r => r.value as string).sort()
  const windowAt = async (w: number): Promise<void> => { await waitFor(`window ${w} at the core`, () => core.of('snapshot').some(r => r.window === w), { timeoutMs: 20_000, intervalMs: 10 }) }
  const markedBy = async (r: Replica, w: number): Promise<void> => { await waitFor(`window ${w} marked shipped`, () => Number(r.kv.get('_sink/core/shipped')?.value ?? -1) >= w, { timeoutMs: 20_000, intervalMs: 10 }) }

  it('a late entry (older HLC than what shipped, arriving after its window shipped) ships once, under the next window', async function () {
    const a = new Replica('peer-a')
    const k = new Replica('peer-k') // acked an alert, then was cut off (killed) before it replicated
    a.append('a1', W0 * INTERVAL + 100)
    const late = k.append('k1', W0 * INTERVAL + 500)
    a.append('a2', W0 * INTERVAL + 700)
    await sinkOn(a, () => ['peer-a']).start()
    through(W0)
    await windowAt(W0)
    await markedBy(a, W0)
    a.append('a3', (W0 + 1) * INTERVAL + 100)
    through(W0 + 1)
    await windowAt(W0 + 1)
    await markedBy(a, W0 + 1)
    assert.deepEqual(logValues(), ['a1', 'a2', 'a3'])
    // k comes back: its entry sorts before everything shipped since
    a.receive(late)
    through(W0 + 2)
    await windowAt(W0 + 2)
    await markedBy(a, W0 + 2)
    through(W0 + 4)
    await windowAt(W0 + 4)
    await markedBy(a, W0 + 4)
    assert.deepEqual(logValues(), ['a1', 'a2', 'a3', 'k1'])
    const k1 = core.of('log').find(r => r.value === 'k1')
    assert.equal(k1?.window, W0 + 2, 'shipped under the next window')
    assert.equal(k1?.key, `core/fleet/l/alerts/${encodeCursor({ ts: { wall: W0 * INTERVAL + 500, logical: 0 }, replica: 'peer-k', counter: 1 })}`, 'its key is its own position, forever')
    assert.equal(core.duplicates, 0)
    // the mark is a version vector again
    const doc = parseMarkDoc(a.kv.get('_sink/core/marks/peer-a')?.value ?? '')
    assert.deepEqual(doc.logs.alerts, { upTo: { 'peer-a': 3, 'peer-k': 1 }, x: {} })
  })

  it('a shipper that crashes between delivery and mark is replaced by one that re-ships the same keys', async function () {
    const a = new Replica('peer-a')
    const b = new Replica('peer-b')
    const k = new Replica('peer-k')
    const both = (d: ALog): void => { a.receive(d); b.receive(d) }
    both(a.append('a1', W0 * INTERVAL + 100))
    both(b.append('b1', W0 * INTERVAL + 200))
    let live = ['peer-a', 'peer-b']
    const sa = sinkOn(a, () => live)
    await sa.start()
    through(W0)
    await windowAt(W0)
    await markedBy(a, W0)
    // the marks replicate to b
    b.heal(a)
    // a late entry reaches a only, then window W0+1 ships and a dies before its mark
    const late = k.append('k1', W0 * INTERVAL + 150)
    a.receive(late)
    both(b.append('b2', (W0 + 1) * INTERVAL + 100))
    a.failMarks = true
    through(W0 + 1)
    await windowAt(W0 + 1)
    const shippedByA = core.of('log').filter(r => r.window === W0 + 1).map(r => r.key).sort()
    assert.deepEqual(core.of('log').filter(r => r.window === W0 + 1).map(r => r.value).sort(), ['b2', 'k1'])
    await sa.stop()
    b.heal(a) // what a replicated before dying (not the mark of W0+1: it was never written)
    assert.equal(b.kv.get('_sink/core/shipped')?.value, String(W0))
    live = ['peer-b']
    const before = core.duplicates
    await sinkOn(b, () => live).start()
    await markedBy(b, W0 + 1)
    // b shipped W0+1 again: the same keys, dropped by the core's dedup
    assert.ok(core.duplicates >= before + shippedByA.length + 1, `b re-shipped W0+1 (${core.duplicates - before} duplicates)`)
    b.append('b3', (W0 + 2) * INTERVAL + 100)
    through(W0 + 2)
    await windowAt(W0 + 2)
    await markedBy(b, W0 + 2)
    assert.deepEqual(logValues(), ['a1', 'b1', 'b2', 'b3', 'k1'])
    assert.deepEqual(core.of('log').filter(r => r.window === W0 + 1).map(r => r.key).sort(), shippedByA)
  })

  it('two shippers in a partition both ship; their marks merge at the heal', async function () {
    const a = new Replica('peer-a')
    const b = new Replica('peer-b')
    a.append('a1', W0 * INTERVAL + 100)
    b.append('b1', W0 * INTERVAL + 200)
    a.append('a2', W0 * INTERVAL + 300)
    b.append('b2', W0 * INTERVAL + 900)
    let healed = false
    // each side sees only itself: both are the lowest live replica
    await sinkOn(b, () => healed ? ['peer-a', 'peer-b'] : ['peer-b']).start()
    through(W0)
    await markedBy(b, W0)
    await sinkOn(a, () => healed ? ['peer-a', 'peer-b'] : ['peer-a']).start()
    await markedBy(a, W0)
    assert.deepEqual(logValues(), ['a1', 'a2', 'b1', 'b2'])
    // the two snapshot headers of W0 share their key: one duplicate
    assert.equal(core.duplicates, 1)
    a.heal(b)
    b.heal(a)
    healed = true
    a.append('a3', (W0 + 1) * INTERVAL + 100)
    through(W0 + 1)
    await windowAt(W0 + 1)
    await markedBy(a, W0 + 1)
    assert.deepEqual(logValues(), ['a1', 'a2', 'a3', 'b1', 'b2'])
    assert.equal(core.duplicates, 1, 'nothing shipped again after the heal: the marks of both sides merged')
    assert.deepEqual([...(a.sets.get('_sink/core/shippers') ?? [])].sort(), ['peer-a', 'peer-b'])
  })

  it('retention of unshipped entries leaves no hole; the mark stays a version vector over thousands of entries', async function () {
    const a = new Replica('peer-a')
    const k = new Replica('peer-k')
    for (let i = 0; i < 5; i++) a.append(`old${i}`, W0 * INTERVAL + 10 + i)
    // retention trims the two oldest before any shipping
    a.log = alog.join(a.log, alog.removeDots(a.log, alog.expired(a.log, { maxEntries: 3 }, clock)))
    await sinkOn(a, () => ['peer-a'], 500).start()
    through(W0)
    await markedBy(a, W0)
    assert.deepEqual(logValues(), ['old2', 'old3', 'old4'])
    let n = 0
    for (let w = W0 + 1; w <= W0 + 4; w++) {
      for (let i = 0; i < 1000; i++) {
        a.append(`e${n++}`, w * INTERVAL + Math.floor(i / 2))
        if (i % 100 === 0) a.receive(k.append(`k${n}`, w * INTERVAL + Math.floor(i / 2)))
      }
      through(w)
      await markedBy(a, w)
    }
    assert.equal(core.of('log').length, 3 + 4000 + 40)
    assert.equal(core.duplicates, 0)
    const text = a.kv.get('_sink/core/marks/peer-a')?.value ?? ''
    assert.deepEqual(parseMarkDoc(text).logs.alerts, { upTo: { 'peer-a': 4005, 'peer-k': 40 }, x: {} })
    assert.ok(text.length < 200, `a compact mark (${text.length} bytes)`)
  })

  it('honours an old cursor mark: entries up to it count as shipped; a late entry after the upgrade still ships', async function () {
    const a = new Replica('peer-a')
    const k = new Replica('peer-k')
    a.append('a1', W0 * INTERVAL + 100)
    a.append('a2', W0 * INTERVAL + 200)
    a.append('a3', (W0 + 1) * INTERVAL + 100)
    // what the cursor-based sink wrote after shipping W0
    const put = a.backend(() => []).put
    await put('fleet', '_sink/core/shipped', String(W0))
    await put('fleet', '_sink/core/cursor/alerts', encodeCursor({ ts: { wall: W0 * INTERVAL + 200, logical: 0 }, replica: 'peer-a', counter: 2 }))
    await sinkOn(a, () => ['peer-a']).start()
    through(W0 + 1)
    await markedBy(a, W0 + 1)
    assert.deepEqual(logValues(), ['a3'])
    a.receive(k.append('k1', W0 * INTERVAL + 150))
    through(W0 + 2)
    await markedBy(a, W0 + 2)
    assert.deepEqual(logValues(), ['a3', 'k1'])
    // the legacy mark keeps moving forward for peers that read only it
    assert.equal(a.kv.get('_sink/core/cursor/alerts')?.value, encodeCursor({ ts: { wall: (W0 + 1) * INTERVAL + 100, logical: 0 }, replica: 'peer-a', counter: 3 }))
  })

  it('ignores a malformed mark document (its entries ship again) and keeps shipping', async function () {
    const a = new Replica('peer-a')
    a.append('a1', W0 * INTERVAL + 100)
    const put = a.backend(() => []).put
    await put('fleet', '_sink/core/marks/peer-x', '{"v":1,"window":"soon"}')
    a.sets.set('_sink/core/shippers', new Set(['peer-x']))
    await sinkOn(a, () => ['peer-a']).start()
    through(W0)
    await markedBy(a, W0)
    assert.deepEqual(logValues(), ['a1'])
    assert.equal(parseMarkDoc(a.kv.get('_sink/core/marks/peer-a')?.value ?? '').window, W0)
  })
})

describe('sink service: idle cost', function () {
  it('keeps no timer while there is no sink; a catalogue change starts and stops it', async function () {
    const manifests: Array<{ name: string, spec: Record<string, unknown> }> = []
    let listener: (() => void) | undefined
    let reads = 0
    const s = new SinkService({
      self: 'peer-a',
      dir: await mkdtemp(join(tmpdir(), 'dcis-sink-idle-')),
      manifests: () => { reads++; return manifests },
      onManifestsChange: (l) => { listener = l; return () => { listener = undefined } },
      backend: () => undefined,
      parseCursor,
      logger: createLogger({ level: 'silent' })
    }, { tickMs: 10 })
    await s.start()
    try {
      assert.equal(s.hasTimer, false)
      const r0 = reads
      await new Promise(resolve => setTimeout(resolve, 100))
      assert.ok(reads - r0 <= 1, `the manifests are not polled (${reads - r0} reads in 100 ms)`)
      manifests.push({ name: 'core', spec: { destination: { directory: { path: join(tmpdir(), 'dcis-sink-idle-core') } } } })
      listener?.()
      assert.equal(s.hasTimer, true)
      manifests.pop()
      listener?.()
      assert.equal(s.hasTimer, false)
    } finally {
      await s.stop()
    }
    assert.equal(listener, undefined, 'unsubscribed on stop')
  })
})
