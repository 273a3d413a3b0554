/**
 * The two eventual engines and yjs side by side on the same workloads, in one run
 * (in-process, no network: CPU and bytes of the engines themselves).
 *
 *   npx tsx bench/crdt/engines.ts [--writers 10] [--ops 200] [--keys 20] [--rounds 10] [--seed 7] [--trace-limit N]
 *
 * Workloads, with `writers` replicas all writing concurrently; each writer
 * makes `ops` updates spread over `rounds` rounds, and after every round
 * each writer's new updates are shipped to every other writer:
 *   - counters: +1 on a random key of `keys` (exact totals checked);
 *   - maps: put a random short value on a random key (convergence checked).
 * delta-crdts ships one encoded delta-group per writer per round; automerge
 * ships the writer's changes of the round (A.getChanges / A.applyChanges).
 * yjs (devDependency) ships Y.Doc updates encoded since the writer's state
 * vector at the round's start (Y.encodeStateAsUpdate / Y.applyUpdate).
 *
 * Then the automerge-paper editing trace (../shared/data/traces/, CC BY 4.0,
 * see SOURCES.md there) is replayed through the automerge engine's document
 * (one change per transaction, splices into kv.paper) and through a yjs
 * Y.Text (one transaction per trace transaction), each result checked
 * against the trace's endContent. Prints one JSON object.
 */
import * as A from '@automerge/automerge'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { gunzipSync } from 'node:zlib'
import * as Y from 'yjs'
import { decodeCrdt, encodeCrdt } from '../../src/crdt/index.js'
import type { ORMap } from '../../src/crdt/index.js'
import { amDoc, baseDoc, actorOf } from '../../src/crdt/automerge/index.js'
import type { ServiceDoc } from '../../src/crdt/automerge/index.js'
import { addCounter, applyDelta, bottomState, counterKeys, counterValue, kvGet, kvPut, nextStamp, SERVICE_SECTIONS } from '../../src/crdt/replication/index.js'
import type { SectionDelta, SectionedState } from '../../src/crdt/replication/index.js'
import { join } from '../../src/crdt/index.js'

const { values } = parseArgs({
  options: {
    writers: { type: 'string', default: '10' },
    ops: { type: 'string', default: '200' },
    keys: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '10' },
    seed: { type: 'string', default: '7' },
    'trace-limit': { type: 'string' }
  }
})
const W = Number(values.writers)
const OPS = Number(values.ops)
const KEYS = Number(values.keys)
const ROUNDS = Number(values.rounds)
const SEED = Number(values.seed)

function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Op = { writer: number, key: string, value: string }
/** the same operation list for every engine */
function workload (seed: number): Op[][] {
  const rnd = prng(seed)
  const rounds: Op[][] = []
  const perRound = Math.ceil(OPS / ROUNDS)
  for (let r = 0; r < ROUNDS; r++) {
    const ops: Op[] = []
    for (let w = 0; w < W; w++) {
      for (let i = 0; i < perRound; i++) ops.push({ writer: w, key: `k${Math.floor(rnd() * KEYS)}`, value: `v${Math.floor(rnd() * 1e6)}` })
    }
    rounds.push(ops)
  }
  return rounds
}

interface Result { ms: number, opsPerSec: number, bytesShipped: number, stateBytes: number, converged: boolean }

function deltaEngine (kind: 'counters' | 'maps', rounds: Op[][]): Result {
  const ids = [...Array(W).keys()].map(i => `12D3KooWbenchwriter${String(i).padStart(4, '0')}xxxxxxxxxxxxxxxxxxxxxxxxxx`)
  const states: SectionedState[] = ids.map(() => bottomState(SERVICE_SECTIONS))
  const clocks = ids.map(() => ({ wall: 0, logical: 0 }))
  let bytes = 0
  let ops = 0
  const t0 = performance.now()
  for (const round of rounds) {
    const groups: Array<Array<ORMap | null>> = ids.map(() => [null, null, null])
    for (const op of round) {
      const w = op.writer
      let d: SectionDelta
      if (kind === 'counters') d = addCounter(states[w], ids[w], op.key, 1)
      else {
        const ts = nextStamp(states[w], op.key, clocks[w], ops)
        clocks[w] = ts
        d = kvPut(states[w], ids[w], op.key, ts, op.value)
      }
      states[w] = applyDelta(states[w], d)
      groups[w] = groups[w].map((g, i) => d[i] == null ? g : g == null ? d[i] : join(g, d[i] as ORMap))
      ops++
    }
    for (let w = 0; w < W; w++) {
      const wire = groups[w].map(g => g == null ? null : encodeCrdt(g))
      for (const b of wire) if (b != null) bytes += b.length * (W - 1)
      for (let o = 0; o < W; o++) {
        if (o === w) continue
        states[o] = applyDelta(states[o], wire.map(b => b == null ? null : decodeCrdt(b) as ORMap))
      }
    }
  }
  const ms = performance.now() - t0
  const ref = kind === 'counters'
    ? counterKeys(states[0]).map(k => `${k}=${counterValue(states[0], k)}`).join()
    : [...Array(KEYS).keys()].map(k => kvGet(states[0], `k${k}`)?.value).join()
  const converged = states.every(s => (kind === 'counters'
    ? counterKeys(s).map(k => `${k}=${counterValue(s, k)}`).join()
    : [...Array(KEYS).keys()].map(k => kvGet(s, `k${k}`)?.value).join()) === ref) &&
    (kind !== 'counters' || counterKeys(states[0]).reduce((n, k) => n + counterValue(states[0], k), 0) === ops)
  return { ms, opsPerSec: Math.round(ops / (ms / 1000)), bytesShipped: bytes, stateBytes: states[0].sections.reduce((n, m) => n + encodeCrdt(m).length, 0), converged }
}

function automergeEngine (kind: 'counters' | 'maps', rounds: Op[][]): Result {
  const ids = [...Array(W).keys()].map(i => `12D3KooWbenchwriter${String(i).padStart(4, '0')}xxxxxxxxxxxxxxxxxxxxxxxxxx`)
  const docs: Array<A.Doc<ServiceDoc>> = ids.map(id => baseDoc(actorOf(id)))
  let bytes = 0
  let ops = 0
  const t0 = performance.now()
  for (const round of rounds) {
    const before = docs.map(d => d)
    for (const op of round) {
      const w = op.writer
      docs[w] = kind === 'counters' ? amDoc.add(docs[w], ids[w], op.key, 1, 0) : amDoc.put(docs[w], ids[w], op.key, op.value, 0)
      ops++
    }
    const changes = docs.map((d, w) => A.getChanges(before[w], d))
    for (let w = 0; w < W; w++) {
      for (const c of changes[w]) bytes += c.length * (W - 1)
      for (let o = 0; o < W; o++) {
        if (o === w) continue
        docs[o] = A.applyChanges(docs[o], changes[w])[0]
      }
    }
  }
  const ms = performance.now() - t0
  const read = (d: A.Doc<ServiceDoc>): string => [...Array(KEYS).keys()].map(k => kind === 'counters' ? amDoc.counter(d, `k${k}`) : amDoc.getValue(d, `k${k}`)).join()
  const ref = read(docs[0])
  const total = kind === 'counters' ? [...Array(KEYS).keys()].reduce((n, k) => n + amDoc.counter(docs[0], `k${k}`), 0) : ops
  return { ms, opsPerSec: Math.round(ops / (ms / 1000)), bytesShipped: bytes, stateBytes: A.save(docs[0]).length, converged: docs.every(d => read(d) === ref) && total === ops }
}

/**
 * yjs on the same workloads: one Y.Doc per writer (clientID = writer + 1, so
 * runs are reproducible), one root Y.Map. Counters are per-writer slots
 * (`<key>\u0000<writer>` = that writer's running count; the value is the sum
 * of the key's slots: yjs has no counter type and a shared number would lose
 * concurrent increments); maps set the key. After every round each writer
 * ships Y.encodeStateAsUpdate(doc, its state vector at the round's start)
 * and the others Y.applyUpdate it.
 */
function yjsEngine (kind: 'counters' | 'maps', rounds: Op[][]): Result {
  const docs = [...Array(W).keys()].map(w => {
    const d = new Y.Doc({ gc: true })
    d.clientID = w + 1
    return d
  })
  const maps = docs.map(d => d.getMap<number | string>('kv'))
  let bytes = 0
  let ops = 0
  const t0 = performance.now()
  for (const round of rounds) {
    const before = docs.map(d => Y.encodeStateVector(d))
    for (const op of round) {
      const w = op.writer
      if (kind === 'counters') {
        const slot = `${op.key}\u0000${w}`
        maps[w].set(slot, ((maps[w].get(slot) as number | undefined) ?? 0) + 1)
      } else {
        maps[w].set(op.key, op.value)
      }
      ops++
    }
    const updates = docs.map((d, w) => Y.encodeStateAsUpdate(d, before[w]))
    for (let w = 0; w < W; w++) {
      bytes += updates[w].length * (W - 1)
      for (let o = 0; o < W; o++) {
        if (o !== w) Y.applyUpdate(docs[o], updates[w])
      }
    }
  }
  const ms = performance.now() - t0
  const counterOf = (m: Y.Map<number | string>, key: string): number => {
    let n = 0
    for (let w = 0; w < W; w++) n += (m.get(`${key}\u0000${w}`) as number | undefined) ?? 0
    return n
  }
  const read = (m: Y.Map<number | string>): string => [...Array(KEYS).keys()].map(k => kind === 'counters' ? counterOf(m, `k${k}`) : m.get(`k${k}`)).join()
  const ref = read(maps[0])
  const total = kind === 'counters' ? [...Array(KEYS).keys()].reduce((n, k) => n + counterOf(maps[0], `k${k}`), 0) : ops
  const result = { ms, opsPerSec: Math.round(ops / (ms / 1000)), bytesShipped: bytes, stateBytes: Y.encodeStateAsUpdate(docs[0]).length, converged: maps.every(m => read(m) === ref) && total === ops }
  for (const d of docs) d.destroy()
  return result
}

interface Trace { startContent: string, endContent: string, txns: Array<{ patches: Array<[number, number, string]> }> }

async function loadTrace (): Promise<Trace | undefined> {
  const file = new URL('../../../shared/data/traces/automerge-paper.json.gz', import.meta.url)
  if (!existsSync(file)) return undefined
  return JSON.parse(gunzipSync(await readFile(file)).toString('utf8')) as Trace
}

function replayAutomerge (trace: Trace, limit?: number): Record<string, unknown> {
  const txns = limit != null ? trace.txns.slice(0, limit) : trace.txns
  let doc = A.change(baseDoc(actorOf('trace-writer')), (d) => { d.kv.paper = trace.startContent })
  let patches = 0
  const t0 = performance.now()
  for (const txn of txns) {
    doc = A.change(doc, (d) => {
      for (const [pos, del, ins] of txn.patches) {
        A.splice(d, ['kv', 'paper'], pos, del, ins)
        patches++
      }
    })
  }
  const ms = performance.now() - t0
  const text = doc.kv.paper as string
  const saved = A.save(doc)
  return {
    transactions: txns.length,
    patches,
    ms: Math.round(ms),
    opsPerSec: Math.round(patches / (ms / 1000)),
    finalLength: text.length,
    matchesEndContent: limit == null ? text === trace.endContent : null,
    savedBytes: saved.length
  }
}

/** the same trace through a Y.Text (one transaction per trace transaction) */
function replayYjs (trace: Trace, limit?: number): Record<string, unknown> {
  const txns = limit != null ? trace.txns.slice(0, limit) : trace.txns
  const doc = new Y.Doc({ gc: true })
  doc.clientID = 1
  const text = doc.getText('paper')
  if (trace.startContent.length > 0) text.insert(0, trace.startContent)
  let patches = 0
  const t0 = performance.now()
  for (const txn of txns) {
    doc.transact(() => {
      for (const [pos, del, ins] of txn.patches) {
        if (del > 0) text.delete(pos, del)
        if (ins.length > 0) text.insert(pos, ins)
        patches++
      }
    })
  }
  const ms = performance.now() - t0
  const out = text.toString()
  const saved = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return {
    transactions: txns.length,
    patches,
    ms: Math.round(ms),
    opsPerSec: Math.round(patches / (ms / 1000)),
    finalLength: out.length,
    matchesEndContent: limit == null ? out === trace.endContent : null,
    savedBytes: saved.length
  }
}

async function replayTrace (limit?: number): Promise<Record<string, unknown>> {
  const trace = await loadTrace()
  if (trace == null) return { skipped: 'trace ../shared/data/traces/automerge-paper.json.gz not found' }
  return { automerge: replayAutomerge(trace, limit), yjs: replayYjs(trace, limit) }
}

const counters = workload(SEED)
const maps = workload(SEED + 1)
const out = {
  bench: 'crdt-engines',
  writers: W,
  opsPerWriter: Math.ceil(OPS / ROUNDS) * ROUNDS,
  keys: KEYS,
  rounds: ROUNDS,
  seed: SEED,
  counters: { 'delta-crdts': deltaEngine('counters', counters), automerge: automergeEngine('counters', counters), yjs: yjsEngine('counters', counters) },
  maps: { 'delta-crdts': deltaEngine('maps', maps), automerge: automergeEngine('maps', maps), yjs: yjsEngine('maps', maps) },
  automergePaperTrace: await replayTrace(values['trace-limit'] != null ? Number(values['trace-limit']) : undefined),
  cpus: cpus().length,
  loadavg1: loadavg()[0]
}
console.log(JSON.stringify(out))
