/**
 * The automerge engine's data model on one automerge document per service.
 *
 * Every replica starts from the same deterministic base change (fixed actor,
 * fixed time), so the root maps are one object everywhere and concurrent
 * first writes never create rival maps. To avoid automerge's
 * concurrent-creation conflicts, nested per-key structures are flattened:
 *
 *   kv[key]                     the JSON value (concurrent puts: automerge's
 *                               deterministic winner; delete vs put: put wins)
 *   revs[key \0 peer]           writes of `key` by `peer` (only that peer writes
 *                               the slot): revision = sum over peers, so it only grows
 *   counters[key \0 peer]       `peer`'s net contribution: value = sum over peers
 *   sets[key \0 member]         true while present (add vs concurrent remove: add wins)
 *   seq[peer]                   updates made by `peer`: staleness accounting
 *
 * PUT stores the JSON value of the body (the body must be JSON); GET returns
 * it as JSON text. Reading a counter or a set scans its map (O(entries)).
 */
import * as A from '@automerge/automerge'
import { createHash } from 'node:crypto'

export interface ServiceDoc {
  kv: Record<string, unknown>
  revs: Record<string, number>
  counters: Record<string, number>
  sets: Record<string, boolean>
  seq: Record<string, number>
}

const SEP = '\u0000'
const BASE_ACTOR = '00000000000000000000000000000000'

/** The shared base document: byte-identical on every replica. */
export function baseDoc (actor: string): A.Doc<ServiceDoc> {
  const base = A.change(A.init<ServiceDoc>({ actor: BASE_ACTOR }), { time: 0, message: 'dcis base' }, (d) => {
    d.kv = {}
    d.revs = {}
    d.counters = {}
    d.sets = {}
    d.seq = {}
  })
  return A.load<ServiceDoc>(A.save(base), { actor })
}

/** automerge actor id of a peer (hex, 16 bytes of sha-256 of the peer id) */
export function actorOf (peerId: string): string {
  return createHash('sha256').update(peerId).digest('hex').slice(0, 32)
}

export function assertKey (key: string, field = 'key'): void {
  if (key.includes(SEP)) throw new TypeError(`${field} must not contain U+0000 in an automerge service`)
}

function sumPrefix (m: Record<string, number> | undefined, prefix: string): number {
  let n = 0
  if (m == null) return 0
  for (const k of Object.keys(m)) if (k.startsWith(prefix)) n += m[k]
  return n
}

export function revision (doc: A.Doc<ServiceDoc>, key: string): number {
  return sumPrefix(doc.revs, key + SEP)
}

export function getValue (doc: A.Doc<ServiceDoc>, key: string): string | undefined {
  if (doc.kv == null || !Object.prototype.hasOwnProperty.call(doc.kv, key)) return undefined
  // the value's own proxy serializes to the same JSON; A.toJS(doc) would copy the whole document per read
  return JSON.stringify(doc.kv[key])
}

export function counter (doc: A.Doc<ServiceDoc>, key: string): number {
  return sumPrefix(doc.counters, key + SEP)
}

export function members (doc: A.Doc<ServiceDoc>, key: string): string[] {
  const prefix = key + SEP
  return Object.keys(doc.sets ?? {}).filter(k => k.startsWith(prefix)).map(k => k.slice(prefix.length)).sort()
}

export function seqOf (doc: A.Doc<ServiceDoc>, peer: string): number {
  return doc.seq?.[peer] ?? 0
}

function bump (d: ServiceDoc, self: string): void {
  d.seq[self] = (d.seq[self] ?? 0) + 1
}

export function put (doc: A.Doc<ServiceDoc>, self: string, key: string, value: unknown, now: number): A.Doc<ServiceDoc> {
  return A.change(doc, { time: Math.floor(now / 1000) }, (d) => {
    d.kv[key] = value as never
    const slot = key + SEP + self
    d.revs[slot] = (d.revs[slot] ?? 0) + 1
    bump(d, self)
  })
}

export function remove (doc: A.Doc<ServiceDoc>, self: string, key: string, now: number): A.Doc<ServiceDoc> {
  return A.change(doc, { time: Math.floor(now / 1000) }, (d) => {
    Reflect.deleteProperty(d.kv, key)
    const slot = key + SEP + self
    d.revs[slot] = (d.revs[slot] ?? 0) + 1
    bump(d, self)
  })
}

export function add (doc: A.Doc<ServiceDoc>, self: string, key: string, delta: number, now: number): A.Doc<ServiceDoc> {
  return A.change(doc, { time: Math.floor(now / 1000) }, (d) => {
    const slot = key + SEP + self
    d.counters[slot] = (d.counters[slot] ?? 0) + delta
    bump(d, self)
  })
}

export function setAdd (doc: A.Doc<ServiceDoc>, self: string, key: string, member: string, now: number): A.Doc<ServiceDoc> {
  return A.change(doc, { time: Math.floor(now / 1000) }, (d) => {
    d.sets[key + SEP + member] = true
    bump(d, self)
  })
}

export function setRemove (doc: A.Doc<ServiceDoc>, self: string, key: string, member: string, now: number): A.Doc<ServiceDoc> {
  return A.change(doc, { time: Math.floor(now / 1000) }, (d) => {
    Reflect.deleteProperty(d.sets, key + SEP + member)
    bump(d, self)
  })
}
