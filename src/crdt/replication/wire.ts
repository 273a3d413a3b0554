/**
 * Wire formats of CRDT replication (strict: every decoder throws only
 * ReplicationFrameError or CrdtDecodeError, never allocates more than the
 * input allows, and rejects trailing bytes).
 *
 * gossip  = ver:u8(=1) kind:u8 (1 delta | 2 heartbeat) seq wall logical [delta]
 * delta   = mask (bit i: section i present)  per present section: bytes(encodeCrdt(ormap))
 * sync    = ver:u8(=1) kind:u8 object:string body
 *   1 digest: n bytes(encodeDigest)        (initiator: "here is what I have")
 *   2 reply:  n part  n bytes(digest)      (responder: what you lack + what I have)
 *   3 push:   n part                       (initiator: what the responder lacks)
 *   4 refuse: reason:string
 * part    = 0 none | 1 delta bytes(state) | 2 full bytes(state)
 * seq is the sender's own update count (see state.ts), wall/logical its HLC
 * after its latest update; receivers use them for staleness.
 */
import { decodeCrdt, decodeDigest, digest as digestOf, encodeCrdt, encodeDigest, ormap } from '../index.js'
import type { CodecLimits, Digest, ORMap, ValueType } from '../index.js'
import { DEFAULT_LIMITS, Reader, Writer } from '../codec-io.js'
import { valueTypesEqual } from '../stores.js'
import type { Hlc } from '../hlc.js'
import { ReplicationFrameError } from './errors.js'
import { fitsSection } from './state.js'
import type { SectionDelta } from './state.js'

export const WIRE_VERSION = 1
/** default bound of one gossip message or sync frame */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024
const MAX_SECTIONS = 8

export type GossipMessage =
  | { kind: 'delta', seq: number, hlc: Hlc, delta: SectionDelta }
  | { kind: 'heartbeat', seq: number, hlc: Hlc }

export type SyncPart = { mode: 'none' } | { mode: 'delta' | 'full', state: ORMap }

export type SyncFrame =
  | { kind: 'digest', object: string, digests: Digest[] }
  | { kind: 'reply', object: string, parts: SyncPart[], digests: Digest[] }
  | { kind: 'push', object: string, parts: SyncPart[] }
  | { kind: 'refuse', object: string, reason: string }

function limitsFor (maxBytes: number): Partial<CodecLimits> {
  return { maxBytes }
}

function header (w: Writer, kind: number): void {
  w.byte(WIRE_VERSION)
  w.byte(kind)
}

export function encodeGossip (msg: GossipMessage): Uint8Array {
  const w = new Writer()
  header(w, msg.kind === 'delta' ? 1 : 2)
  w.varint(msg.seq)
  w.varint(msg.hlc.wall)
  w.varint(msg.hlc.logical)
  if (msg.kind === 'delta') {
    let mask = 0
    msg.delta.forEach((d, i) => { if (d != null) mask |= 1 << i })
    w.varint(mask)
    for (const d of msg.delta) if (d != null) w.bytes(encodeCrdt(d))
  }
  return w.finish()
}

function reader (bytes: Uint8Array, maxBytes: number): Reader {
  if (!(bytes instanceof Uint8Array)) throw new ReplicationFrameError('message', 'not bytes')
  if (bytes.length > maxBytes) throw new ReplicationFrameError('message', `${bytes.length} bytes > limit ${maxBytes}`)
  const r = new Reader(bytes, { ...DEFAULT_LIMITS, maxBytes })
  const v = r.byte('version')
  if (v !== WIRE_VERSION) throw new ReplicationFrameError('version', `unsupported version ${v}`)
  return r
}

function section (r: Reader, types: readonly ValueType[], i: number, maxBytes: number, field: string): ORMap {
  const bytes = r.rawBytes(field, maxBytes)
  const s = decodeCrdt(bytes, limitsFor(maxBytes))
  if (!fitsSection(types, i, s)) throw new ReplicationFrameError(field, `not an ormap of the section's value type`)
  return s
}

/** Decodes a gossip message for an object whose sections are `types`. */
export function decodeGossip (bytes: Uint8Array, types: readonly ValueType[], maxBytes = MAX_FRAME_BYTES): GossipMessage {
  const r = reader(bytes, maxBytes)
  const kind = r.byte('kind')
  if (kind !== 1 && kind !== 2) throw new ReplicationFrameError('kind', `unknown kind ${kind}`)
  const seq = r.varint('seq')
  const hlc = { wall: r.varint('hlc.wall'), logical: r.varint('hlc.logical') }
  if (kind === 2) {
    r.end()
    return { kind: 'heartbeat', seq, hlc }
  }
  const mask = r.varint('mask')
  if (mask === 0) throw new ReplicationFrameError('mask', 'a delta with no section')
  if (mask >= 1 << types.length) throw new ReplicationFrameError('mask', `names a section beyond ${types.length}`)
  const delta: Array<ORMap | null> = types.map(() => null)
  for (let i = 0; i < types.length; i++) {
    if ((mask & (1 << i)) !== 0) delta[i] = section(r, types, i, maxBytes, `sections[${i}]`)
  }
  r.end()
  return { kind: 'delta', seq, hlc, delta }
}

export function encodeSyncFrame (f: SyncFrame): Uint8Array {
  const w = new Writer()
  header(w, { digest: 1, reply: 2, push: 3, refuse: 4 }[f.kind])
  w.string(f.object, 'object')
  if (f.kind === 'refuse') {
    w.string(f.reason, 'reason')
    return w.finish()
  }
  if (f.kind === 'reply' || f.kind === 'push') {
    w.varint(f.parts.length)
    for (const p of f.parts) {
      if (p.mode === 'none') {
        w.byte(0)
      } else {
        w.byte(p.mode === 'delta' ? 1 : 2)
        w.bytes(encodeCrdt(p.state))
      }
    }
  }
  if (f.kind === 'digest' || f.kind === 'reply') {
    w.varint(f.digests.length)
    for (const d of f.digests) w.bytes(encodeDigest(d))
  }
  return w.finish()
}

function digestTypeOf (t: ValueType): ValueType {
  const d = digestOf(ormap.bottom(t))
  return d.type === 'causal' ? d.valueType : t
}

function readDigests (r: Reader, types: readonly ValueType[], maxBytes: number): Digest[] {
  const n = r.varint('digests')
  if (n !== types.length) throw new ReplicationFrameError('digests', `expected ${types.length}, got ${n}`)
  const out: Digest[] = []
  for (let i = 0; i < n; i++) {
    const d = decodeDigest(r.rawBytes(`digests[${i}]`, maxBytes), limitsFor(maxBytes))
    if (d.type !== 'causal' || !valueTypesEqual(d.valueType, digestTypeOf(types[i]))) {
      throw new ReplicationFrameError(`digests[${i}]`, 'not a digest of the section\'s type')
    }
    out.push(d)
  }
  return out
}

function readParts (r: Reader, types: readonly ValueType[], maxBytes: number): SyncPart[] {
  const n = r.varint('parts')
  if (n !== types.length) throw new ReplicationFrameError('parts', `expected ${types.length}, got ${n}`)
  const out: SyncPart[] = []
  for (let i = 0; i < n; i++) {
    const mode = r.byte(`parts[${i}].mode`)
    if (mode === 0) out.push({ mode: 'none' })
    else if (mode === 1 || mode === 2) out.push({ mode: mode === 1 ? 'delta' : 'full', state: section(r, types, i, maxBytes, `parts[${i}].state`) })
    else throw new ReplicationFrameError(`parts[${i}].mode`, `unknown mode ${mode}`)
  }
  return out
}

/**
 * Decodes a sync frame; `typesOf(object)` gives the object's sections, or
 * undefined when this peer does not replicate it (then the frame is refused).
 */
export function decodeSyncFrame (bytes: Uint8Array, typesOf: (object: string) => readonly ValueType[] | undefined, maxBytes = MAX_FRAME_BYTES): SyncFrame {
  const r = reader(bytes, maxBytes)
  const kind = r.byte('kind')
  if (kind < 1 || kind > 4) throw new ReplicationFrameError('kind', `unknown kind ${kind}`)
  const object = r.string('object', 256)
  if (kind === 4) {
    const reason = r.string('reason', 1024)
    r.end()
    return { kind: 'refuse', object, reason }
  }
  const types = typesOf(object)
  if (types == null || types.length > MAX_SECTIONS) throw new ReplicationFrameError('object', `${JSON.stringify(object)} is not replicated here`)
  let frame: SyncFrame
  if (kind === 1) frame = { kind: 'digest', object, digests: readDigests(r, types, maxBytes) }
  else if (kind === 2) {
    const parts = readParts(r, types, maxBytes)
    frame = { kind: 'reply', object, parts, digests: readDigests(r, types, maxBytes) }
  } else frame = { kind: 'push', object, parts: readParts(r, types, maxBytes) }
  r.end()
  return frame
}
