/**
 * Snapshot file codec (pure). Layout:
 *
 *   "DCSN" | version u8 (=1) | crc32c u32 LE of everything after it |
 *   index u64 | term u64 | confLen u32 | confState JSON (confLen bytes) | data
 *
 * File name: `<index 16 hex>-<term 16 hex>.snap`, so names sort by index.
 */
import type { ConfState, Snapshot } from '../core/types.js'
import { crc32c } from './crc32c.js'

const MAGIC = [0x44, 0x43, 0x53, 0x4e] // "DCSN"
const VERSION = 1
const FIXED = 4 + 1 + 4 + 8 + 8 + 4
const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/

export class SnapshotFormatError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SnapshotFormatError'
  }
}

export function snapshotFileName (index: number, term: number): string {
  return `${index.toString(16).padStart(16, '0')}-${term.toString(16).padStart(16, '0')}.snap`
}

export function parseSnapshotFileName (name: string): { index: number, term: number } | undefined {
  const m = NAME_RE.exec(name)
  if (m == null) return undefined
  const index = parseInt(m[1], 16)
  const term = parseInt(m[2], 16)
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(term)) return undefined
  return { index, term }
}

export function encodeSnapshot (snap: Snapshot): Uint8Array {
  const conf = new TextEncoder().encode(JSON.stringify(snap.metadata.confState))
  const out = new Uint8Array(FIXED + conf.length + snap.data.length)
  const view = new DataView(out.buffer)
  out.set(MAGIC, 0)
  out[4] = VERSION
  setU64(view, 9, snap.metadata.index)
  setU64(view, 17, snap.metadata.term)
  view.setUint32(25, conf.length, true)
  out.set(conf, FIXED)
  out.set(snap.data, FIXED + conf.length)
  view.setUint32(5, crc32c(out, 9), true)
  return out
}

export function decodeSnapshot (buf: Uint8Array): Snapshot {
  if (buf.length < FIXED) throw new SnapshotFormatError('file too short')
  for (let i = 0; i < 4; i++) if (buf[i] !== MAGIC[i]) throw new SnapshotFormatError('bad magic')
  if (buf[4] !== VERSION) throw new SnapshotFormatError(`unsupported version ${buf[4]}`)
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  if (view.getUint32(5, true) !== crc32c(buf, 9)) throw new SnapshotFormatError('checksum mismatch')
  const index = getU64(view, 9)
  const term = getU64(view, 17)
  const confLen = view.getUint32(25, true)
  if (FIXED + confLen > buf.length) throw new SnapshotFormatError('confState length beyond end of file')
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(FIXED, FIXED + confLen)))
  } catch {
    throw new SnapshotFormatError('confState is not valid JSON')
  }
  return {
    metadata: { index, term, confState: toConfState(parsed) },
    data: buf.slice(FIXED + confLen)
  }
}

function stringArray (v: unknown, field: string): string[] {
  if (!Array.isArray(v) || !v.every(x => typeof x === 'string')) throw new SnapshotFormatError(`confState.${field} must be an array of strings`)
  return v
}

function toConfState (v: unknown): ConfState {
  if (typeof v !== 'object' || v == null) throw new SnapshotFormatError('confState must be an object')
  const o = v as Record<string, unknown>
  if (typeof o.autoLeave !== 'boolean') throw new SnapshotFormatError('confState.autoLeave must be a boolean')
  return {
    voters: stringArray(o.voters, 'voters'),
    learners: stringArray(o.learners, 'learners'),
    votersOutgoing: stringArray(o.votersOutgoing, 'votersOutgoing'),
    learnersNext: stringArray(o.learnersNext, 'learnersNext'),
    autoLeave: o.autoLeave
  }
}

function setU64 (view: DataView, at: number, n: number): void {
  view.setUint32(at, n % 0x100000000, true)
  view.setUint32(at + 4, Math.floor(n / 0x100000000), true)
}

function getU64 (view: DataView, at: number): number {
  const lo = view.getUint32(at, true)
  const hi = view.getUint32(at + 4, true)
  if (hi > 0x1fffff) throw new SnapshotFormatError('integer exceeds 2^53')
  return hi * 0x100000000 + lo
}
