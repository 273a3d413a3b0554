/**
 * Byte-level reading and writing for the CRDT codec: unsigned LEB128
 * varints (minimal, at most 2^53 - 1), length-prefixed UTF-8 strings and
 * bytes. The reader enforces limits before allocating anything and raises
 * only CrdtDecodeError.
 */
import { Buffer } from 'node:buffer'
import { CrdtArgumentError, CrdtDecodeError } from './errors.js'
import type { CrdtDecodeReason } from './errors.js'

export interface CodecLimits {
  /** Largest accepted message. */
  readonly maxBytes: number
  /** Budget for all counted items in one message (entries, dots, cloud dots, keys). */
  readonly maxElements: number
  /** Longest UTF-8 string (atom, map key) in bytes. */
  readonly maxStringBytes: number
  /** Longest byte-string atom. */
  readonly maxBytesLength: number
  /** Deepest ORMap / value-type nesting. */
  readonly maxDepth: number
  /** Most distinct replica ids in one message. */
  readonly maxReplicas: number
  /** Longest replica id in UTF-8 bytes. */
  readonly maxReplicaIdBytes: number
}

export const DEFAULT_LIMITS: CodecLimits = Object.freeze({
  maxBytes: 16 * 1024 * 1024,
  maxElements: 1_000_000,
  maxStringBytes: 64 * 1024,
  maxBytesLength: 1024 * 1024,
  maxDepth: 16,
  maxReplicas: 65_536,
  maxReplicaIdBytes: 256
})

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * Spare buffers, handed from finished Writers to the next ones: a large
 * delta (a batch of 5,000 log entries is ~0.5 MB) is then encoded into a
 * buffer that already has the room, instead of growing one from 256 bytes
 * (eleven doublings, their copies and their garbage) every time. Two, since
 * a Writer is nested in another (a section inside a gossip message or a
 * delta record); encoding is synchronous, so a buffer is never shared. At
 * most 2 x MAX_SPARE bytes stay allocated.
 */
const spares: Uint8Array[] = []
const MAX_SPARES = 2
/** a buffer larger than this is not kept */
const MAX_SPARE = 1024 * 1024
const EMPTY = new Uint8Array(0)

function release (buf: Uint8Array): void {
  if (buf.length > MAX_SPARE || buf.length === 0) return
  if (spares.length < MAX_SPARES) { spares.push(buf); return }
  // keep the larger ones
  let min = 0
  for (let i = 1; i < spares.length; i++) if (spares[i].length < spares[min].length) min = i
  if (spares[min].length < buf.length) spares[min] = buf
}

const ENC = new TextEncoder()

export class Writer {
  private buf: Uint8Array
  private len = 0

  constructor () {
    this.buf = spares.pop() ?? new Uint8Array(256)
  }

  private ensure (n: number): void {
    if (this.len + n <= this.buf.length) return
    let size = Math.max(256, this.buf.length * 2)
    while (size < this.len + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
  }

  byte (b: number): void {
    if (this.len >= this.buf.length) this.ensure(1)
    this.buf[this.len++] = b
  }

  varint (n: number): void {
    if (n >= 0 && n < 0x80 && Number.isInteger(n)) {
      // one byte: most counts, lengths and counters
      if (this.len >= this.buf.length) this.ensure(1)
      this.buf[this.len++] = n
      return
    }
    if (!Number.isSafeInteger(n) || n < 0) throw new CrdtArgumentError('varint', `cannot encode ${n}: not a non-negative safe integer`)
    this.ensure(8)
    while (n >= 0x80) {
      this.buf[this.len++] = (n % 0x80) | 0x80
      n = Math.floor(n / 0x80)
    }
    this.buf[this.len++] = n
  }

  /** Sign byte (0 = non-negative, 1 = negative) then the magnitude. */
  signed (n: number): void {
    this.byte(n < 0 ? 1 : 0)
    this.varint(Math.abs(n))
  }

  bytes (b: Uint8Array): void {
    this.varint(b.length)
    this.ensure(b.length)
    this.buf.set(b, this.len)
    this.len += b.length
  }

  string (s: string, field: string): void {
    // Fast path: ASCII is its own UTF-8 (written straight into the buffer, any length).
    const n = s.length
    this.ensure(8 + n)
    const lenAt = this.len
    let at = lenAt + (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 8)
    let ascii = true
    const buf = this.buf
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) { ascii = false; break }
      buf[at++] = c
    }
    if (ascii && n < 0x200000) {
      this.varint(n)
      // the varint took exactly the bytes reserved for it
      this.len = at
      return
    }
    this.len = lenAt
    if (LONE_SURROGATE.test(s)) throw new CrdtArgumentError(field, 'string is not well-formed UTF-16 (lone surrogate)')
    this.bytes(ENC.encode(s))
  }

  /** the bytes written; the Writer is empty afterwards (its buffer goes to the next Writer) */
  finish (): Uint8Array {
    const out = this.buf.slice(0, this.len)
    release(this.buf)
    this.buf = EMPTY
    this.len = 0
    return out
  }
}

export class Reader {
  private pos = 0
  private elements = 0
  private readonly dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

  private readonly latin1: Buffer

  constructor (private readonly buf: Uint8Array, readonly limits: CodecLimits) {
    this.latin1 = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  get offset (): number { return this.pos }
  get remaining (): number { return this.buf.length - this.pos }

  fail (reason: CrdtDecodeReason, field: string, detail?: string): never {
    throw new CrdtDecodeError(reason, field, this.pos, detail)
  }

  byte (field: string): number {
    if (this.pos >= this.buf.length) this.fail('TRUNCATED', field)
    return this.buf[this.pos++]
  }

  varint (field: string): number {
    let value = 0
    let scale = 1
    for (let i = 0; ; i++) {
      if (i >= 8) this.fail('VARINT_OVERFLOW', field)
      const b = this.byte(field)
      value += (b & 0x7f) * scale
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) this.fail('NON_CANONICAL', field, 'varint has a redundant trailing byte')
        break
      }
      scale *= 0x80
    }
    if (!Number.isSafeInteger(value)) this.fail('VARINT_OVERFLOW', field)
    return value
  }

  /** A varint that must be >= 1. */
  positive (field: string): number {
    const v = this.varint(field)
    if (v === 0) this.fail('INVALID_VALUE', field, 'must be positive')
    return v
  }

  signed (field: string): number {
    const sign = this.byte(field)
    if (sign > 1) this.fail('INVALID_VALUE', field, 'bad sign byte')
    const mag = this.varint(field)
    if (sign === 1 && mag === 0) this.fail('NON_CANONICAL', field, 'negative zero')
    return sign === 1 ? -mag : mag
  }

  /** Charge `n` items against the message's element budget. */
  charge (n: number, field: string): void {
    this.elements += n
    if (this.elements > this.limits.maxElements) this.fail('LIMIT_EXCEEDED', field, `more than ${this.limits.maxElements} elements`)
  }

  /** A count of following items, each taking at least `minBytes` bytes; charged against the budget. */
  count (field: string, minBytes = 1): number {
    const n = this.varint(field)
    if (n * minBytes > this.remaining) this.fail('TRUNCATED', field, `count ${n} exceeds the remaining input`)
    this.charge(n, field)
    return n
  }

  rawBytes (field: string, max: number): Uint8Array {
    const n = this.varint(field)
    if (n > max) this.fail('LIMIT_EXCEEDED', field, `length ${n} > ${max}`)
    if (n > this.remaining) this.fail('TRUNCATED', field)
    const out = this.buf.slice(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  string (field: string, max = this.limits.maxStringBytes): string {
    const n = this.varint(field)
    if (n > max) this.fail('LIMIT_EXCEEDED', field, `length ${n} > ${max}`)
    if (n > this.remaining) this.fail('TRUNCATED', field)
    const start = this.pos
    const end = start + n
    let ascii = true
    for (let i = start; i < end; i++) if (this.buf[i] >= 0x80) { ascii = false; break }
    let out: string
    if (ascii) {
      // ASCII is valid UTF-8 and decodes byte for byte.
      out = this.latin1.toString('latin1', start, end)
    } else {
      try {
        out = this.dec.decode(this.buf.subarray(start, end))
      } catch {
        return this.fail('INVALID_UTF8', field)
      }
    }
    this.pos = end
    return out
  }

  end (): void {
    if (this.pos !== this.buf.length) this.fail('TRAILING_BYTES', 'message')
  }
}
