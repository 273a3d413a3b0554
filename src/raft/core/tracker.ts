/**
 * The leader's tracking of the current membership: per-node Progress,
 * votes of the running election, and the quorum questions asked of them.
 */
import { compareIds, confStateFromMembership } from './confchange.js'
import type { Membership } from './confchange.js'
import { Progress } from './progress.js'
import { jointCommitted, jointVoteResult, VoteResult } from './quorum.js'
import type { ConfState, NodeId } from './types.js'

export class ProgressTracker {
  membership: Membership
  progress = new Map<NodeId, Progress>()
  votes = new Map<NodeId, boolean>()

  constructor (membership: Membership, readonly maxInflight: number, readonly maxInflightBytes: number) {
    this.membership = membership
  }

  /** every id of the configuration, sorted */
  ids (): NodeId[] {
    return [...this.progress.keys()].sort(compareIds)
  }

  voterIds (): NodeId[] {
    return [...new Set([...this.membership.voters, ...this.membership.votersOutgoing])].sort(compareIds)
  }

  isSingleton (): boolean {
    return this.membership.voters.size === 1 && this.membership.votersOutgoing.size === 0
  }

  committed (): number {
    return jointCommitted(this.membership.voters, this.membership.votersOutgoing, id => this.progress.get(id)?.match)
  }

  /** Won when a quorum of voters was recently active (the leader counts itself). */
  quorumActive (): boolean {
    const votes = new Map<NodeId, boolean>()
    for (const [id, pr] of this.progress) if (!pr.isLearner) votes.set(id, pr.recentActive)
    return jointVoteResult(this.membership.voters, this.membership.votersOutgoing, votes) === VoteResult.Won
  }

  resetVotes (): void {
    this.votes.clear()
  }

  recordVote (id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted)
  }

  tallyVotes (): { granted: number, rejected: number, result: VoteResult } {
    let granted = 0
    let rejected = 0
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue
      const v = this.votes.get(id)
      if (v === undefined) continue
      if (v) granted++
      else rejected++
    }
    return { granted, rejected, result: jointVoteResult(this.membership.voters, this.membership.votersOutgoing, this.votes) }
  }

  confState (): ConfState {
    return confStateFromMembership(this.membership)
  }

  /** Progress entries for every node of `m`, reusing the existing ones. */
  static buildProgress (m: Membership, old: Map<NodeId, Progress>, nextIndex: number, maxInflight: number, maxInflightBytes: number): Map<NodeId, Progress> {
    const out = new Map<NodeId, Progress>()
    const add = (id: NodeId, learner: boolean): void => {
      const existing = old.get(id)
      if (existing !== undefined) {
        existing.isLearner = learner
        out.set(id, existing)
      } else {
        // a new node counts as recently active so check-quorum does not
        // depose the leader before the newcomer had a chance to answer
        out.set(id, new Progress({ next: Math.max(nextIndex, 1), maxInflight, maxInflightBytes, isLearner: learner, recentActive: true }))
      }
    }
    for (const id of [...m.voters, ...m.votersOutgoing]) if (!out.has(id)) add(id, false)
    for (const id of [...m.learners, ...m.learnersNext]) if (!out.has(id)) add(id, true)
    return out
  }
}
