/**
 * The link-emulator preamble: the first bytes each side writes on a raw TCP
 * connection, before the libp2p upgrade (multistream-select, noise, yamux).
 *
 *   offset  size  field
 *   0       4     magic  0x64 0x6c 0x65 0x6d ("dlem")
 *   4       1     version (1, or 2 when a site follows)
 *   5       1     region length L, 1..MAX_REGION_BYTES
 *   6       L     region name, printable ASCII (0x21..0x7e)
 *   6+L     1     (version 2) site length S, 1..MAX_REGION_BYTES
 *   7+L     S     (version 2) site name, printable ASCII
 *
 * The site names the peer (or group of peers) for link faults (faults.ts);
 * a version-1 preamble's site is its region. A peer whose site equals its
 * region writes version 1, so meshes without faults keep the old bytes.
 *
 * The decoder is incremental and strict: it rejects a connection as soon as
 * the bytes seen so far cannot be a valid preamble (so a client speaking some
 * other protocol is dropped on its first byte), and never reads past the
 * preamble (what follows belongs to the libp2p upgrade).
 */
import { PreambleError } from './errors.js'

export const PREAMBLE_MAGIC = Uint8Array.of(0x64, 0x6c, 0x65, 0x6d)
export const PREAMBLE_VERSION = 1
/** the version whose preamble carries a site name after the region */
export const PREAMBLE_VERSION_SITE = 2
export const MAX_REGION_BYTES = 64
const HEADER_BYTES = PREAMBLE_MAGIC.length + 2
export const MAX_PREAMBLE_BYTES = HEADER_BYTES + MAX_REGION_BYTES + 1 + MAX_REGION_BYTES

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

/** The preamble for `region` (version 1), or for `region` and `site` (version 2) when the site differs. */
export function encodePreamble (region: string, site: string = region): Uint8Array {
  const problem = regionProblem(region)
  if (problem != null) throw new PreambleError('BAD_REGION_CHARS', `region ${JSON.stringify(region)} ${problem}`)
  const withSite = site !== region
  if (withSite) {
    const siteProblem = regionProblem(site)
    if (siteProblem != null) throw new PreambleError('BAD_REGION_CHARS', `site ${JSON.stringify(site)} ${siteProblem}`)
  }
  const out = new Uint8Array(HEADER_BYTES + region.length + (withSite ? 1 + site.length : 0))
  out.set(PREAMBLE_MAGIC, 0)
  out[4] = withSite ? PREAMBLE_VERSION_SITE : PREAMBLE_VERSION
  out[5] = region.length
  for (let i = 0; i < region.length; i++) out[HEADER_BYTES + i] = region.charCodeAt(i)
  if (withSite) {
    const at = HEADER_BYTES + region.length
    out[at] = site.length
    for (let i = 0; i < site.length; i++) out[at + 1 + i] = site.charCodeAt(i)
  }
  return out
}

export type DecodeResult =
  | { done: false }
  | { done: true, region: string, site: string, consumed: number }

/** Decodes a length-prefixed printable name at `at`; undefined if more bytes are needed. */
function decodeName (buf: Uint8Array, at: number, what: 'region' | 'site'): { name: string, end: number } | undefined {
  if (buf.length <= at) return undefined
  const len = buf[at]
  if (len === 0 || len > MAX_REGION_BYTES) {
    throw new PreambleError('BAD_REGION_LENGTH', `preamble ${what} length ${len} outside 1..${MAX_REGION_BYTES}`)
  }
  // check characters as they arrive so junk is rejected early
  const have = Math.min(buf.length - at - 1, len)
  for (let i = 0; i < have; i++) {
    const c = buf[at + 1 + i]
    if (c < 0x21 || c > 0x7e) {
      throw new PreambleError('BAD_REGION_CHARS', `preamble ${what} byte 0x${c.toString(16).padStart(2, '0')} at position ${i} is not printable ASCII`)
    }
  }
  if (have < len) return undefined
  let name = ''
  for (let i = 0; i < len; i++) name += String.fromCharCode(buf[at + 1 + i])
  return { name, end: at + 1 + len }
}

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
  const version = buf[4]
  if (version !== PREAMBLE_VERSION && version !== PREAMBLE_VERSION_SITE) {
    throw new PreambleError('BAD_VERSION', `unsupported preamble version ${version} (expected ${PREAMBLE_VERSION} or ${PREAMBLE_VERSION_SITE})`)
  }
  const region = decodeName(buf, 5, 'region')
  if (region == null) return { done: false }
  if (version === PREAMBLE_VERSION) return { done: true, region: region.name, site: region.name, consumed: region.end }
  const site = decodeName(buf, region.end, 'site')
  if (site == null) return { done: false }
  return { done: true, region: region.name, site: site.name, consumed: site.end }
}
