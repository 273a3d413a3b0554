/**
 * The group descriptor: the agreed membership of a strong service's Raft
 * group. Decided by the creating peer, persisted by every peer that learns it
 * (datastore), announced over /dcis/raft-kv/1.0.0. Validated on receipt.
 */
import { createHash } from 'node:crypto'
import type { ServiceSpec } from '../../services/types.js'

export interface GroupDescriptor {
  v: 1
  name: string
  group: string
  spec: ServiceSpec
  voters: string[]
  learners: string[]
  priorities: Record<string, number>
  createdBy: string
  createdAt: string
}

export class InvalidDescriptorError extends Error {
  static readonly code = 'INVALID_RAFT_DESCRIPTOR'
  readonly code = InvalidDescriptorError.code
  readonly field: string
  constructor (field: string, reason: string) {
    super(`invalid raft group descriptor: ${field} ${reason}`)
    this.name = 'InvalidDescriptorError'
    this.field = field
  }
}

export const SERVICE_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
const PEER_ID_RE = /^[1-9A-HJ-NP-Za-km-z]{16,128}$/
const MAX_MEMBERS = 64

/**
 * The Raft group id of a descriptor: unique per creation, so two peers that
 * create the same service concurrently never mix their groups' messages.
 */
export function groupIdOf (name: string, createdBy: string, createdAt: string): string {
  return `svc.${name}.${createHash('sha256').update(`${createdBy}\n${createdAt}`).digest('hex').slice(0, 12)}`
}

function ids (field: string, v: unknown, min: number): string[] {
  if (!Array.isArray(v) || v.length < min || v.length > MAX_MEMBERS) throw new InvalidDescriptorError(field, `must be an array of ${min}..${MAX_MEMBERS} peer ids`)
  v.forEach((x, i) => { if (typeof x !== 'string' || !PEER_ID_RE.test(x)) throw new InvalidDescriptorError(`${field}[${i}]`, 'must be a peer id') })
  if (new Set(v).size !== v.length) throw new InvalidDescriptorError(field, 'has duplicates')
  return v as string[]
}

/** Checks an untrusted value; returns it typed or throws InvalidDescriptorError naming the field. */
export function validateDescriptor (d: unknown): GroupDescriptor {
  if (typeof d !== 'object' || d === null) throw new InvalidDescriptorError('descriptor', 'must be an object')
  const o = d as Record<string, unknown>
  if (o.v !== 1) throw new InvalidDescriptorError('v', 'must be 1')
  if (typeof o.name !== 'string' || !SERVICE_NAME_RE.test(o.name)) throw new InvalidDescriptorError('name', 'must be a DNS label')
  const voters = ids('voters', o.voters, 1)
  const learners = ids('learners', o.learners, 0)
  if (learners.some(l => voters.includes(l))) throw new InvalidDescriptorError('learners', 'overlap the voters')
  if (typeof o.priorities !== 'object' || o.priorities === null || Array.isArray(o.priorities)) throw new InvalidDescriptorError('priorities', 'must be an object')
  for (const [k, p] of Object.entries(o.priorities)) {
    if (!voters.includes(k)) throw new InvalidDescriptorError(`priorities.${k}`, 'is not a voter')
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 100) throw new InvalidDescriptorError(`priorities.${k}`, 'must be a number in [0, 100]')
  }
  if (typeof o.createdBy !== 'string' || !PEER_ID_RE.test(o.createdBy)) throw new InvalidDescriptorError('createdBy', 'must be a peer id')
  if (typeof o.createdAt !== 'string' || Number.isNaN(Date.parse(o.createdAt))) throw new InvalidDescriptorError('createdAt', 'must be a date')
  if (o.group !== groupIdOf(o.name, o.createdBy, o.createdAt)) throw new InvalidDescriptorError('group', 'must be derived from name, createdBy and createdAt')
  const s = o.spec as Record<string, unknown> | null
  if (typeof s !== 'object' || s === null) throw new InvalidDescriptorError('spec', 'must be an object')
  if (s.name !== o.name) throw new InvalidDescriptorError('spec.name', 'must equal name')
  if (s.mode !== 'strong') throw new InvalidDescriptorError('spec.mode', "must be 'strong'")
  if (typeof s.replicas !== 'number' || !Number.isSafeInteger(s.replicas) || s.replicas < 1 || s.replicas > MAX_MEMBERS) throw new InvalidDescriptorError('spec.replicas', `must be an integer in 1..${MAX_MEMBERS}`)
  if (voters.length + learners.length !== s.replicas) throw new InvalidDescriptorError('voters', 'voters + learners must equal spec.replicas')
  if (!Array.isArray(s.zones) || !s.zones.every(z => typeof z === 'string' && z.length < 128)) throw new InvalidDescriptorError('spec.zones', 'must be an array of strings')
  if (typeof s.latencyRadiusMs !== 'number' || !(s.latencyRadiusMs > 0)) throw new InvalidDescriptorError('spec.latencyRadiusMs', 'must be a positive number')
  return d as GroupDescriptor
}
