/**
 * One-at-a-time membership changes: a ConfChange adds a voter, removes a
 * node or adds a learner. At most one voter changes per step, which keeps any
 * two successive majorities overlapping. Joint consensus is not implemented
 * here (a joint ConfState restored from a snapshot is still honoured by the
 * quorum math).
 */
import { InvalidConfChangeError } from './raft-errors.js'
import type { ConfState, NodeId } from './types.js'

export enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  AddLearnerNode = 2
}

export interface ConfChange {
  type: ConfChangeType
  nodeId: NodeId
  /** opaque application data (e.g. the new peer's address) */
  context?: Uint8Array
}

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

/** Entry payload of a ConfChange entry: JSON `{t, n, c?}` (c base64). */
export function encodeConfChange (cc: ConfChange): Uint8Array {
  const o: { t: number, n: string, c?: string } = { t: cc.type, n: cc.nodeId }
  if (cc.context !== undefined && cc.context.length > 0) o.c = Buffer.from(cc.context).toString('base64')
  return enc.encode(JSON.stringify(o))
}

export function decodeConfChange (data: Uint8Array): ConfChange {
  let o: unknown
  try {
    o = JSON.parse(dec.decode(data))
  } catch {
    throw new InvalidConfChangeError('entry data is not JSON')
  }
  if (typeof o !== 'object' || o === null) throw new InvalidConfChangeError('not an object')
  const r = o as Record<string, unknown>
  if (r.t !== ConfChangeType.AddNode && r.t !== ConfChangeType.RemoveNode && r.t !== ConfChangeType.AddLearnerNode) {
    throw new InvalidConfChangeError('field t: unknown change type')
  }
  if (typeof r.n !== 'string' || r.n.length === 0) throw new InvalidConfChangeError('field n: node id must be a non-empty string')
  const cc: ConfChange = { type: r.t, nodeId: r.n }
  if (r.c !== undefined) {
    if (typeof r.c !== 'string') throw new InvalidConfChangeError('field c: must be a base64 string')
    cc.context = new Uint8Array(Buffer.from(r.c, 'base64'))
  }
  return cc
}

export interface Membership {
  voters: Set<NodeId>
  votersOutgoing: Set<NodeId>
  learners: Set<NodeId>
  learnersNext: Set<NodeId>
  autoLeave: boolean
}

export function membershipFromConfState (cs: ConfState): Membership {
  return {
    voters: new Set(cs.voters),
    votersOutgoing: new Set(cs.votersOutgoing),
    learners: new Set(cs.learners),
    learnersNext: new Set(cs.learnersNext),
    autoLeave: cs.autoLeave
  }
}

const sorted = (s: Iterable<NodeId>): NodeId[] => [...s].sort(compareIds)

/** Deterministic node-id order: numeric when both look numeric, else lexicographic. */
export function compareIds (a: NodeId, b: NodeId): number {
  const na = /^\d+$/.test(a)
  const nb = /^\d+$/.test(b)
  if (na && nb && a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}

export function confStateFromMembership (m: Membership): ConfState {
  return {
    voters: sorted(m.voters),
    learners: sorted(m.learners),
    votersOutgoing: sorted(m.votersOutgoing),
    learnersNext: sorted(m.learnersNext),
    autoLeave: m.autoLeave
  }
}

export function cloneMembership (m: Membership): Membership {
  return {
    voters: new Set(m.voters),
    votersOutgoing: new Set(m.votersOutgoing),
    learners: new Set(m.learners),
    learnersNext: new Set(m.learnersNext),
    autoLeave: m.autoLeave
  }
}

/** Applies one simple change to a copy of `m`; throws InvalidConfChangeError when unsafe. */
export function applySimpleChange (m: Membership, cc: ConfChange): Membership {
  if (m.votersOutgoing.size > 0) throw new InvalidConfChangeError('cannot apply a simple change while in a joint configuration')
  const out = cloneMembership(m)
  switch (cc.type) {
    case ConfChangeType.AddNode:
      out.learners.delete(cc.nodeId)
      out.voters.add(cc.nodeId)
      break
    case ConfChangeType.AddLearnerNode:
      out.voters.delete(cc.nodeId)
      out.learners.add(cc.nodeId)
      break
    case ConfChangeType.RemoveNode:
      out.voters.delete(cc.nodeId)
      out.learners.delete(cc.nodeId)
      break
  }
  if (out.voters.size === 0) throw new InvalidConfChangeError('removed all voters')
  let changed = 0
  for (const v of out.voters) if (!m.voters.has(v)) changed++
  for (const v of m.voters) if (!out.voters.has(v)) changed++
  if (changed > 1) throw new InvalidConfChangeError('more than one voter changed without joint consensus')
  return out
}
