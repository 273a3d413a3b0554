/**
 * Entry payload framing used by the driver: [idLen u8][id utf8][command].
 * The id lets the proposing replica match the applied entry to the waiting
 * caller; the command is opaque to the driver.
 */
const enc = new TextEncoder()
const dec = new TextDecoder()

export function frameProposal (id: string, command: Uint8Array): Uint8Array {
  const idb = enc.encode(id)
  if (idb.length > 255) throw new RangeError('proposal id longer than 255 bytes')
  const out = new Uint8Array(1 + idb.length + command.length)
  out[0] = idb.length
  out.set(idb, 1)
  out.set(command, 1 + idb.length)
  return out
}

/** null for an empty (no-op) entry or a frame too short to hold its id. */
export function unframeProposal (data: Uint8Array): { id: string, command: Uint8Array } | null {
  if (data.length === 0) return null
  const n = data[0]
  if (data.length < 1 + n) return null
  return { id: dec.decode(data.subarray(1, 1 + n)), command: data.subarray(1 + n) }
}
