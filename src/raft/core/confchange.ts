/**
 * Membership changes.
 *
 * - Simple (one-at-a-time): a ConfChange adds a voter, removes a node or adds
 *   a learner; at most one voter changes, so successive majorities overlap.
 * - Joint consensus: a ConfChangeV2 with several changes (or an explicit /
 *   implicit transition) first enters the joint configuration C_old,new, in
 *   which decisions need a majority of both, then leaves it (automatically, or
 *   when the application proposes an empty ConfChangeV2).
 *
 * Like every committed entry, a change takes effect when it is applied.
 */
import { InvalidConfChangeError } from './raft-errors.js'
import type { ConfState, NodeId } from './types.js'

export enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  AddLearnerNode = 2
}

/** A single change (the one-at-a-time API). */
export interface ConfChange {
  type: ConfChangeType
  nodeId: NodeId
  /** opaque application data (e.g. the new peer's address) */
  context?: Uint8Array
}

export enum ConfChangeTransition {
  /** joint only if needed (more than one change); left automatically */
  Auto = 0,
  /** always joint; left automatically */
  Implicit = 1,
  /** always joint; the application proposes the empty ConfChangeV2 to leave */
  Explicit = 2
}

export interface ConfChangeSingle {
  type: ConfChangeType
  nodeId: NodeId
}

/** Several changes at once (joint consensus); no changes = leave the joint config. */
export interface ConfChangeV2 {
  transition: ConfChangeTransition
  changes: ConfChangeSingle[]
  context?: Uint8Array
}

export type AnyConfChange = ConfChange | ConfChangeV2

export function isConfChangeV2 (cc: AnyConfChange): cc is ConfChangeV2 {
  return Array.isArray((cc as ConfChangeV2).changes)
}

export function toV2 (cc: AnyConfChange): ConfChangeV2 {
  if (isConfChangeV2(cc)) return cc
  return { transition: ConfChangeTransition.Auto, changes: [{ type: cc.type, nodeId: cc.nodeId }], context: cc.context }
}

/** The empty ConfChangeV2 that leaves a joint configuration. */
export function leaveJointChange (): ConfChangeV2 {
  return { transition: ConfChangeTransition.Auto, changes: [] }
}

export function wantsLeaveJoint (cc: ConfChangeV2): boolean {
  return cc.changes.length === 0
}

/** Whether cc enters a joint config, and whether that config is left automatically. */
export function entersJoint (cc: ConfChangeV2): { joint: boolean, autoLeave: boolean } {
  if (cc.changes.length === 0) return { joint: false, autoLeave: false }
  if (cc.transition === ConfChangeTransition.Auto && cc.changes.length <= 1) return { joint: false, autoLeave: false }
  return { joint: true, autoLeave: cc.transition !== ConfChangeTransition.Explicit }
}

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

/**
 * Entry payload of a ConfChange entry: JSON. V1: `{t, n, c?}`;
 * V2: `{v: 2, tr, ch: [{t, n}], c?}` (c base64).
 */
export function encodeConfChange (cc: AnyConfChange): Uint8Array {
  const ctx = cc.context !== undefined && cc.context.length > 0 ? Buffer.from(cc.context).toString('base64') : undefined
  if (isConfChangeV2(cc)) {
    return enc.encode(JSON.stringify({ v: 2, tr: cc.transition, ch: cc.changes.map(c => ({ t: c.type, n: c.nodeId })), c: ctx }))
  }
  return enc.encode(JSON.stringify({ t: cc.type, n: cc.nodeId, c: ctx }))
}

function checkType (field: string, t: unknown): ConfChangeType {
  if (t !== ConfChangeType.AddNode && t !== ConfChangeType.RemoveNode && t !== ConfChangeType.AddLearnerNode) {
    throw new InvalidConfChangeError(`field ${field}: unknown change type`)
  }
  return t
}

function checkId (field: string, n: unknown): NodeId {
  if (typeof n !== 'string' || n.length === 0) throw new InvalidConfChangeError(`field ${field}: node id must be a non-empty string`)
  return n
}

/** Decodes either encoding; throws InvalidConfChangeError naming the bad field. */
export function decodeAnyConfChange (data: Uint8Array): AnyConfChange {
  let o: unknown
  try {
    o = JSON.parse(dec.decode(data))
  } catch {
    throw new InvalidConfChangeError('entry data is not JSON')
  }
  if (typeof o !== 'object' || o === null) throw new InvalidConfChangeError('not an object')
  const r = o as Record<string, unknown>
  let context: Uint8Array | undefined
  if (r.c !== undefined) {
    if (typeof r.c !== 'string') throw new InvalidConfChangeError('field c: must be a base64 string')
    context = new Uint8Array(Buffer.from(r.c, 'base64'))
  }
  if (r.v === 2) {
    if (r.tr !== ConfChangeTransition.Auto && r.tr !== ConfChangeTransition.Implicit && r.tr !== ConfChangeTransition.Explicit) {
      throw new InvalidConfChangeError('field tr: unknown transition')
    }
    if (!Array.isArray(r.ch)) throw new InvalidConfChangeError('field ch: must be an array')
    const changes = r.ch.map((c: unknown, i: number): ConfChangeSingle => {
      if (typeof c !== 'object' || c === null) throw new InvalidConfChangeError(`field ch[${i}]: not an object`)
      const x = c as Record<string, unknown>
      return { type: checkType(`ch[${i}].t`, x.t), nodeId: checkId(`ch[${i}].n`, x.n) }
    })
    const cc: ConfChangeV2 = { transition: r.tr, changes }
    if (context !== undefined) cc.context = context
    return cc
  }
  if (r.v !== undefined) throw new InvalidConfChangeError('field v: unknown version')
  const cc: ConfChange = { type: checkType('t', r.t), nodeId: checkId('n', r.n) }
  if (context !== undefined) cc.context = context
  return cc
}

/** Decodes a V1 ConfChange entry (throws InvalidConfChangeError for a V2 one). */
export function decodeConfChange (data: Uint8Array): ConfChange {
  const cc = decodeAnyConfChange(data)
  if (isConfChangeV2(cc)) throw new InvalidConfChangeError('field v: expected a single (v1) conf change')
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

const isJoint = (m: Membership): boolean => m.votersOutgoing.size > 0

/** Applies changes to the incoming side of `out` (mutates it). */
function applyChanges (out: Membership, changes: ConfChangeSingle[]): void {
  for (const c of changes) {
    switch (c.type) {
      case ConfChangeType.AddNode:
        out.learners.delete(c.nodeId)
        out.learnersNext.delete(c.nodeId)
        out.voters.add(c.nodeId)
        break
      case ConfChangeType.AddLearnerNode:
        out.voters.delete(c.nodeId)
        out.learners.delete(c.nodeId)
        out.learnersNext.delete(c.nodeId)
        // a voter of the outgoing config becomes a learner only when the joint config is left
        if (out.votersOutgoing.has(c.nodeId)) out.learnersNext.add(c.nodeId)
        else out.learners.add(c.nodeId)
        break
      case ConfChangeType.RemoveNode:
        out.voters.delete(c.nodeId)
        out.learners.delete(c.nodeId)
        out.learnersNext.delete(c.nodeId)
        break
    }
  }
  if (out.voters.size === 0) throw new InvalidConfChangeError('removed all voters')
}

/** One-at-a-time change applied to a copy of `m`; throws InvalidConfChangeError when unsafe. */
export function applySimpleChange (m: Membership, cc: ConfChange | ConfChangeSingle[]): Membership {
  if (isJoint(m)) throw new InvalidConfChangeError('cannot apply a simple change while in a joint configuration')
  const out = cloneMembership(m)
  applyChanges(out, Array.isArray(cc) ? cc : [{ type: cc.type, nodeId: cc.nodeId }])
  let changed = 0
  for (const v of out.voters) if (!m.voters.has(v)) changed++
  for (const v of m.voters) if (!out.voters.has(v)) changed++
  if (changed > 1) throw new InvalidConfChangeError('more than one voter changed without joint consensus')
  return out
}

/** Enters the joint configuration (C_old = current voters, C_new = current voters + changes). */
export function enterJoint (m: Membership, autoLeave: boolean, changes: ConfChangeSingle[]): Membership {
  if (isJoint(m)) throw new InvalidConfChangeError('configuration is already joint')
  if (m.voters.size === 0) throw new InvalidConfChangeError('cannot make a zero-voter configuration joint')
  const out = cloneMembership(m)
  out.votersOutgoing = new Set(m.voters)
  applyChanges(out, changes)
  out.autoLeave = autoLeave
  return out
}

/** Leaves the joint configuration: C_new alone decides; demoted voters become learners. */
export function leaveJoint (m: Membership): Membership {
  if (!isJoint(m)) throw new InvalidConfChangeError('cannot leave a non-joint configuration')
  const out = cloneMembership(m)
  for (const id of out.learnersNext) out.learners.add(id)
  out.learnersNext.clear()
  out.votersOutgoing.clear()
  out.autoLeave = false
  return out
}

/** Applies any change (simple, enter joint, leave joint) to a copy of `m`. */
export function applyConfChangeTo (m: Membership, cc: AnyConfChange): Membership {
  const v2 = toV2(cc)
  if (wantsLeaveJoint(v2)) return leaveJoint(m)
  const { joint, autoLeave } = entersJoint(v2)
  if (joint) return enterJoint(m, autoLeave, v2.changes)
  return applySimpleChange(m, v2.changes)
}
