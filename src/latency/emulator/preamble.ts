/**
 * The link-emulator preamble: the first bytes each side writes on a raw TCP
 * connection, before the libp2p upgrade (multistream-select, noise, yamux).
 *
 *   offset  size  field
 *   0       4     magic  0x64 0x6c 0x65 0x6d ("dlem")
 *   4       1     version (1)
 *   5       1     region length L, 1..MAX_REGION_BYTES
 *   6       L     region name, printable ASCII (0x21..0x7e)
 *
 * The decoder is incremental and strict: it rejects a connection as soon as
 * the bytes seen so far cannot be a valid preamble (so a client speaking some
 * other protocol is dropped on its first byte), and never reads past the
 * preamble (what follows belongs to the libp2p upgrade).
 */
import { PreambleError } from './errors.js'

export const PREAMBLE_MAGIC = Uint8Array.of(0x64, 0x6c, 0x65, 0x6d)
export const PREAMBLE_VERSION = 1
export const MAX_REGION_BYTES = 64
const HEADER_BYTES = PREAMBLE_MAGIC.length + 2
export const MAX_PREAMBLE_BYTES = HEADER_BYTES + MAX_REGION_BYTES

/** Why a region name is not acceptable, or undefined if it is. */
export function regionProblem (region: string): string | undefined {
  if (region.length === 0) return 'is empty'
  if (region.length > MAX_REGION_BYTES) return `is longer than ${MAX_REGION_BYTES} characters`
  for (let i = 0; i < region.length; i++) {
    const c = region.charCodeAt(i)
    if (c < 0x21 || c > 0x7e) return `has a character outside printable ASCII at position ${i}`
  }
  return undefined
}

export function encodePreamble (region: string): Uint8Array {
  const problem = regionProblem(region)
  if (problem != null) throw new PreambleError('BAD_REGION_CHARS', `region ${JSON.stringify(region)} ${problem}`)
  const out = new Uint8Array(HEADER_BYTES + region.length)
  out.set(PREAMBLE_MAGIC, 0)
  out[4] = PREAMBLE_VERSION
  out[5] = region.length
  for (let i = 0; i < region.length; i++) out[HEADER_BYTES + i] = region.charCodeAt(i)
  return out
}

export type DecodeResult =
  | { done: false }
  | { done: true, region: string, consumed: number }

/**
 * Decode a preamble from the start of `buf` (all bytes received so far).
 * Returns `{done: false}` if more bytes are needed, the region and the number
 * of bytes it used when complete, and throws PreambleError when the bytes can
 * never form a valid preamble.
 */
export function decodePreamble (buf: Uint8Array): DecodeResult {
  const magicSeen = Math.min(buf.length, PREAMBLE_MAGIC.length)
  for (let i = 0; i < magicSeen; i++) {
    if (buf[i] !== PREAMBLE_MAGIC[i]) {
      throw new PreambleError('BAD_MAGIC', `bad preamble magic byte 0x${buf[i].toString(16).padStart(2, '0')} at offset ${i}`)
    }
  }
  if (buf.length < 5) return { done: false }
  if (buf[4] !== PREAMBLE_VERSION) {
    throw new PreambleError('BAD_VERSION', `unsupported preamble version ${buf[4]} (expected ${PREAMBLE_VERSION})`)
  }
  if (buf.length < HEADER_BYTES) return { done: false }
  const len = buf[5]
  if (len === 0 || len > MAX_REGION_BYTES) {
    throw new PreambleError('BAD_REGION_LENGTH', `preamble region length ${len} outside 1..${MAX_REGION_BYTES}`)
  }
  // check characters as they arrive so junk is rejected early
  const have = Math.min(buf.length - HEADER_BYTES, len)
  for (let i = 0; i < have; i++) {
    const c = buf[HEADER_BYTES + i]
    if (c < 0x21 || c > 0x7e) {
      throw new PreambleError('BAD_REGION_CHARS', `preamble region byte 0x${c.toString(16).padStart(2, '0')} at position ${i} is not printable ASCII`)
    }
  }
  if (have < len) return { done: false }
  let region = ''
  for (let i = 0; i < len; i++) region += String.fromCharCode(buf[HEADER_BYTES + i])
  return { done: true, region, consumed: HEADER_BYTES + len }
}
