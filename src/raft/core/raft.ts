/**
 * The Raft state machine proper (etcd-raft shaped, written from the paper and
 * etcd's design notes): elections with pre-vote and check-quorum, log
 * replication with flow control, ReadIndex, leadership transfer, snapshots and
 * one-at-a-time membership changes. Pure and deterministic: no timers, no I/O;
 * its only randomness comes from a seeded PRNG.
 */
import {
  applyConfChangeTo, compareIds, decodeAnyConfChange, encodeConfChange, leaveJointChange, membershipFromConfState, toV2, wantsLeaveJoint
} from './confchange.js'
import type { AnyConfChange, Membership } from './confchange.js'
import { CompactedError, UnavailableError } from './errors.js'
import { isResponseMessage, makeMessage, MessageType, voteResponseType } from './message.js'
import type { Message } from './message.js'
import { createPrng } from '../../latency/prng.js'
import type { Prng } from '../../latency/prng.js'
import { ProgressState } from './progress.js'
import { VoteResult, jointVoteResult } from './quorum.js'
import { ProposalDroppedError, InvalidConfChangeError, InvalidStorageStateError } from './raft-errors.js'
import { entsSize, RaftLog } from './raft-log.js'
import { ReadOnly } from './read-only.js'
import type { ReadState } from './read-only.js'
import { ProgressTracker } from './tracker.js'
import { EntryType } from './types.js'
import type { ConfState, Entry, HardState, LogStorage, NodeId, Snapshot } from './types.js'

export enum StateType {
  Follower = 0,
  Candidate = 1,
  Leader = 2,
  PreCandidate = 3
}

export type ReadOnlyOption = 'safe' | 'lease'

export interface RaftConfig {
  id: NodeId
  storage: LogStorage
  electionTick: number
  heartbeatTick: number
  preVote: boolean
  checkQuorum: boolean
  maxSizePerMsg: number
  maxInflightMsgs: number
  maxInflightBytes: number
  maxCommittedSizePerReady: number
  randomSeed: number
  priority: number
  applied: number
  readOnlyOption: ReadOnlyOption
  disableProposalForwarding: boolean
  /** see RaftOptions.leaderPersistsAsync */
  leaderPersistsAsync?: boolean
}

const NONE: NodeId = ''

/** FNV-1a 32-bit: mixes the node id into the election-timeout seed. */
function hashString (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}
const te = new TextEncoder()
const td = new TextDecoder()

/** MsgTransferLeader names its transferee in `context` when forwarded, else in `from` (local). */
function transfereeOf (m: Message): NodeId {
  return m.context !== undefined && m.context.length > 0 ? td.decode(m.context) : m.from
}
const CAMPAIGN_TRANSFER = new TextEncoder().encode('CampaignTransfer')

enum CampaignType { PreElection, Election, Transfer }

function isTransferContext (ctx: Uint8Array | undefined): boolean {
  if (ctx === undefined || ctx.length !== CAMPAIGN_TRANSFER.length) return false
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== CAMPAIGN_TRANSFER[i]) return false
  return true
}

export class Raft {
  readonly id: NodeId
  term = 0
  vote: NodeId = NONE
  lead: NodeId = NONE
  state = StateType.Follower
  isLearner = false
  readonly raftLog: RaftLog
  trk: ProgressTracker
  msgs: Message[] = []
  readStates: ReadState[] = []
  leadTransferee: NodeId = NONE
  pendingConfIndex = 0
  readOnly = new ReadOnly()
  /** ReadIndex requests received before this leader committed an entry of its term */
  pendingReadIndexMessages: Message[] = []
  electionElapsed = 0
  heartbeatElapsed = 0
  randomizedElectionTimeout = 0
  readonly electionTimeout: number
  readonly heartbeatTimeout: number
  readonly checkQuorum: boolean
  readonly preVote: boolean
  readonly maxMsgSize: number
  readonly maxCommittedSize: number
  readonly readOnlyOption: ReadOnlyOption
  readonly disableProposalForwarding: boolean
  readonly priority: number
  /** the leader counts itself toward a quorum only for entries the driver reported durable (leaderAppendDurable) */
  readonly leaderPersistsAsync: boolean
  private readonly rng: Prng

  constructor (c: RaftConfig) {
    this.id = c.id
    this.electionTimeout = c.electionTick
    this.heartbeatTimeout = c.heartbeatTick
    this.checkQuorum = c.checkQuorum
    this.preVote = c.preVote
    this.maxMsgSize = c.maxSizePerMsg
    this.maxCommittedSize = c.maxCommittedSizePerReady
    this.readOnlyOption = c.readOnlyOption
    this.disableProposalForwarding = c.disableProposalForwarding
    this.priority = c.priority
    this.leaderPersistsAsync = c.leaderPersistsAsync === true
    this.rng = createPrng((c.randomSeed ^ hashString(c.id)) >>> 0)
    this.raftLog = new RaftLog(c.storage)
    const { hardState, confState } = c.storage.initialState()
    this.trk = new ProgressTracker(membershipFromConfState(confState), c.maxInflightMsgs, c.maxInflightBytes)
    this.trk.progress = ProgressTracker.buildProgress(this.trk.membership, new Map(), this.raftLog.lastIndex(), c.maxInflightMsgs, c.maxInflightBytes)
    this.updateIsLearner()
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadState(hardState)
    if (c.applied > 0) {
      if (c.applied > this.raftLog.committed) throw new InvalidStorageStateError(`applied ${c.applied} is beyond committed ${this.raftLog.committed}`)
      this.raftLog.appliedTo(c.applied)
    }
    this.becomeFollower(this.term, NONE)
  }

  private loadState (hs: HardState): void {
    if (hs.commit > this.raftLog.lastIndex()) {
      throw new InvalidStorageStateError(`hard state commit ${hs.commit} is beyond the last log index ${this.raftLog.lastIndex()}`)
    }
    // a snapshot installed without its hard state (crash in between) still implies its index is committed
    this.raftLog.committed = Math.max(hs.commit, this.raftLog.committed)
    this.term = hs.term
    this.vote = hs.vote
  }

  hardState (): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed }
  }

  private updateIsLearner (): void {
    const pr = this.trk.progress.get(this.id)
    this.isLearner = pr !== undefined && pr.isLearner
  }

  // ---------------------------------------------------------------- sending

  private send (m: Message): void {
    m.from = this.id
    if (m.type === MessageType.MsgVote || m.type === MessageType.MsgVoteResp ||
        m.type === MessageType.MsgPreVote || m.type === MessageType.MsgPreVoteResp) {
      if (m.term === 0) throw new Error(`term must be set when sending ${MessageType[m.type]}`)
    } else if (m.type !== MessageType.MsgProp && m.type !== MessageType.MsgReadIndex) {
      m.term = this.term
    }
    this.msgs.push(m)
  }

  /** Sends a MsgApp (or MsgSnap) to `to` if flow control allows; true when a message was sent. */
  private maybeSendAppend (to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to)
    if (pr === undefined || pr.isPaused()) return false
    const prevIndex = pr.next - 1
    let prevTerm: number | undefined
    let ents: Entry[] | undefined
    try {
      prevTerm = this.raftLog.term(prevIndex)
      ents = this.raftLog.entriesFrom(pr.next, this.maxMsgSize)
    } catch (err) {
      if (!(err instanceof CompactedError) && !(err instanceof UnavailableError)) throw err
    }
    if (prevTerm === undefined || ents === undefined) {
      // the follower needs entries we compacted: send the snapshot instead
      if (!pr.recentActive) return false
      const snap = this.raftLog.snapshot()
      if (snap.metadata.index === 0) throw new Error('need a non-empty snapshot to catch up a follower')
      const cs = snap.metadata.confState
      if (!cs.voters.includes(to) && !cs.learners.includes(to) && !cs.votersOutgoing.includes(to) && !cs.learnersNext.includes(to)) {
        // the follower would ignore a snapshot that predates its membership:
        // wait (probing again on the next heartbeat) until the application
        // has taken a snapshot that includes it
        if (pr.state !== ProgressState.Probe) pr.becomeProbe()
        pr.probeSent = true
        return false
      }
      pr.becomeSnapshot(snap.metadata.index)
      this.send(makeMessage({ type: MessageType.MsgSnap, to, snapshot: snap }))
      return true
    }
    if (ents.length === 0 && !sendIfEmpty) return false
    this.send(makeMessage({
      type: MessageType.MsgApp,
      to,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.raftLog.committed
    }))
    pr.sentEntries(ents.length, entsSize(ents))
    return true
  }

  private sendAppend (to: NodeId): void {
    this.maybeSendAppend(to, true)
  }

  bcastAppend (): void {
    for (const id of this.trk.ids()) if (id !== this.id) this.sendAppend(id)
  }

  private sendHeartbeat (to: NodeId, ctx: Uint8Array | undefined): void {
    const pr = this.trk.progress.get(to)
    if (pr === undefined) return
    // never advertise a commit index beyond what the follower is known to hold
    const commit = Math.min(pr.match, this.raftLog.committed)
    this.send(makeMessage({ type: MessageType.MsgHeartbeat, to, commit, context: ctx }))
  }

  private bcastHeartbeat (ctx?: Uint8Array): void {
    const c = ctx ?? this.readOnly.lastPendingRequestCtx()
    for (const id of this.trk.ids()) if (id !== this.id) this.sendHeartbeat(id, c)
  }

  // ------------------------------------------------------- state transitions

  private resetRandomizedElectionTimeout (): void {
    if (this.priority <= 0) {
      this.randomizedElectionTimeout = Number.MAX_SAFE_INTEGER
      return
    }
    const range = Math.max(1, Math.ceil(this.electionTimeout / this.priority))
    this.randomizedElectionTimeout = this.electionTimeout + this.rng.int(range)
  }

  private reset (term: number): void {
    if (this.term !== term) {
      this.term = term
      this.vote = NONE
    }
    this.lead = NONE
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.resetRandomizedElectionTimeout()
    this.abortLeaderTransfer()
    this.trk.resetVotes()
    const last = this.raftLog.lastIndex()
    // async mode: only what is already in stable storage counts as our own match
    const selfMatch = this.leaderPersistsAsync ? Math.min(last, this.raftLog.unstable.offset - 1) : last
    for (const [id, pr] of this.trk.progress) {
      pr.becomeProbe()
      pr.match = id === this.id ? selfMatch : 0
      pr.next = last + 1
      pr.recentActive = false
      pr.probeSent = false
    }
    this.pendingConfIndex = 0
    this.readOnly = new ReadOnly()
    this.pendingReadIndexMessages = []
  }

  becomeFollower (term: number, lead: NodeId): void {
    this.reset(term)
    this.lead = lead
    this.state = StateType.Follower
  }

  private becomeCandidate (): void {
    if (this.state === StateType.Leader) throw new Error('invalid transition [leader -> candidate]')
    this.reset(this.term + 1)
    this.vote = this.id
    this.state = StateType.Candidate
  }

  private becomePreCandidate (): void {
    if (this.state === StateType.Leader) throw new Error('invalid transition [leader -> pre-candidate]')
    // pre-vote changes neither term nor vote
    this.trk.resetVotes()
    this.lead = NONE
    this.state = StateType.PreCandidate
  }

  private becomeLeader (): void {
    if (this.state === StateType.Follower) throw new Error('invalid transition [follower -> leader]')
    this.reset(this.term)
    this.lead = this.id
    this.state = StateType.Leader
    const self = this.trk.progress.get(this.id)
    if (self !== undefined) {
      self.becomeReplicate()
      self.recentActive = true
    }
    // no conf change may be proposed before every entry of earlier terms is applied
    this.pendingConfIndex = this.raftLog.lastIndex()
    this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }])
  }

  private appendEntries (es: Entry[]): void {
    const li = this.raftLog.lastIndex()
    const stamped = es.map((e, i) => ({ ...e, term: this.term, index: li + 1 + i }))
    const last = this.raftLog.append(stamped)
    // async mode: the leader counts itself once the driver reports the write durable
    if (!this.leaderPersistsAsync) this.trk.progress.get(this.id)?.maybeUpdate(last)
    this.maybeCommit()
  }

  /**
   * Quiescence (multi-Raft hibernation): true when this leader has nothing
   * to replicate or confirm: every member (learners too) holds the whole log
   * in Replicate state, everything is committed in the current term, no read
   * or leadership transfer is pending and the configuration is not joint.
   * The driver may then stop ticking after broadcastQuiesce().
   */
  quiescible (): boolean {
    if (this.state !== StateType.Leader || this.leadTransferee !== NONE) return false
    if (this.trk.membership.votersOutgoing.size > 0) return false
    const last = this.raftLog.lastIndex()
    if (this.raftLog.committed !== last || this.raftLog.termOrZero(last) !== this.term) return false
    if (this.readOnly.size() > 0 || this.pendingReadIndexMessages.length > 0) return false
    for (const [id, pr] of this.trk.progress) {
      if (pr.match !== last) return false
      if (id !== this.id && pr.state !== ProgressState.Replicate) return false
    }
    return true
  }

  /** Heartbeats carrying `ctx` to every member (the driver's quiesce notice). */
  broadcastHeartbeat (ctx: Uint8Array): void {
    if (this.state !== StateType.Leader) return
    this.bcastHeartbeat(ctx)
  }

  /** A woken group restarts its election (or check-quorum) period from zero, as if its clock had been stopped. */
  resetElectionElapsed (): void {
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
  }

  /**
   * Async mode: the driver made the leader's own entries up to `index`
   * (appended in `term`) durable. Counts the leader toward the quorum for
   * them and, if that commits more, tells the followers. Ignored unless still
   * leader of `term` (a new term re-derives its own match from stable storage).
   */
  leaderAppendDurable (index: number, term: number): void {
    if (!this.leaderPersistsAsync || this.state !== StateType.Leader || term !== this.term) return
    const pr = this.trk.progress.get(this.id)
    if (pr === undefined) return
    pr.maybeUpdate(Math.min(index, this.raftLog.lastIndex()))
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages()
      this.bcastCommit()
    }
  }

  /**
   * The commit index advanced. Eager (default): an append (possibly empty)
   * to every follower carries it. Lazy (leaderPersistsAsync mode): only
   * followers with entries to receive get an append now; the others learn
   * the commit index from the next heartbeat (every heartbeatTick; a
   * ReadIndex round's heartbeats carry it too), which saves a message and
   * its response per follower per commit.
   */
  private bcastCommit (): void {
    if (!this.leaderPersistsAsync) { this.bcastAppend(); return }
    for (const id of this.trk.ids()) if (id !== this.id) this.maybeSendAppend(id, false)
  }

  /** true when the commit index advanced */
  maybeCommit (): boolean {
    return this.raftLog.maybeCommit(this.trk.committed(), this.term)
  }

  promotable (): boolean {
    const pr = this.trk.progress.get(this.id)
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasPendingSnapshot()
  }

  private hasUnappliedConfChanges (): boolean {
    if (this.raftLog.applied >= this.raftLog.committed) return false
    let lo = this.raftLog.applied + 1
    const hi = this.raftLog.committed + 1
    while (lo < hi) {
      const ents = this.raftLog.slice(lo, hi, this.maxCommittedSize)
      for (const e of ents) if (e.type === EntryType.ConfChange) return true
      if (ents.length === 0) break
      lo += ents.length
    }
    return false
  }

  private hup (t: CampaignType): void {
    if (this.state === StateType.Leader) return
    if (!this.promotable()) return
    if (this.hasUnappliedConfChanges()) return
    this.campaign(t)
  }

  campaign (t: CampaignType): void {
    if (!this.promotable()) return
    let term: number
    let voteMsg: MessageType
    if (t === CampaignType.PreElection) {
      this.becomePreCandidate()
      voteMsg = MessageType.MsgPreVote
      term = this.term + 1
    } else {
      this.becomeCandidate()
      voteMsg = MessageType.MsgVote
      term = this.term
    }
    if (this.poll(this.id, true) === VoteResult.Won) {
      if (t === CampaignType.PreElection) this.campaign(CampaignType.Election)
      else this.becomeLeader()
      return
    }
    const lastIndex = this.raftLog.lastIndex()
    const lastTerm = this.raftLog.lastTerm()
    for (const id of this.trk.voterIds()) {
      if (id === this.id) continue
      this.send(makeMessage({
        type: voteMsg,
        to: id,
        term,
        index: lastIndex,
        logTerm: lastTerm,
        context: t === CampaignType.Transfer ? CAMPAIGN_TRANSFER : undefined
      }))
    }
  }

  private poll (id: NodeId, granted: boolean): VoteResult {
    this.trk.recordVote(id, granted)
    return this.trk.tallyVotes().result
  }

  // ------------------------------------------------------------------ ticks

  tick (): void {
    if (this.state === StateType.Leader) this.tickHeartbeat()
    else this.tickElection()
  }

  private tickElection (): void {
    this.electionElapsed++
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0
      this.step(makeMessage({ type: MessageType.MsgHup, from: this.id }))
    }
  }

  private tickHeartbeat (): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0
      if (this.checkQuorum) this.step(makeMessage({ type: MessageType.MsgCheckQuorum, from: this.id }))
      // a transfer that did not finish within an election timeout is abandoned
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) this.abortLeaderTransfer()
    }
    if (this.state !== StateType.Leader) return
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0
      this.step(makeMessage({ type: MessageType.MsgBeat, from: this.id }))
    }
  }

  // ------------------------------------------------------------------- step

  step (m: Message): void {
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const force = isTransferContext(m.context)
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout
        // we heard from a live leader within the minimum election timeout: ignore the disruption
        if (!force && inLease) return
      }
      if (m.type === MessageType.MsgPreVote) {
        // never change our term in response to a pre-vote
      } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
        // the term in a granted pre-vote response is the one we asked for; it becomes ours only on winning
      } else if (m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgSnap) {
        this.becomeFollower(m.term, m.from)
      } else {
        this.becomeFollower(m.term, NONE)
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)) {
        // a stale leader (e.g. after a partition) learns our term from this and steps down
        this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from }))
      } else if (m.type === MessageType.MsgPreVote) {
        this.send(makeMessage({ type: MessageType.MsgPreVoteResp, to: m.from, term: this.term, reject: true }))
      }
      return
    }

    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.preVote ? CampaignType.PreElection : CampaignType.Election)
        return
      case MessageType.MsgVote:
      case MessageType.MsgPreVote: {
        const canVote = this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.MsgPreVote && m.term > this.term)
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          this.send(makeMessage({ type: voteResponseType(m.type), to: m.from, term: m.term }))
          if (m.type === MessageType.MsgVote) {
            this.electionElapsed = 0
            this.vote = m.from
          }
        } else {
          this.send(makeMessage({ type: voteResponseType(m.type), to: m.from, term: this.term, reject: true }))
        }
        return
      }
      default:
        break
    }
    switch (this.state) {
      case StateType.Leader: this.stepLeader(m); break
      case StateType.Candidate:
      case StateType.PreCandidate: this.stepCandidate(m); break
      default: this.stepFollower(m)
    }
  }

  private stepLeader (m: Message): void {
    switch (m.type) {
      case MessageType.MsgBeat:
        this.bcastHeartbeat()
        return
      case MessageType.MsgCheckQuorum:
        if (!this.trk.quorumActive()) {
          this.becomeFollower(this.term, NONE)
        }
        for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false
        return
      case MessageType.MsgProp:
        this.leaderPropose(m)
        return
      case MessageType.MsgTransferLeader:
        this.leaderTransfer(m)
        return
      case MessageType.MsgReadIndex:
        if (this.trk.isSingleton()) {
          this.respondToReadIndex(m, this.raftLog.committed)
          return
        }
        if (!this.committedEntryInCurrentTerm()) {
          this.pendingReadIndexMessages.push(m)
          return
        }
        this.sendReadIndexResponse(m)
        return
      default:
        break
    }

    const pr = this.trk.progress.get(m.from)
    if (pr === undefined) return
    switch (m.type) {
      case MessageType.MsgAppResp: {
        pr.recentActive = true
        if (m.reject) {
          let nextProbeIdx = m.rejectHint
          if (m.logTerm > 0) nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index
          if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
            if (pr.state === ProgressState.Replicate) pr.becomeProbe()
            this.sendAppend(m.from)
          }
          return
        }
        const oldPaused = pr.isPaused()
        const probeMatched = pr.state === ProgressState.Probe && pr.match === m.index
        if (!pr.maybeUpdate(m.index) && !probeMatched) return
        if (pr.state === ProgressState.Probe) {
          pr.becomeReplicate()
        } else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= this.raftLog.firstIndex()) {
          // the follower can be caught up from the log now, whatever snapshot it applied
          pr.becomeProbe()
          pr.becomeReplicate()
        } else if (pr.state === ProgressState.Replicate) {
          pr.inflights.freeLE(m.index)
        }
        if (this.maybeCommit()) {
          this.releasePendingReadIndexMessages()
          this.bcastCommit()
        } else if (oldPaused) {
          this.sendAppend(m.from)
        }
        // keep the pipeline full while there is more to send
        while (this.maybeSendAppend(m.from, false)) { /* loop */ }
        if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
          this.sendTimeoutNow(m.from)
        }
        return
      }
      case MessageType.MsgHeartbeatResp: {
        pr.recentActive = true
        pr.probeSent = false
        // lost MsgApps can leave the window full forever: free one slot so a probe goes out
        if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne()
        if (pr.match < this.raftLog.lastIndex() || pr.state === ProgressState.Probe) this.sendAppend(m.from)
        if (this.readOnlyOption !== 'safe' || m.context === undefined || m.context.length === 0) return
        const acks = this.readOnly.recvAck(m.from, m.context)
        if (acks === undefined) return
        if (jointVoteResult(this.trk.membership.voters, this.trk.membership.votersOutgoing, acks) !== VoteResult.Won) return
        for (const rs of this.readOnly.advance(m.context)) this.respondToReadIndex(rs.req, rs.index)
        return
      }
      case MessageType.MsgSnapStatus: {
        if (pr.state !== ProgressState.Snapshot) return
        if (m.reject) pr.pendingSnapshot = 0
        pr.becomeProbe()
        // wait for a MsgAppResp/MsgHeartbeatResp before probing again
        pr.probeSent = true
        return
      }
      case MessageType.MsgUnreachable:
        if (pr.state === ProgressState.Replicate) pr.becomeProbe()
        return
      default:
        break
    }
  }

  private leaderTransfer (m: Message): void {
    const transferee = transfereeOf(m)
    const pr = this.trk.progress.get(transferee)
    if (pr === undefined || pr.isLearner) return
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return
      this.abortLeaderTransfer()
    }
    if (transferee === this.id) return
    // the transfer must finish within one election timeout
    this.electionElapsed = 0
    this.leadTransferee = transferee
    if (pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(transferee)
    else this.sendAppend(transferee)
  }

  private leaderPropose (m: Message): void {
    if (m.entries.length === 0) throw new Error('stepped empty MsgProp')
    if (!this.trk.progress.has(this.id)) throw new ProposalDroppedError('leader was removed from the configuration')
    if (this.leadTransferee !== NONE) throw new ProposalDroppedError(`leadership transfer to ${this.leadTransferee} in progress`)
    const ents = m.entries.map(e => ({ ...e }))
    for (let i = 0; i < ents.length; i++) {
      if (ents[i].type !== EntryType.ConfChange) continue
      // one change in flight at a time; a joint config may only be left, and
      // only a joint config can be left; the change must apply cleanly now
      let refuse = this.pendingConfIndex > this.raftLog.applied
      if (!refuse) {
        try {
          const cc = toV2(decodeAnyConfChange(ents[i].data))
          const alreadyJoint = this.trk.membership.votersOutgoing.size > 0
          if (alreadyJoint !== wantsLeaveJoint(cc)) refuse = true
          else applyConfChangeTo(this.trk.membership, cc)
        } catch (err) {
          if (!(err instanceof InvalidConfChangeError)) throw err
          refuse = true
        }
      }
      if (refuse) {
        // keep the slot (callers track indexes) but make it a no-op
        ents[i] = { term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }
      } else {
        this.pendingConfIndex = this.raftLog.lastIndex() + i + 1
      }
    }
    this.appendEntries(ents)
    this.bcastAppend()
  }

  private committedEntryInCurrentTerm (): boolean {
    return this.raftLog.termOrZero(this.raftLog.committed) === this.term
  }

  private releasePendingReadIndexMessages (): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return
    const msgs = this.pendingReadIndexMessages
    this.pendingReadIndexMessages = []
    for (const m of msgs) this.sendReadIndexResponse(m)
  }

  private sendReadIndexResponse (m: Message): void {
    if (this.readOnlyOption === 'lease') {
      this.respondToReadIndex(m, this.raftLog.committed)
      return
    }
    this.readOnly.addRequest(this.raftLog.committed, m)
    // the leader acknowledges itself
    this.readOnly.recvAck(this.id, m.context)
    this.bcastHeartbeat(m.context)
  }

  private respondToReadIndex (req: Message, index: number): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, requestCtx: req.context ?? new Uint8Array(0) })
      return
    }
    this.send(makeMessage({ type: MessageType.MsgReadIndexResp, to: req.from, index, context: req.context }))
  }

  private sendTimeoutNow (to: NodeId): void {
    this.send(makeMessage({ type: MessageType.MsgTimeoutNow, to }))
  }

  abortLeaderTransfer (): void {
    this.leadTransferee = NONE
  }

  private stepCandidate (m: Message): void {
    const myVoteResp = this.state === StateType.PreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp
    switch (m.type) {
      case MessageType.MsgProp:
        throw new ProposalDroppedError('no leader (election in progress)')
      case MessageType.MsgApp:
        this.becomeFollower(m.term, m.from)
        this.handleAppendEntries(m)
        return
      case MessageType.MsgHeartbeat:
        this.becomeFollower(m.term, m.from)
        this.handleHeartbeat(m)
        return
      case MessageType.MsgSnap:
        this.becomeFollower(m.term, m.from)
        this.handleSnapshot(m)
        return
      case myVoteResp: {
        // a granted pre-vote answers the term we asked for; an older round's grant does not count
        if (this.state === StateType.PreCandidate && !m.reject && m.term !== this.term + 1) return
        const res = this.poll(m.from, !m.reject)
        if (res === VoteResult.Won) {
          if (this.state === StateType.PreCandidate) {
            this.campaign(CampaignType.Election)
          } else {
            this.becomeLeader()
            this.bcastAppend()
          }
        } else if (res === VoteResult.Lost) {
          // MsgPreVoteResp carries a future term; stay at our own
          this.becomeFollower(this.term, NONE)
        }
        return
      }
      default:
        return
    }
  }

  private stepFollower (m: Message): void {
    switch (m.type) {
      case MessageType.MsgProp:
        if (this.lead === NONE) throw new ProposalDroppedError('no leader')
        if (this.disableProposalForwarding) throw new ProposalDroppedError('proposal forwarding disabled')
        this.send({ ...m, to: this.lead })
        return
      case MessageType.MsgApp:
        this.electionElapsed = 0
        this.lead = m.from
        this.handleAppendEntries(m)
        return
      case MessageType.MsgHeartbeat:
        this.electionElapsed = 0
        this.lead = m.from
        this.handleHeartbeat(m)
        return
      case MessageType.MsgSnap:
        this.electionElapsed = 0
        this.lead = m.from
        this.handleSnapshot(m)
        return
      case MessageType.MsgTransferLeader:
        if (this.lead === NONE) return
        // forwarded with ourselves as sender; the transferee travels in the context
        this.send(makeMessage({ type: MessageType.MsgTransferLeader, to: this.lead, context: te.encode(transfereeOf(m)) }))
        return
      case MessageType.MsgTimeoutNow:
        // a transfer never needs pre-vote: the leader asked for it
        this.hup(CampaignType.Transfer)
        return
      case MessageType.MsgReadIndex:
        if (this.lead === NONE) return
        this.send({ ...m, to: this.lead })
        return
      case MessageType.MsgReadIndexResp:
        this.readStates.push({ index: m.index, requestCtx: m.context ?? new Uint8Array(0) })
        return
      default:
        return
    }
  }

  private handleAppendEntries (m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.committed }))
      return
    }
    const last = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries)
    if (last !== undefined) {
      this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from, index: last }))
      return
    }
    const hintIndex = Math.min(m.index, this.raftLog.lastIndex())
    const hint = this.raftLog.findConflictByTerm(hintIndex, m.logTerm)
    this.send(makeMessage({
      type: MessageType.MsgAppResp,
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term
    }))
  }

  private handleHeartbeat (m: Message): void {
    this.raftLog.commitTo(Math.min(m.commit, this.raftLog.lastIndex()))
    this.send(makeMessage({ type: MessageType.MsgHeartbeatResp, to: m.from, context: m.context }))
  }

  private handleSnapshot (m: Message): void {
    if (m.snapshot === undefined) return
    if (this.restore(m.snapshot)) {
      this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.lastIndex() }))
    } else {
      this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.committed }))
    }
  }

  /** Installs a snapshot from the leader; false when it is stale or does not include us. */
  restore (s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) return false
    if (this.state !== StateType.Follower) {
      // defensive: only followers install snapshots
      this.becomeFollower(this.term + 1, NONE)
      return false
    }
    const cs = s.metadata.confState
    const inConfig = [...cs.voters, ...cs.learners, ...cs.votersOutgoing].includes(this.id)
    if (!inConfig) return false
    if (this.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
      // we already have the log up to the snapshot: just fast-forward the commit
      this.raftLog.commitTo(s.metadata.index)
      return false
    }
    this.raftLog.restore(s)
    const membership = membershipFromConfState(cs)
    this.trk = new ProgressTracker(membership, this.trk.maxInflight, this.trk.maxInflightBytes)
    this.trk.progress = ProgressTracker.buildProgress(membership, new Map(), this.raftLog.lastIndex(), this.trk.maxInflight, this.trk.maxInflightBytes)
    this.switchToConfig()
    return true
  }

  // --------------------------------------------------------- conf changes

  /**
   * Applies a committed ConfChange / ConfChangeV2; an invalid change leaves
   * the configuration unchanged (deterministically on every node).
   */
  applyConfChange (cc: AnyConfChange): ConfState {
    let next: Membership
    try {
      next = applyConfChangeTo(this.trk.membership, cc)
    } catch (err) {
      if (err instanceof InvalidConfChangeError) return this.trk.confState()
      throw err
    }
    this.trk.progress = ProgressTracker.buildProgress(next, this.trk.progress, this.raftLog.lastIndex(), this.trk.maxInflight, this.trk.maxInflightBytes)
    this.trk.membership = next
    return this.switchToConfig()
  }

  /**
   * A leader in a joint configuration with autoLeave proposes the empty
   * ConfChangeV2 once everything up to the joint entry is applied.
   */
  maybeAutoLeave (): void {
    if (this.state !== StateType.Leader || !this.trk.membership.autoLeave) return
    if (this.trk.membership.votersOutgoing.size === 0) return
    if (this.raftLog.applied < this.pendingConfIndex) return
    try {
      this.step(makeMessage({
        type: MessageType.MsgProp,
        from: this.id,
        entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(leaveJointChange()) }]
      }))
    } catch (err) {
      // e.g. a leadership transfer in progress: retried after the next apply
      if (!(err instanceof ProposalDroppedError)) throw err
    }
  }

  private switchToConfig (): ConfState {
    const cs = this.trk.confState()
    this.updateIsLearner()
    const pr = this.trk.progress.get(this.id)
    if ((pr === undefined || this.isLearner) && this.state === StateType.Leader) {
      // removed (or demoted) leader steps down; the others elect a new one
      this.becomeFollower(this.term, NONE)
      return cs
    }
    if (this.state !== StateType.Leader || cs.voters.length === 0) return cs
    if (this.maybeCommit()) {
      this.bcastAppend()
    } else {
      for (const id of this.trk.ids()) if (id !== this.id) this.maybeSendAppend(id, false)
    }
    if (this.leadTransferee !== NONE && !this.trk.membership.voters.has(this.leadTransferee)) this.abortLeaderTransfer()
    return cs
  }

  /** Messages from unknown peers that only make sense as responses are dropped by the caller. */
  static isResponseFromUnknown (r: Raft, m: Message): boolean {
    return isResponseMessage(m.type) && !r.trk.progress.has(m.from)
  }
}

export { NONE, compareIds }
