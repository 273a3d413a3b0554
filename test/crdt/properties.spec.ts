/**
 * Lattice and convergence properties for every CRDT type (fast-check,
 * seeded: see support.ts; the seed is printed on failure).
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeCrdt, deltaFor, digest, encodeCrdt, extractNew, equals, join, joinAll, typeName, value } from '../../src/crdt/index.js'
import type { Crdt } from '../../src/crdt/index.js'
import { check, MODELS, run, scenario } from './support.js'

function assertEq (a: Crdt, b: Crdt, what: string): void {
  assert.ok(equals(a, b), `${what}: states differ\n${show(a)}\n${show(b)}`)
}

function show (s: Crdt): string {
  return JSON.stringify(s, (_k, v: unknown) => v instanceof Map ? [...v.entries()] : v instanceof Set ? [...v] : v instanceof Uint8Array ? [...v] : v)
}

function shuffle<T> (xs: T[], order: number[]): T[] {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = (order[i % order.length] ?? 0) % (i + 1)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

describe('crdt properties', () => {
  for (const model of MODELS) {
    describe(model.name, () => {
      it('join is commutative, associative and idempotent (states and deltas)', () => {
        check(fc.property(scenario(model), (sc) => {
          const { states, deltas } = run(model, sc)
          const pool = [...states, ...deltas.map((d) => d.delta)]
          for (let i = 0; i < Math.min(pool.length, 6); i++) {
            const a = pool[i]
            const b = pool[(i + 1) % pool.length]
            const c = pool[(i + 2) % pool.length]
            assertEq(join(a, b), join(b, a), 'commutative')
            assertEq(join(join(a, b), c), join(a, join(b, c)), 'associative')
            assertEq(join(a, a), a, 'idempotent')
            assertEq(join(join(a, b), b), join(a, b), 'absorbing')
            // inputs are never mutated
            const before = [encodeCrdt(a), encodeCrdt(b)]
            join(a, b); join(b, a)
            assert.deepEqual([encodeCrdt(a), encodeCrdt(b)], before, 'join mutated an input')
          }
        }))
      })

      it('any interleaving, duplication and reordering of deltas plus one anti-entropy round converges; delta path = full-state path', () => {
        check(fc.property(scenario(model), fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), (sc, order) => {
          const { states, deltas } = run(model, sc)
          // one anti-entropy round: every replica joins every other's full state
          const full = states.reduce((acc, s) => join(acc, s), model.bottom())
          const converged = states.map((s) => states.reduce((acc, o) => join(acc, o), s))
          for (const s of converged) {
            assertEq(s, full, 'replicas converge')
            assert.deepEqual(value(s), value(full))
          }
          // delta path: all deltas, shuffled and duplicated, joined from bottom
          const shuffled = shuffle([...deltas, ...deltas.slice(0, 3)].map((d) => d.delta), order)
          const viaDeltas = shuffled.reduce((acc, d) => join(acc, d), model.bottom())
          assertEq(viaDeltas, full, 'delta path equals full-state path')
          // a delta-group (join of deltas) carries the same information
          if (deltas.length > 1) {
            const group = joinAll(deltas[0].delta, ...deltas.slice(1).map((d) => d.delta))
            assertEq(join(model.bottom(), group), full, 'delta-group')
          }
        }))
      })

      it('digest-driven anti-entropy ships exactly what is missing', () => {
        check(fc.property(scenario(model), (sc) => {
          const { states, deltas } = run(model, sc)
          for (let i = 0; i < states.length; i++) {
            const a = states[i]
            const b = states[(i + 1) % states.length]
            const d = deltaFor(a, digest(b))
            assertEq(join(b, d), join(b, a), 'join(b, deltaFor(a, digest(b))) = join(b, a)')
            // RR: the novel part of any delta has the same effect as the delta
            for (const { delta } of deltas.slice(0, 8)) {
              assertEq(join(b, extractNew(delta, b)), join(b, delta), 'join(b, extractNew(d, b)) = join(b, d)')
            }
            // nothing is missing once b has a
            const ab = join(a, b)
            assertEq(join(ab, deltaFor(a, digest(ab))), ab, 'no-op when up to date')
          }
        }))
      })

      it('codec round-trips every reachable state and delta canonically', () => {
        check(fc.property(scenario(model), (sc) => {
          const { states, deltas } = run(model, sc)
          for (const s of [...states, ...deltas.map((d) => d.delta)]) {
            const bytes = encodeCrdt(s)
            const back = decodeCrdt(bytes)
            assert.equal(typeName(back), typeName(s))
            assertEq(back, s, 'round trip')
            assert.deepEqual(encodeCrdt(back), bytes, 'canonical re-encoding')
          }
        }))
      })
    })
  }
})
