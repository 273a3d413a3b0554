/**
 * Shared test support: seeded fast-check runs and a model per CRDT type
 * (bottom state, random operation, delta-mutator) to drive scenarios.
 */
import fc from 'fast-check'
import {
  alog, ccounter, clwwRegister, gcounter, lwwRegister, mvRegister, orset, ormap, pncounter, join
} from '../../src/crdt/index.js'
import type { ALog, Crdt, ORMap, CCounter, ORSet, MVRegister } from '../../src/crdt/index.js'
import { createPrng } from '../../src/latency/prng.js'

/** Seed: CRDT_SEED env or a fixed default so CI runs are reproducible. */
export const SEED = process.env.CRDT_SEED != null ? Number(process.env.CRDT_SEED) : 20261127
export const RUNS = process.env.CRDT_RUNS != null ? Number(process.env.CRDT_RUNS) : 100

/** fc.assert with our seed; prints the seed (and how to replay) on failure. */
export function check<Ts extends [unknown, ...unknown[]]> (prop: fc.IProperty<Ts>, runs = RUNS): void {
  try {
    fc.assert(prop, { seed: SEED, numRuns: runs })
  } catch (err) {
    console.error(`property failed with seed ${SEED}; replay with CRDT_SEED=${SEED}`)
    throw err
  }
}

/** uniform [0, 1) draws from the project's seeded PRNG (src/latency/prng.ts), for non-fast-check randomized tests */
export function prng (seed: number): () => number {
  const p = createPrng(seed)
  return () => p.next()
}

export const REPLICAS = ['r-alpha', 'r-beta', 'r-gamma', '12D3KooWQz3x']

/** One model per type: random op `o` applied at replica `r` gives a delta. */
export interface Model<T extends Crdt = Crdt> {
  readonly name: string
  bottom (): T
  readonly op: fc.Arbitrary<unknown>
  mutate (state: T, replica: string, op: unknown, step: number): T
}

const atoms = fc.oneof(fc.constantFrom('x', 'y', 'z', ''), fc.constantFrom(new Uint8Array([1]), new Uint8Array([0, 255])))
const keys = fc.constantFrom('k1', 'k2', 'k3')

type CtrOp = { t: 'add', n: number } | { t: 'reset' }
const ctrOp: fc.Arbitrary<CtrOp> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -5, max: 5 }).map((n) => ({ t: 'add' as const, n })) },
  { weight: 1, arbitrary: fc.constant({ t: 'reset' as const }) }
)
function applyCtr (s: CCounter, r: string, o: CtrOp): CCounter {
  return o.t === 'add' ? ccounter.add(s, r, o.n) : ccounter.reset(s)
}

type SetOp = { t: 'add' | 'remove', e: string | Uint8Array } | { t: 'clear' }
const setOp: fc.Arbitrary<SetOp> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constantFrom('add' as const, 'remove' as const), e: atoms }) },
  { weight: 1, arbitrary: fc.constant({ t: 'clear' as const }) }
)
function applySet (s: ORSet, r: string, o: SetOp): ORSet {
  if (o.t === 'add') return orset.add(s, r, o.e)
  if (o.t === 'remove') return orset.remove(s, o.e)
  return orset.clear(s)
}

type RegOp = { t: 'write', v: string | Uint8Array } | { t: 'clear' }
const regOp: fc.Arbitrary<RegOp> = fc.oneof(
  { weight: 4, arbitrary: atoms.map((v) => ({ t: 'write' as const, v })) },
  { weight: 1, arbitrary: fc.constant({ t: 'clear' as const }) }
)
function applyMv (s: MVRegister, r: string, o: RegOp): MVRegister {
  return o.t === 'write' ? mvRegister.write(s, r, o.v) : mvRegister.clear(s)
}

type MapOp<I> = { t: 'update', k: string, inner: I } | { t: 'remove', k: string }
function mapOp<I> (inner: fc.Arbitrary<I>): fc.Arbitrary<MapOp<I>> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ t: fc.constant('update' as const), k: keys, inner }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('remove' as const), k: keys }) }
  )
}

type LogOp = { t: 'append', wall: number, vs: Array<string | Uint8Array> } | { t: 'retain', keep: number }
const logOp: fc.Arbitrary<LogOp> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('append' as const), wall: fc.integer({ min: 0, max: 6 }), vs: fc.array(atoms, { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('retain' as const), keep: fc.integer({ min: 0, max: 4 }) }) }
)
function applyLog (s: ALog, r: string, o: LogOp): ALog {
  if (o.t === 'retain') return alog.removeDots(s, alog.expired(s, { maxEntries: o.keep }, 0))
  return alog.append(s, r, o.vs.map((_v, i) => ({ wall: o.wall, logical: i })), o.vs)
}

export const MODELS: Model[] = [
  {
    name: 'gcounter',
    bottom: gcounter.bottom,
    op: fc.integer({ min: 0, max: 5 }),
    mutate: (s, r, o) => gcounter.inc(s as gcounter.GCounter, r, o as number)
  },
  {
    name: 'pncounter',
    bottom: pncounter.bottom,
    op: fc.integer({ min: -5, max: 5 }),
    mutate: (s, r, o) => pncounter.add(s as pncounter.PNCounter, r, o as number)
  },
  {
    name: 'lwwregister',
    bottom: lwwRegister.bottom,
    // timestamps collide on purpose so the replica-id tiebreak is exercised
    op: fc.record({ wall: fc.integer({ min: 0, max: 6 }), logical: fc.integer({ min: 0, max: 2 }), v: atoms }),
    mutate: (s, r, o) => {
      const { wall, logical, v } = o as { wall: number, logical: number, v: string }
      return lwwRegister.set(s as lwwRegister.LWWRegister, r, { wall, logical }, v)
    }
  },
  {
    name: 'ccounter',
    bottom: ccounter.bottom,
    op: ctrOp,
    mutate: (s, r, o) => applyCtr(s as CCounter, r, o as CtrOp)
  },
  {
    name: 'mvregister',
    bottom: mvRegister.bottom,
    op: regOp,
    mutate: (s, r, o) => applyMv(s as MVRegister, r, o as RegOp)
  },
  {
    name: 'clwwregister',
    bottom: clwwRegister.bottom,
    op: fc.record({ wall: fc.integer({ min: 0, max: 6 }), v: atoms, clear: fc.boolean() }),
    mutate: (s, r, o) => {
      const { wall, v, clear } = o as { wall: number, v: string, clear: boolean }
      const st = s as clwwRegister.CLWWRegister
      return clear ? clwwRegister.clear(st) : clwwRegister.set(st, r, { wall, logical: 0 }, v)
    }
  },
  {
    name: 'orset',
    bottom: orset.bottom,
    op: setOp,
    mutate: (s, r, o) => applySet(s as ORSet, r, o as SetOp)
  },
  {
    name: 'ormap<ccounter>',
    bottom: () => ormap.bottom({ kind: 'ccounter' }),
    op: mapOp(ctrOp),
    mutate: (s, r, o) => {
      const op = o as MapOp<CtrOp>
      const m = s as ORMap
      return op.t === 'remove' ? ormap.remove(m, op.k) : ormap.update<CCounter>(m, op.k, (v) => applyCtr(v, r, op.inner))
    }
  },
  {
    name: 'ormap<orset>',
    bottom: () => ormap.bottom({ kind: 'orset' }),
    op: mapOp(setOp),
    mutate: (s, r, o) => {
      const op = o as MapOp<SetOp>
      const m = s as ORMap
      return op.t === 'remove' ? ormap.remove(m, op.k) : ormap.update<ORSet>(m, op.k, (v) => applySet(v, r, op.inner))
    }
  },
  {
    name: 'alog',
    bottom: alog.bottom,
    op: logOp,
    mutate: (s, r, o) => applyLog(s as ALog, r, o as LogOp)
  },
  {
    name: 'ormap<alog>',
    bottom: () => ormap.bottom({ kind: 'alog' }),
    op: mapOp(logOp),
    mutate: (s, r, o) => {
      const op = o as MapOp<LogOp>
      const m = s as ORMap
      return op.t === 'remove' ? ormap.remove(m, op.k) : ormap.update<ALog>(m, op.k, (v) => applyLog(v, r, op.inner))
    }
  },
  {
    name: 'ormap<ormap<mvregister>>',
    bottom: () => ormap.bottom({ kind: 'ormap', value: { kind: 'mvregister' } }),
    op: mapOp(mapOp(regOp)),
    mutate: (s, r, o) => {
      const op = o as MapOp<MapOp<RegOp>>
      const m = s as ORMap
      if (op.t === 'remove') return ormap.remove(m, op.k)
      return ormap.update<ORMap>(m, op.k, (inner) => {
        const io = op.inner
        return io.t === 'remove' ? ormap.remove(inner, io.k) : ormap.update<MVRegister>(inner, io.k, (v) => applyMv(v, r, io.inner))
      })
    }
  }
]

/** One step of a scenario: a mutation at a replica, or delivery of an earlier delta (maybe again). */
export type Step =
  | { readonly kind: 'op', readonly replica: number, readonly op: unknown }
  | { readonly kind: 'deliver', readonly delta: number, readonly to: number }

export function scenario (model: Model, maxReplicas = 4, maxSteps = 40): fc.Arbitrary<{ n: number, steps: Step[] }> {
  return fc.integer({ min: 2, max: maxReplicas }).chain((n) => fc.record({
    n: fc.constant(n),
    steps: fc.array(fc.oneof(
      fc.record({ kind: fc.constant('op' as const), replica: fc.nat(n - 1), op: model.op }),
      fc.record({ kind: fc.constant('deliver' as const), delta: fc.nat(1000), to: fc.nat(n - 1) })
    ), { maxLength: maxSteps })
  }))
}

export interface RunResult {
  states: Crdt[]
  deltas: Array<{ origin: number, delta: Crdt }>
}

/** Play a scenario: each op mutates its replica's state; deliveries join an earlier delta anywhere. */
export function run (model: Model, sc: { n: number, steps: Step[] }): RunResult {
  const states: Crdt[] = Array.from({ length: sc.n }, () => model.bottom())
  const deltas: Array<{ origin: number, delta: Crdt }> = []
  sc.steps.forEach((step, i) => {
    if (step.kind === 'op') {
      const d = model.mutate(states[step.replica], REPLICAS[step.replica], step.op, i)
      states[step.replica] = join(states[step.replica], d)
      deltas.push({ origin: step.replica, delta: d })
    } else if (deltas.length > 0) {
      const d = deltas[step.delta % deltas.length]
      states[step.to] = join(states[step.to], d.delta)
    }
  })
  return { states, deltas }
}
