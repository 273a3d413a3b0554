/**
 * Allocation ids: `<ownerPeerId>.<suffix>`. The owner is the peer holding
 * the allocation's primary reservation, so any peer can route a GET or
 * DELETE to it from the id alone.
 */
import { InvalidAllocationIdError } from './errors.js'

const OWNER = /^[1-9A-HJ-NP-Za-km-z]{16,128}$/
const SUFFIX = /^[A-Za-z0-9_-]{8,64}$/

export function makeAllocationId (owner: string, suffix: string): string {
  const id = `${owner}.${suffix}`
  parseAllocationId(id)
  return id
}

/** Random suffix (base64url of 12 random bytes) from an injected byte source. */
export function randomSuffix (randomBytes: (n: number) => Uint8Array): string {
  return Buffer.from(randomBytes(12)).toString('base64url')
}

export function parseAllocationId (id: unknown): { owner: string, suffix: string } {
  if (typeof id !== 'string' || id.length > 200) throw new InvalidAllocationIdError(String(id))
  const dot = id.indexOf('.')
  const owner = id.slice(0, dot)
  const suffix = id.slice(dot + 1)
  if (dot < 0 || !OWNER.test(owner) || !SUFFIX.test(suffix)) throw new InvalidAllocationIdError(id)
  return { owner, suffix }
}

export function isAllocationId (id: unknown): id is string {
  try {
    parseAllocationId(id)
    return true
  } catch {
    return false
  }
}

/**
 * Whether `id` names a service replica's reservation (src/scheduler/client.ts
 * reservationId: suffix `w` + 32 base64url characters of a hash of the
 * workload) rather than a caller's allocation (16 random base64url characters).
 */
export function isWorkloadReservationId (id: string): boolean {
  const dot = id.indexOf('.')
  return dot > 0 && id.length - dot - 1 === 33 && id[dot + 1] === 'w'
}
