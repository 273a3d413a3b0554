/**
 * The leader's view of one follower: match/next indexes and the replication
 * state machine (probe -> replicate, snapshot).
 */
import { Inflights } from './inflights.js'

export enum ProgressState {
  Probe = 0,
  Replicate = 1,
  Snapshot = 2
}

export class Progress {
  match = 0
  next: number
  state = ProgressState.Probe
  /** index of the snapshot in flight while in Snapshot state */
  pendingSnapshot = 0
  /** true when the follower was heard from since the last check-quorum round */
  recentActive = false
  /** in Probe state: a probe is in flight, wait for a response before the next */
  probeSent = false
  readonly inflights: Inflights
  isLearner: boolean

  constructor (init: { next: number, match?: number, maxInflight: number, maxInflightBytes?: number, isLearner?: boolean, recentActive?: boolean }) {
    this.next = init.next
    this.match = init.match ?? 0
    this.inflights = new Inflights(init.maxInflight, init.maxInflightBytes ?? 0)
    this.isLearner = init.isLearner ?? false
    this.recentActive = init.recentActive ?? false
  }

  private resetState (state: ProgressState): void {
    this.probeSent = false
    this.pendingSnapshot = 0
    this.state = state
    this.inflights.reset()
  }

  becomeProbe (): void {
    if (this.state === ProgressState.Snapshot) {
      const ps = this.pendingSnapshot
      this.resetState(ProgressState.Probe)
      this.next = Math.max(this.match + 1, ps + 1)
    } else {
      this.resetState(ProgressState.Probe)
      this.next = this.match + 1
    }
  }

  becomeReplicate (): void {
    this.resetState(ProgressState.Replicate)
    this.next = this.match + 1
  }

  becomeSnapshot (snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot)
    this.pendingSnapshot = snapshotIndex
  }

  /** Book-keeping after sending a MsgApp carrying `count` entries (last one at next+count-1). */
  sentEntries (count: number, bytes: number): void {
    if (this.state === ProgressState.Replicate) {
      if (count > 0) {
        this.next += count
        this.inflights.add(this.next - 1, bytes)
      }
    } else if (this.state === ProgressState.Probe) {
      this.probeSent = true
    } else {
      throw new Error(`sending entries in unexpected progress state ${ProgressState[this.state]}`)
    }
  }

  /** An acknowledgement up to n arrived; true when it told us something new. */
  maybeUpdate (n: number): boolean {
    let updated = false
    if (this.match < n) {
      this.match = n
      updated = true
      this.probeSent = false
    }
    this.next = Math.max(this.next, n + 1)
    return updated
  }

  /**
   * A rejection of the MsgApp whose previous index was `rejected`, with the
   * follower's hint `matchHint`. False when the rejection is stale.
   */
  maybeDecrTo (rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1)
    this.probeSent = false
    return true
  }

  isPaused (): boolean {
    switch (this.state) {
      case ProgressState.Probe: return this.probeSent
      case ProgressState.Replicate: return this.inflights.full()
      default: return true
    }
  }

  describe (): string {
    let s = `${ProgressState[this.state]} match=${this.match} next=${this.next}`
    if (this.isLearner) s += ' learner'
    if (this.isPaused()) s += ' paused'
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`
    if (!this.recentActive) s += ' inactive'
    if (this.inflights.count() > 0) s += ` inflight=${this.inflights.count()}`
    if (this.inflights.full()) s += '[full]'
    return s
  }
}
