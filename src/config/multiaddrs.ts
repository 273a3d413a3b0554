/**
 * Multiaddr checks shared by config validation and bootstrap resolution.
 */
import { multiaddr, registry } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { show } from './errors.js'

export type Checked<T> = { ok: true, value: T } | { ok: false, reason: string }

/** Parses a multiaddr string; an empty address ('/' or '') is refused. */
export function parseMultiaddr (text: string): Checked<Multiaddr> {
  let ma: Multiaddr
  try {
    ma = multiaddr(text)
  } catch (err) {
    return { ok: false, reason: `is not a valid multiaddr: ${err instanceof Error ? err.message : String(err)} (got ${show(text)})` }
  }
  if (ma.getComponents().length === 0) {
    return { ok: false, reason: `is not a valid multiaddr: it is empty (got ${show(text)})` }
  }
  return { ok: true, value: ma }
}

/** A multiaddr that names a peer: it must end in /p2p/<valid peer id>. */
export function parsePeerMultiaddr (text: string): Checked<Multiaddr> {
  const parsed = parseMultiaddr(text)
  if (!parsed.ok) return parsed
  const components = parsed.value.getComponents()
  const last = components[components.length - 1]
  if (last.name !== 'p2p' || last.value == null) {
    return { ok: false, reason: `must end with /p2p/<peerId> (got ${show(text)})` }
  }
  if (components.length === 1) {
    return { ok: false, reason: `must have a transport address before /p2p/<peerId> (got ${show(text)})` }
  }
  try {
    peerIdFromString(last.value)
  } catch {
    return { ok: false, reason: `has an invalid peer id ${show(last.value)} after /p2p/` }
  }
  return parsed
}

/**
 * True if `text` is meant as a multiaddr rather than a file path: it starts
 * with '/' and its first segment is a multiaddr protocol name (ip4, dns, ...).
 * `/ip4/1.2.3.999/...` is thus a (bad) multiaddr, `/etc/dcis/peers.json` a path.
 */
export function looksLikeMultiaddr (text: string): boolean {
  if (!text.startsWith('/')) return false
  const first = text.split('/')[1] ?? ''
  if (first === '') return false
  try {
    registry.getProtocol(first)
    return true
  } catch {
    return false
  }
}
