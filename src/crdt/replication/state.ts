/**
 * A replicated object as a fixed list of ORMap "sections" (pure): a service
 * has counters (ORMap<CCounter>: a PN counter per key that can be removed),
 * kv (ORMap<CLWWRegister>), sets (ORMap<ORSet>) and append-only logs
 * (ORMap<ALog>); the catalogue has one
 * section of CLWW registers holding JSON entries. Each section has its own
 * causal context; a replica's *sequence* for an origin is the sum of the
 * origin's contiguous dots over the sections, so it counts the origin's
 * updates this replica has seen without gaps (removals make no dots and are
 * not counted).
 */
import { ormap, join } from '../index.js'
import type { ORMap, ValueType } from '../index.js'
import { valueTypesEqual } from '../stores.js'

export interface SectionedState {
  readonly types: readonly ValueType[]
  readonly sections: readonly ORMap[]
}

export const SERVICE_SECTIONS: readonly ValueType[] = Object.freeze([
  { kind: 'ccounter' }, { kind: 'clwwregister' }, { kind: 'orset' }, { kind: 'alog' }
] as ValueType[])
export const SECTION_COUNTERS = 0
export const SECTION_KV = 1
export const SECTION_SETS = 2
/** append-only logs (ORMap<ALog>), added after the first three: older snapshots have 3 sections */
export const SECTION_LOGS = 3

export const CATALOGUE_SECTIONS: readonly ValueType[] = Object.freeze([{ kind: 'clwwregister' }] as ValueType[])

export function bottomState (types: readonly ValueType[]): SectionedState {
  return { types, sections: types.map(t => ormap.bottom(t)) }
}

/** A (partial) delta: null where a section has nothing. */
export type SectionDelta = ReadonlyArray<ORMap | null>

/** True when `m` is an ORMap of exactly the section's value type. */
export function fitsSection (types: readonly ValueType[], index: number, m: unknown): m is ORMap {
  const t = types[index]
  const x = m as ORMap
  return t != null && x != null && x.type === 'ormap' && valueTypesEqual(x.valueType, t)
}

export function applyDelta (s: SectionedState, delta: SectionDelta): SectionedState {
  let changed = false
  const sections = s.sections.map((m, i) => {
    const d = delta[i]
    if (d == null) return m
    changed = true
    return join(m, d)
  })
  return changed ? { types: s.types, sections } : s
}

/** Updates of `origin` seen without gaps (sum over sections of the version vector entry). */
export function seqOf (s: SectionedState, origin: string): number {
  let n = 0
  for (const m of s.sections) n += m.ctx.vv.get(origin) ?? 0
  return n
}
