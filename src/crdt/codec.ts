/**
 * Compact, versioned binary codec for every CRDT state, delta-group and
 * digest. Layout (all integers are minimal unsigned LEB128 varints):
 *
 *   message   = version:u8(=1) kind:u8 replicas body
 *   kind      = 1 state | 2 delta-group | 3 digest
 *   replicas  = n, n × string          (sorted, distinct; dots name replicas by index)
 *   state     = tag:u8 payload         (tags in TYPE_TAGS)
 *   group     = seq flags:u8(bit0 = full state) state
 *   digest    = tag:u8 payload
 *
 * Every list is written in a canonical order and the decoder insists on
 * it (strictly increasing), so one state has exactly one encoding. The
 * decoder checks limits before allocating and checks state invariants
 * (stored dots are in the context, no dot used twice, no empty entries);
 * any failure is a CrdtDecodeError with a reason code.
 */
import { compareAtoms, compareStrings } from './atom.js'
import type { Atom } from './atom.js'
import { contextContains, makeContext } from './causal-context.js'
import type { CausalContext } from './causal-context.js'
import { makeCausal, valueTypeOf } from './causal.js'
import type { Crdt } from './crdt.js'
import { compareDots } from './dot.js'
import type { Dot, ReplicaId } from './dot.js'
import type { Digest } from './digest.js'
import { CrdtArgumentError, CrdtDecodeError } from './errors.js'
import type { Hlc } from './hlc.js'
import type { LwwEntry } from './lww-register.js'
import { atomKey } from './atom.js'
import { DEFAULT_LIMITS, Reader, Writer } from './codec-io.js'
import type { CodecLimits } from './codec-io.js'
import type { DotEntry, DotFun, DotSet, LwwValue, ORMapStore, ORSetStore, SetEntry, Store, ValueType } from './stores.js'
import { forEachDot, isBottomStore } from './stores.js'

export { DEFAULT_LIMITS }
export type { CodecLimits }

export const CODEC_VERSION = 1

const KIND_STATE = 1
const KIND_GROUP = 2
const KIND_DIGEST = 3

export const TYPE_TAGS = {
  gcounter: 1,
  pncounter: 2,
  lwwregister: 3,
  ccounter: 4,
  mvregister: 5,
  clwwregister: 6,
  orset: 7,
  ormap: 8,
  alog: 9
} as const

/** A join of buffered deltas (or a full state) as sent to a neighbour. */
export interface DeltaGroup<T extends Crdt = Crdt> {
  /** Sender's buffer sequence number of the newest delta included (acknowledge this). */
  readonly seq: number
  /** True when `state` is the sender's full state rather than a delta-group. */
  readonly full: boolean
  readonly state: T
}

// =================================================================== encoding

class ReplicaTable {
  private readonly ids = new Set<ReplicaId>()
  private index = new Map<ReplicaId, number>()

  add (r: ReplicaId): void { this.ids.add(r) }

  seal (): ReplicaId[] {
    const sorted = [...this.ids].sort(compareStrings)
    this.index = new Map(sorted.map((r, i) => [r, i]))
    return sorted
  }

  idx (r: ReplicaId): number {
    const i = this.index.get(r)
    if (i == null) throw new CrdtArgumentError('replica', `replica ${r} missing from table`)
    return i
  }
}

function collectContext (t: ReplicaTable, ctx: CausalContext): void {
  for (const r of ctx.vv.keys()) t.add(r)
  for (const r of ctx.cloud.keys()) t.add(r)
}

function collectStore (t: ReplicaTable, vt: ValueType, s: Store): void {
  switch (vt.kind) {
    case 'ccounter': case 'mvregister': case 'clwwregister': case 'alog':
      for (const e of s as DotFun<unknown>) t.add(e.dot.replica)
      return
    case 'orset':
      for (const e of (s as ORSetStore).values()) for (const d of e.dots) t.add(d.replica)
      return
    case 'ormap':
      for (const v of (s as ORMapStore).values()) collectStore(t, vt.value, v)
  }
}

function collectCrdt (t: ReplicaTable, s: Crdt): void {
  switch (s.type) {
    case 'gcounter': for (const r of s.counts.keys()) t.add(r); return
    case 'pncounter': for (const r of [...s.p.keys(), ...s.n.keys()]) t.add(r); return
    case 'lwwregister': if (s.entry != null) t.add(s.entry.replica); return
    default: collectContext(t, s.ctx); collectStore(t, valueTypeOf(s), s.store)
  }
}

function collectDigest (t: ReplicaTable, d: Digest): void {
  switch (d.type) {
    case 'gcounter': for (const r of d.versions.keys()) t.add(r); return
    case 'pncounter': for (const r of [...d.p.keys(), ...d.n.keys()]) t.add(r); return
    case 'lwwregister': if (d.entry != null) t.add(d.entry.replica); return
    case 'causal':
      collectContext(t, d.ctx)
      for (const dot of d.live) t.add(dot.replica)
  }
}

function isSorted<E> (xs: readonly E[], cmp: (a: E, b: E) => number): boolean {
  for (let i = 1; i < xs.length; i++) if (cmp(xs[i - 1], xs[i]) > 0) return false
  return true
}

class Encoder {
  readonly w = new Writer()
  constructor (readonly table: ReplicaTable) {}

  header (kind: number): void {
    this.w.byte(CODEC_VERSION)
    this.w.byte(kind)
    const ids = this.table.seal()
    this.w.varint(ids.length)
    for (const r of ids) this.w.string(r, 'replica')
  }

  atom (a: Atom): void {
    if (typeof a === 'string') { this.w.byte(0); this.w.string(a, 'atom') } else if (a instanceof Uint8Array) { this.w.byte(1); this.w.bytes(a) } else throw new CrdtArgumentError('atom', 'must be a string or a Uint8Array')
  }

  hlc (h: Hlc): void { this.w.varint(h.wall); this.w.varint(h.logical) }

  lwwEntry (e: LwwEntry | null): void {
    if (e == null) { this.w.byte(0); return }
    this.w.byte(1)
    this.hlc(e.ts)
    this.w.varint(this.table.idx(e.replica))
    this.atom(e.value)
  }

  dot (d: Dot): void { this.w.varint(this.table.idx(d.replica)); this.w.varint(d.counter) }

  counts (m: ReadonlyMap<ReplicaId, number>): void {
    const entries = [...m.entries()].filter(([, n]) => n > 0).sort((a, b) => compareStrings(a[0], b[0]))
    this.w.varint(entries.length)
    for (const [r, n] of entries) { this.w.varint(this.table.idx(r)); this.w.varint(n) }
  }

  context (ctx: CausalContext): void {
    this.counts(ctx.vv)
    const cloud = [...ctx.cloud.entries()].sort((a, b) => compareStrings(a[0], b[0]))
    this.w.varint(cloud.length)
    for (const [r, ranges] of cloud) {
      this.w.varint(this.table.idx(r))
      this.w.varint(ranges.length)
      let prevEnd = (ctx.vv.get(r) ?? 0) + 1 // first free counter above the vector
      for (const [lo, hi] of ranges) {
        this.w.varint(lo - prevEnd - 1) // >= 0: a gap of at least one missing dot
        this.w.varint(hi - lo)
        prevEnd = hi + 1
      }
    }
  }

  dotSet (s: DotSet): void {
    const dots = isSorted(s, compareDots) ? s : [...s].sort(compareDots)
    this.w.varint(dots.length)
    for (const d of dots) this.dot(d)
  }

  dotFun<V> (f: DotFun<V>, value: (v: V) => void): void {
    const byDot = (a: DotEntry<V>, b: DotEntry<V>): number => compareDots(a.dot, b.dot)
    const entries = isSorted(f, byDot) ? f : [...f].sort(byDot)
    this.w.varint(entries.length)
    for (const e of entries) { this.dot(e.dot); value(e.value) }
  }

  valueType (t: ValueType): void {
    this.w.byte(TYPE_TAGS[t.kind])
    if (t.kind === 'ormap') this.valueType(t.value)
  }

  store (t: ValueType, s: Store): void {
    switch (t.kind) {
      case 'ccounter': this.dotFun(s as DotFun<number>, (v) => this.w.signed(v)); return
      case 'mvregister': this.dotFun(s as DotFun<Atom>, (v) => this.atom(v)); return
      case 'clwwregister':
      case 'alog': this.dotFun(s as DotFun<LwwValue>, (v) => { this.hlc(v.ts); this.atom(v.value) }); return
      case 'orset': {
        const entries = [...(s as ORSetStore).values()].sort((a, b) => compareAtoms(a.element, b.element))
        this.w.varint(entries.length)
        for (const e of entries) { this.atom(e.element); this.dotSet(e.dots) }
        return
      }
      case 'ormap': {
        const entries = [...(s as ORMapStore).entries()].sort((a, b) => compareStrings(a[0], b[0]))
        this.w.varint(entries.length)
        for (const [k, v] of entries) { this.w.string(k, 'key'); this.store(t.value, v) }
      }
    }
  }

  crdt (s: Crdt): void {
    this.w.byte(TYPE_TAGS[s.type])
    switch (s.type) {
      case 'gcounter': this.counts(s.counts); return
      case 'pncounter': this.counts(s.p); this.counts(s.n); return
      case 'lwwregister': this.lwwEntry(s.entry); return
      default: {
        if (s.type === 'ormap') this.valueType(s.valueType)
        this.context(s.ctx)
        this.store(valueTypeOf(s), s.store)
      }
    }
  }

  digest (d: Digest): void {
    if (d.type === 'causal') {
      this.valueType(d.valueType)
      this.context(d.ctx)
      this.dotSet(d.live)
      return
    }
    this.w.byte(TYPE_TAGS[d.type])
    if (d.type === 'lwwregister') { this.lwwEntry(d.entry); return }
    if (d.type === 'pncounter') { this.counts(d.p); this.counts(d.n); return }
    this.counts(d.versions)
  }
}

/** Encode a state, delta or delta-group of any type. */
export function encodeCrdt (s: Crdt): Uint8Array {
  const table = new ReplicaTable()
  collectCrdt(table, s)
  const e = new Encoder(table)
  e.header(KIND_STATE)
  e.crdt(s)
  return e.w.finish()
}

export function encodeDeltaGroup (g: DeltaGroup): Uint8Array {
  const table = new ReplicaTable()
  collectCrdt(table, g.state)
  const e = new Encoder(table)
  e.header(KIND_GROUP)
  e.w.varint(g.seq)
  e.w.byte(g.full ? 1 : 0)
  e.crdt(g.state)
  return e.w.finish()
}

export function encodeDigest (d: Digest): Uint8Array {
  const table = new ReplicaTable()
  collectDigest(table, d)
  const e = new Encoder(table)
  e.header(KIND_DIGEST)
  e.digest(d)
  return e.w.finish()
}

// =================================================================== decoding

const TAG_NAMES = new Map<number, keyof typeof TYPE_TAGS>(Object.entries(TYPE_TAGS).map(([k, v]) => [v, k as keyof typeof TYPE_TAGS]))
const CAUSAL_KINDS = new Set(['ccounter', 'mvregister', 'clwwregister', 'orset', 'ormap', 'alog'])

class Decoder {
  replicas: ReplicaId[] = []
  private readonly used = new Set<number>()
  constructor (readonly r: Reader) {}

  /** Canonical form: every replica in the table is referenced. */
  checkTableUsed (): void {
    if (this.used.size !== this.replicas.length) this.r.fail('NON_CANONICAL', 'replicas', 'unreferenced replica id in the table')
  }

  header (expectKind: number): void {
    const version = this.r.byte('version')
    if (version !== CODEC_VERSION) this.r.fail('UNSUPPORTED_VERSION', 'version', `got ${version}`)
    const kind = this.r.byte('kind')
    if (kind !== expectKind) this.r.fail('UNKNOWN_TYPE', 'kind', `expected ${expectKind}, got ${kind}`)
    const n = this.r.count('replicas', 1)
    if (n > this.r.limits.maxReplicas) this.r.fail('LIMIT_EXCEEDED', 'replicas', `more than ${this.r.limits.maxReplicas}`)
    for (let i = 0; i < n; i++) {
      const id = this.r.string('replica', this.r.limits.maxReplicaIdBytes)
      if (id.length === 0) this.r.fail('INVALID_VALUE', 'replica', 'empty replica id')
      if (i > 0 && compareStrings(this.replicas[i - 1], id) >= 0) this.r.fail('NOT_SORTED', 'replica')
      this.replicas.push(id)
    }
  }

  replica (field: string): ReplicaId {
    const i = this.r.varint(field)
    if (i >= this.replicas.length) this.r.fail('INVALID_VALUE', field, `replica index ${i} out of range`)
    this.used.add(i)
    return this.replicas[i]
  }

  /** Reads a replica index that must be greater than `prev` (canonical order). */
  replicaIdx (field: string, prev: number): number {
    const i = this.r.varint(field)
    if (i >= this.replicas.length) this.r.fail('INVALID_VALUE', field, `replica index ${i} out of range`)
    if (i <= prev) this.r.fail('NOT_SORTED', field)
    this.used.add(i)
    return i
  }

  atom (field: string): Atom {
    const tag = this.r.byte(field)
    if (tag === 0) return this.r.string(field)
    if (tag === 1) return this.r.rawBytes(field, this.r.limits.maxBytesLength)
    return this.r.fail('INVALID_VALUE', field, `unknown atom tag ${tag}`)
  }

  hlc (field: string): Hlc {
    return { wall: this.r.varint(field), logical: this.r.varint(field) }
  }

  counts (field: string): Map<ReplicaId, number> {
    const n = this.r.count(field, 2)
    const out = new Map<ReplicaId, number>()
    let prev = -1
    for (let i = 0; i < n; i++) {
      prev = this.replicaIdx(`${field}.replica`, prev)
      out.set(this.replicas[prev], this.r.positive(`${field}.count`))
    }
    return out
  }

  context (field: string): CausalContext {
    const vv = this.counts(`${field}.vv`)
    const n = this.r.count(`${field}.cloud`, 2)
    const cloud: Array<[ReplicaId, number, number]> = []
    let prev = -1
    for (let i = 0; i < n; i++) {
      prev = this.replicaIdx(`${field}.cloud.replica`, prev)
      const replica = this.replicas[prev]
      const ranges = this.r.count(`${field}.cloud.ranges`, 2)
      if (ranges === 0) this.r.fail('NON_CANONICAL', `${field}.cloud.ranges`, 'empty cloud entry')
      let prevEnd = (vv.get(replica) ?? 0) + 1
      for (let j = 0; j < ranges; j++) {
        const lo = prevEnd + 1 + this.r.varint(`${field}.cloud.gap`)
        const hi = lo + this.r.varint(`${field}.cloud.length`)
        // Ranges are kept as ranges: a range of 2^50 dots costs 16 bytes, never 2^50 numbers.
        if (!Number.isSafeInteger(hi + 1)) this.r.fail('VARINT_OVERFLOW', `${field}.cloud`)
        cloud.push([replica, lo, hi])
        prevEnd = hi + 1
      }
    }
    return makeContext(vv, [], cloud)
  }

  lwwEntry (): LwwEntry | null {
    const flag = this.r.byte('entry')
    if (flag === 0) return null
    if (flag !== 1) this.r.fail('INVALID_VALUE', 'entry', `flag ${flag}`)
    const ts = this.hlc('entry.ts')
    const replica = this.replica('entry.replica')
    return { ts, replica, value: this.atom('entry.value') }
  }

  dot (field: string): Dot {
    const replica = this.replica(field)
    return { replica, counter: this.r.positive(field) }
  }

  dotSet (field: string): Dot[] {
    const n = this.r.count(field, 2)
    const out: Dot[] = []
    for (let i = 0; i < n; i++) {
      const d = this.dot(field)
      if (i > 0 && compareDots(out[i - 1], d) >= 0) this.r.fail('NOT_SORTED', field)
      out.push(d)
    }
    return out
  }

  dotFun<V> (field: string, value: () => V): Array<DotEntry<V>> {
    const n = this.r.count(field, 3)
    const out: Array<DotEntry<V>> = []
    for (let i = 0; i < n; i++) {
      const dot = this.dot(field)
      if (i > 0 && compareDots(out[i - 1].dot, dot) >= 0) this.r.fail('NOT_SORTED', field)
      out.push({ dot, value: value() })
    }
    return out
  }

  valueType (field: string, depth: number): ValueType {
    if (depth > this.r.limits.maxDepth) this.r.fail('DEPTH_EXCEEDED', field)
    const tag = this.r.byte(field)
    const kind = TAG_NAMES.get(tag)
    if (kind == null || !CAUSAL_KINDS.has(kind)) return this.r.fail('UNKNOWN_TYPE', field, `tag ${tag} is not a causal type`)
    if (kind === 'ormap') return { kind, value: this.valueType(`${field}.value`, depth + 1) }
    return { kind } as ValueType
  }

  store (t: ValueType, field: string, depth: number): Store {
    if (depth > this.r.limits.maxDepth) this.r.fail('DEPTH_EXCEEDED', field)
    const fValue = `${field}.value`
    switch (t.kind) {
      case 'ccounter': return this.dotFun(field, () => this.r.signed(fValue))
      case 'mvregister': return this.dotFun(field, () => this.atom(fValue))
      case 'clwwregister':
      case 'alog': return this.dotFun(field, () => ({ ts: this.hlc(fValue), value: this.atom(fValue) }))
      case 'orset': {
        const n = this.r.count(field, 3)
        const out = new Map<string, SetEntry>()
        let prev: Atom | undefined
        const fElement = `${field}.element`
        const fDots = `${field}.dots`
        for (let i = 0; i < n; i++) {
          const element = this.atom(fElement)
          if (prev !== undefined && compareAtoms(prev, element) >= 0) this.r.fail('NOT_SORTED', fElement)
          prev = element
          const dots = this.dotSet(fDots)
          if (dots.length === 0) this.r.fail('INVALID_STATE', fDots, 'element without dots')
          out.set(atomKey(element), { element, dots })
        }
        return out
      }
      case 'ormap': {
        const n = this.r.count(field, 2)
        const out = new Map<string, Store>()
        let prev: string | undefined
        const fKey = `${field}.key`
        for (let i = 0; i < n; i++) {
          const key = this.r.string(fKey)
          if (prev !== undefined && compareStrings(prev, key) >= 0) this.r.fail('NOT_SORTED', fKey)
          prev = key
          const v = this.store(t.value, fValue, depth + 1)
          if (isBottomStore(t.value, v)) this.r.fail('INVALID_STATE', fValue, 'empty map entry')
          out.set(key, v)
        }
        return out
      }
    }
  }

  /** Stored dots must be in the context and used once. */
  checkStore (t: ValueType, ctx: CausalContext, s: Store, field: string): void {
    const seen = new Map<ReplicaId, Set<number>>()
    const check = (d: Dot): void => {
      if (!contextContains(ctx, d)) this.r.fail('INVALID_STATE', field, 'stored dot not in the causal context')
      let counters = seen.get(d.replica)
      if (counters == null) { counters = new Set(); seen.set(d.replica, counters) }
      if (counters.has(d.counter)) this.r.fail('INVALID_STATE', field, 'dot used twice')
      counters.add(d.counter)
    }
    forEachDot(t, s, check)
  }

  crdt (): Crdt {
    const tag = this.r.byte('type')
    const kind = TAG_NAMES.get(tag)
    switch (kind) {
      case 'gcounter': return { type: 'gcounter', counts: this.counts('counts') }
      case 'pncounter': return { type: 'pncounter', p: this.counts('p'), n: this.counts('n') }
      case 'lwwregister': return { type: 'lwwregister', entry: this.lwwEntry() }
      case undefined: return this.r.fail('UNKNOWN_TYPE', 'type', `tag ${tag}`)
      default: {
        const t: ValueType = kind === 'ormap' ? { kind, value: this.valueType('valueType', 1) } : { kind } as ValueType
        const ctx = this.context('ctx')
        const store = this.store(t, 'store', 0)
        this.checkStore(t, ctx, store, 'store')
        return makeCausal(t, ctx, store)
      }
    }
  }

  digest (): Digest {
    const at = this.r.offset
    const tag = this.r.byte('type')
    const kind = TAG_NAMES.get(tag)
    switch (kind) {
      case 'gcounter': return { type: kind, versions: this.counts('versions') }
      case 'pncounter': return { type: kind, p: this.counts('p'), n: this.counts('n') }
      case 'lwwregister': return { type: 'lwwregister', entry: this.lwwEntry() }
      case undefined: return this.r.fail('UNKNOWN_TYPE', 'type', `tag ${tag} at ${at}`)
      default: {
        const t: ValueType = kind === 'ormap' ? { kind, value: this.valueType('valueType', 1) } : { kind } as ValueType
        const ctx = this.context('ctx')
        const live = this.dotSet('live')
        for (const d of live) if (!contextContains(ctx, d)) this.r.fail('INVALID_STATE', 'live', 'live dot not in the causal context')
        return { type: 'causal', valueType: t, ctx, live }
      }
    }
  }
}

function run<T> (bytes: unknown, limits: Partial<CodecLimits> | undefined, kind: number, body: (d: Decoder) => T): T {
  if (!(bytes instanceof Uint8Array)) throw new CrdtDecodeError('NOT_BYTES', 'message', 0, 'input is not a Uint8Array')
  const lim: CodecLimits = { ...DEFAULT_LIMITS, ...limits }
  if (bytes.length > lim.maxBytes) throw new CrdtDecodeError('TOO_LARGE', 'message', 0, `${bytes.length} bytes > ${lim.maxBytes}`)
  const r = new Reader(bytes, lim)
  try {
    const d = new Decoder(r)
    d.header(kind)
    const out = body(d)
    r.end()
    d.checkTableUsed()
    return out
  } catch (err) {
    if (err instanceof CrdtDecodeError) throw err
    // Defensive: nothing else may escape the decoder.
    throw new CrdtDecodeError('INVALID_VALUE', 'message', r.offset, err instanceof Error ? err.message : String(err))
  }
}

/** Decode a state/delta. Throws only CrdtDecodeError. */
export function decodeCrdt (bytes: Uint8Array, limits?: Partial<CodecLimits>): Crdt {
  return run(bytes, limits, KIND_STATE, (d) => d.crdt())
}

export function decodeDeltaGroup (bytes: Uint8Array, limits?: Partial<CodecLimits>): DeltaGroup {
  return run(bytes, limits, KIND_GROUP, (d) => {
    const seq = d.r.varint('seq')
    const flags = d.r.byte('flags')
    if (flags > 1) d.r.fail('INVALID_VALUE', 'flags', `unknown flags ${flags}`)
    return { seq, full: flags === 1, state: d.crdt() }
  })
}

export function decodeDigest (bytes: Uint8Array, limits?: Partial<CodecLimits>): Digest {
  return run(bytes, limits, KIND_DIGEST, (d) => d.digest())
}

/**
 * Every replica id a state mentions (sorted): lets a replication layer drop
 * deltas that carry events of replicas outside a service's replica set.
 */
export function replicaIds (s: Crdt): ReplicaId[] {
  const t = new ReplicaTable()
  collectCrdt(t, s)
  return t.seal()
}

/** Encoded size in bytes (for accounting and the delta/full decision). */
export function encodedSize (s: Crdt): number {
  return encodeCrdt(s).length
}
