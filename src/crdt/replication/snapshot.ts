/**
 * On-disk snapshot of a replicated object: ver:u8(=1) wall logical n bytes(encodeCrdt(section))×n.
 * Decoded as strictly as network input (a damaged file is an error, never a crash).
 */
import { decodeCrdt, encodeCrdt, ormap } from '../index.js'
import type { Hlc, ORMap } from '../index.js'
import { DEFAULT_LIMITS, Reader, Writer } from '../codec-io.js'
import { ReplicationFrameError } from './errors.js'
import { fitsSection } from './state.js'
import type { SectionedState } from './state.js'
import { decodeGossip, WIRE_VERSION } from './wire.js'

const MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024

export function encodeSnapshot (s: SectionedState, clock: Hlc): Uint8Array {
  const w = new Writer()
  w.byte(1)
  w.varint(clock.wall)
  w.varint(clock.logical)
  w.varint(s.sections.length)
  for (const m of s.sections) w.bytes(encodeCrdt(m))
  return w.finish()
}

export function decodeSnapshot (bytes: Uint8Array, types: SectionedState['types']): { state: SectionedState, clock: Hlc } {
  const r = new Reader(bytes, { ...DEFAULT_LIMITS, maxBytes: MAX_SNAPSHOT_BYTES })
  const v = r.byte('version')
  if (v !== 1) throw new ReplicationFrameError('version', `unsupported snapshot version ${v}`)
  const clock = { wall: r.varint('clock.wall'), logical: r.varint('clock.logical') }
  const n = r.varint('sections')
  // a snapshot written before sections were added (logs) has fewer: the missing ones start empty
  if (n === 0 || n > types.length) throw new ReplicationFrameError('sections', `expected ${types.length}, got ${n}`)
  const sections: ORMap[] = []
  for (let i = 0; i < n; i++) {
    const m = decodeCrdt(r.rawBytes(`sections[${i}]`, MAX_SNAPSHOT_BYTES), { maxBytes: MAX_SNAPSHOT_BYTES, maxElements: 50_000_000 })
    if (!fitsSection(types, i, m)) throw new ReplicationFrameError(`sections[${i}]`, 'not an ormap of the section\'s value type')
    sections.push(m)
  }
  r.end()
  for (let i = n; i < types.length; i++) sections.push(ormap.bottom(types[i]))
  return { state: { types, sections }, clock }
}

/**
 * One record of an object's on-disk delta log (see service/object.ts):
 * ver:u8(=2) wall logical mask per present section: bytes(encodeCrdt(ormap)),
 * or a received gossip delta message as it arrived (wire.ts, ver:u8(=1)).
 * The clock is the object's HLC after the delta; replaying a record joins
 * the delta (idempotent) and advances the clock to at least it.
 */
export function encodeDeltaRecord (delta: ReadonlyArray<ORMap | null>, clock: Hlc): Uint8Array {
  const w = new Writer()
  w.byte(2)
  w.varint(clock.wall)
  w.varint(clock.logical)
  let mask = 0
  delta.forEach((d, i) => { if (d != null) mask |= 1 << i })
  w.varint(mask)
  for (const d of delta) if (d != null) w.bytes(encodeCrdt(d))
  return w.finish()
}

export function decodeDeltaRecord (bytes: Uint8Array, types: SectionedState['types']): { delta: Array<ORMap | null>, clock: Hlc } {
  // a received gossip delta is logged as it arrived (wire version 1): not encoded twice
  if (bytes.length > 0 && bytes[0] === WIRE_VERSION) {
    const m = decodeGossip(bytes, types, MAX_SNAPSHOT_BYTES)
    if (m.kind !== 'delta') throw new ReplicationFrameError('kind', 'a logged gossip message must be a delta')
    return { delta: [...m.delta], clock: m.hlc }
  }
  const r = new Reader(bytes, { ...DEFAULT_LIMITS, maxBytes: MAX_SNAPSHOT_BYTES })
  const v = r.byte('version')
  if (v !== 2) throw new ReplicationFrameError('version', `unsupported delta record version ${v}`)
  const clock = { wall: r.varint('clock.wall'), logical: r.varint('clock.logical') }
  const mask = r.varint('mask')
  if (mask === 0 || mask >= 1 << types.length) throw new ReplicationFrameError('mask', `bad section mask ${mask}`)
  const delta: Array<ORMap | null> = types.map(() => null)
  for (let i = 0; i < types.length; i++) {
    if ((mask & (1 << i)) === 0) continue
    const m = decodeCrdt(r.rawBytes(`sections[${i}]`, MAX_SNAPSHOT_BYTES), { maxBytes: MAX_SNAPSHOT_BYTES, maxElements: 50_000_000 })
    if (!fitsSection(types, i, m)) throw new ReplicationFrameError(`sections[${i}]`, 'not an ormap of the section\'s value type')
    delta[i] = m
  }
  r.end()
  return { delta, clock }
}
