/**
 * Quorum math, pure: committed index and vote outcome for a majority
 * configuration and for a joint (incoming + outgoing) configuration.
 */
import type { NodeId } from './types.js'

export enum VoteResult {
  Pending = 1,
  Lost = 2,
  Won = 3
}

/** Index acknowledged by a voter, undefined when unknown (counts as 0). */
export type AckedIndexer = (id: NodeId) => number | undefined

/** The committed index of an empty configuration: it never constrains a joint minimum. */
export const UNBOUNDED_INDEX = Number.MAX_SAFE_INTEGER

/**
 * The largest index acknowledged by a majority of `voters`
 * (UNBOUNDED_INDEX for an empty configuration).
 */
export function majorityCommitted (voters: Iterable<NodeId>, acked: AckedIndexer): number {
  const idx: number[] = []
  for (const id of new Set(voters)) idx.push(acked(id) ?? 0)
  if (idx.length === 0) return UNBOUNDED_INDEX
  idx.sort((a, b) => b - a)
  const q = Math.floor(idx.length / 2) + 1
  return idx[q - 1]
}

/** Won when a majority granted, Lost when a majority can no longer be reached. Empty config wins. */
export function majorityVoteResult (voters: Iterable<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const set = new Set(voters)
  if (set.size === 0) return VoteResult.Won
  let yes = 0
  let missing = 0
  for (const id of set) {
    const v = votes.get(id)
    if (v === undefined) missing++
    else if (v) yes++
  }
  const q = Math.floor(set.size / 2) + 1
  if (yes >= q) return VoteResult.Won
  if (yes + missing >= q) return VoteResult.Pending
  return VoteResult.Lost
}

export function jointCommitted (incoming: Iterable<NodeId>, outgoing: Iterable<NodeId>, acked: AckedIndexer): number {
  return Math.min(majorityCommitted(incoming, acked), majorityCommitted(outgoing, acked))
}

export function jointVoteResult (incoming: Iterable<NodeId>, outgoing: Iterable<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const a = majorityVoteResult(incoming, votes)
  const b = majorityVoteResult(outgoing, votes)
  if (a === b) return a
  if (a === VoteResult.Lost || b === VoteResult.Lost) return VoteResult.Lost
  return VoteResult.Pending
}
