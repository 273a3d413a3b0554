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
  /**
   * version of the descriptor within its group: a membership change, a resize
   * or a deletion writes the next epoch; the greater (epoch, updatedAt,
   * updatedBy) wins. Absent = 0 (the creation).
   */
  epoch?: number
  /** the group's initial configuration (the members that bootstrap it); absent = voters/learners of epoch 0 */
  bootstrap?: { voters: string[], learners: string[] }
  /** the service was deleted: members stop and drop their replicas */
  deleted?: boolean
  updatedBy?: string
  updatedAt?: string
}

export function epochOf (d: GroupDescriptor): number {
  return d.epoch ?? 0
}

/** whether `a` supersedes `b` (same group) */
export function isNewer (a: GroupDescriptor, b: GroupDescriptor): boolean {
  const ea = epochOf(a)
  const eb = epochOf(b)
  if (ea !== eb) return ea > eb
  const ua = `${a.updatedAt ?? a.createdAt}\n${a.updatedBy ?? a.createdBy}`
  const ub = `${b.updatedAt ?? b.createdAt}\n${b.updatedBy ?? b.createdBy}`
  return ua > ub
}

/** the members that bootstrap the group's initial configuration */
export function bootstrapOf (d: GroupDescriptor): { voters: string[], learners: string[] } {
  return d.bootstrap ?? { voters: d.voters, learners: d.learners }
}

/** voters and learners */
export function membersOf (d: GroupDescriptor): string[] {
  return [...d.voters, ...d.learners]
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
  if (voters.length + learners.length > MAX_MEMBERS) throw new InvalidDescriptorError('voters', `voters + learners must be at most ${MAX_MEMBERS}`)
  if (o.epoch !== undefined && (typeof o.epoch !== 'number' || !Number.isSafeInteger(o.epoch) || o.epoch < 0)) throw new InvalidDescriptorError('epoch', 'must be a non-negative integer')
  if (o.deleted !== undefined && typeof o.deleted !== 'boolean') throw new InvalidDescriptorError('deleted', 'must be a boolean')
  if (o.updatedBy !== undefined && (typeof o.updatedBy !== 'string' || !PEER_ID_RE.test(o.updatedBy))) throw new InvalidDescriptorError('updatedBy', 'must be a peer id')
  if (o.updatedAt !== undefined && (typeof o.updatedAt !== 'string' || Number.isNaN(Date.parse(o.updatedAt)))) throw new InvalidDescriptorError('updatedAt', 'must be a date')
  if (o.bootstrap !== undefined) {
    const b = o.bootstrap as Record<string, unknown> | null
    if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new InvalidDescriptorError('bootstrap', 'must be an object')
    ids('bootstrap.voters', b.voters, 1)
    ids('bootstrap.learners', b.learners, 0)
  }
  if (!Array.isArray(s.zones) || !s.zones.every(z => typeof z === 'string' && z.length < 128)) throw new InvalidDescriptorError('spec.zones', 'must be an array of strings')
  if (typeof s.latencyRadiusMs !== 'number' || !(s.latencyRadiusMs > 0)) throw new InvalidDescriptorError('spec.latencyRadiusMs', 'must be a positive number')
  if (s.public !== undefined && typeof s.public !== 'boolean') throw new InvalidDescriptorError('spec.public', 'must be a boolean')
  return d as GroupDescriptor
}
