/**
 * RawNode: the driver-facing wrapper of the state machine. The driver calls
 * tick()/step()/propose(), then ready() -> persist entries, hard state and
 * snapshot -> send messages -> apply committed entries -> advance().
 */
import { encodeConfChange } from './confchange.js'
import type { AnyConfChange } from './confchange.js'
import { makeMessage, MessageType } from './message.js'
import type { Message } from './message.js'
import { ProgressState } from './progress.js'
import { Raft, StateType } from './raft.js'
import type { RaftConfig } from './raft.js'
import { ProposalDroppedError, RaftUsageError } from './raft-errors.js'
import type { ReadState } from './read-only.js'
import { EntryType } from './types.js'
import type { ConfState, Entry, HardState, NodeId, Snapshot } from './types.js'
import { validateRemoteMessage } from './validate.js'

export interface SoftState {
  lead: NodeId
  raftState: StateType
}

export interface Ready {
  /** set when leader or role changed since the last Ready */
  softState?: SoftState
  /** set when term, vote or commit changed: persist before sending messages */
  hardState?: HardState
  /** entries to append to stable storage before sending messages */
  entries: Entry[]
  /** snapshot to install in storage (and the state machine) */
  snapshot?: Snapshot
  /** committed entries to apply, after the entries above are persisted */
  committedEntries: Entry[]
  /** messages to send once everything above is durable */
  messages: Message[]
  readStates: ReadState[]
  /** whether the write of entries/hard state must be fsynced */
  mustSync: boolean
  /**
   * term or vote changed in this Ready: they must be durable before any
   * message leaves, also in leaderPersistsAsync mode
   */
  termOrVoteChanged: boolean
}

export interface ProgressStatus {
  match: number
  next: number
  state: 'probe' | 'replicate' | 'snapshot'
  recentActive: boolean
  paused: boolean
  isLearner: boolean
  inflight: number
}

export interface RaftStatus {
  id: NodeId
  hardState: HardState
  softState: SoftState
  applied: number
  firstIndex: number
  lastIndex: number
  leadTransferee: NodeId
  config: ConfState
  /** only on the leader */
  progress?: Record<NodeId, ProgressStatus>
}

const stateNames: Record<ProgressState, ProgressStatus['state']> = {
  [ProgressState.Probe]: 'probe',
  [ProgressState.Replicate]: 'replicate',
  [ProgressState.Snapshot]: 'snapshot'
}

export class RawNode {
  readonly raft: Raft
  private prevSoft: SoftState
  private prevHard: HardState
  private pending: Ready | undefined

  constructor (config: RaftConfig) {
    this.raft = new Raft(config)
    this.prevSoft = this.softState()
    this.prevHard = this.raft.hardState()
  }

  get id (): NodeId {
    return this.raft.id
  }

  tick (): void {
    this.raft.tick()
  }

  campaign (): void {
    this.raft.step(makeMessage({ type: MessageType.MsgHup }))
  }

  /** Proposes `data`; throws ProposalDroppedError when it cannot be accepted now. */
  propose (data: Uint8Array): void {
    this.raft.step(makeMessage({
      type: MessageType.MsgProp,
      from: this.raft.id,
      entries: [{ term: 0, index: 0, type: EntryType.Normal, data }]
    }))
  }

  /**
   * Proposes several commands as one MsgProp (one append, one MsgApp per
   * follower); all-or-nothing: throws ProposalDroppedError and appends none.
   */
  proposeBatch (data: Uint8Array[]): void {
    if (data.length === 0) return
    const entries = new Array<{ term: number, index: number, type: EntryType, data: Uint8Array }>(data.length)
    for (let i = 0; i < data.length; i++) entries[i] = { term: 0, index: 0, type: EntryType.Normal, data: data[i] }
    this.raft.step(makeMessage({ type: MessageType.MsgProp, from: this.raft.id, entries }))
  }

  /** Proposes a membership change: a ConfChange (one at a time) or a ConfChangeV2 (joint consensus). */
  proposeConfChange (cc: AnyConfChange): void {
    this.raft.step(makeMessage({
      type: MessageType.MsgProp,
      from: this.raft.id,
      entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }]
    }))
  }

  /**
   * Steps a message received from a peer. Throws InvalidMessageError for a
   * malformed message, ProposalDroppedError for a forwarded proposal that
   * cannot be accepted; messages from unknown peers that are responses are ignored.
   */
  step (m: Message): void {
    validateRemoteMessage(m, this.raft.id)
    if (Raft.isResponseFromUnknown(this.raft, m)) return
    this.raft.step(m)
  }

  transferLeadership (to: NodeId): void {
    this.raft.step(makeMessage({ type: MessageType.MsgTransferLeader, from: to }))
  }

  /** Requests a read index; the answer arrives as a ReadState carrying `ctx` (unique per request). */
  readIndex (ctx: Uint8Array): void {
    this.raft.step(makeMessage({ type: MessageType.MsgReadIndex, context: ctx }))
  }

  /**
   * An in-flight write (advance({ entriesInFlight: true })) is durable up to
   * the entry (index, entryTerm): those entries leave the unstable log (a
   * no-op if they were replaced meanwhile). Call leaderAppendDurable too.
   */
  entriesDurable (index: number, entryTerm: number): void {
    this.raft.raftLog.unstable.stableTo(index, entryTerm)
  }

  /**
   * leaderPersistsAsync mode: the entries of a Ready up to `index`, taken
   * while leader of `term`, are durable in stable storage. The leader may
   * send a Ready's messages before its own write completes (Raft thesis
   * 10.2.1; etcd does it) and counts itself only once this is called.
   */
  leaderAppendDurable (index: number, term: number): void {
    this.raft.leaderAppendDurable(index, term)
  }

  /** see Raft.quiescible: a leader with nothing in flight may stop ticking */
  quiescible (): boolean {
    return this.raft.quiescible()
  }

  /** leader: heartbeats with `ctx` to every member (the quiesce notice) */
  broadcastHeartbeat (ctx: Uint8Array): void {
    this.raft.broadcastHeartbeat(ctx)
  }

  /** a quiesced replica wakes: its election / check-quorum period restarts */
  resetElectionElapsed (): void {
    this.raft.resetElectionElapsed()
  }

  reportUnreachable (id: NodeId): void {
    this.raft.step(makeMessage({ type: MessageType.MsgUnreachable, from: id }))
  }

  reportSnapshot (id: NodeId, ok: boolean): void {
    this.raft.step(makeMessage({ type: MessageType.MsgSnapStatus, from: id, reject: !ok }))
  }

  /** Call when a ConfChange entry is applied (decode it with decodeAnyConfChange). */
  applyConfChange (cc: AnyConfChange): ConfState {
    return this.raft.applyConfChange(cc)
  }

  private softState (): SoftState {
    return { lead: this.raft.lead, raftState: this.raft.state }
  }

  hasReady (): boolean {
    if (this.pending !== undefined) return false
    const r = this.raft
    const ss = this.softState()
    if (ss.lead !== this.prevSoft.lead || ss.raftState !== this.prevSoft.raftState) return true
    const hs = r.hardState()
    if (!hardStateEqual(hs, this.prevHard)) return true
    if (r.raftLog.hasPendingSnapshot()) return true
    if (r.msgs.length > 0 || r.raftLog.unstable.hasEntriesToPersist() || r.raftLog.hasNextCommittedEnts()) return true
    return r.readStates.length > 0
  }

  /** Takes the pending work; call advance() once it is handled, before the next ready(). */
  ready (): Ready {
    if (this.pending !== undefined) throw new RaftUsageError('ready() called again before advance()')
    const r = this.raft
    const rd: Ready = {
      entries: r.raftLog.unstable.entriesToPersist(),
      committedEntries: r.raftLog.nextCommittedEnts(r.maxCommittedSize),
      messages: r.msgs,
      readStates: r.readStates,
      mustSync: false,
      termOrVoteChanged: false
    }
    const ss = this.softState()
    if (ss.lead !== this.prevSoft.lead || ss.raftState !== this.prevSoft.raftState) {
      rd.softState = ss
      this.prevSoft = ss
    }
    const hs = r.hardState()
    if (!hardStateEqual(hs, this.prevHard)) {
      rd.hardState = hs
      rd.mustSync = hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote
      rd.termOrVoteChanged = rd.mustSync
      this.prevHard = hs
    }
    if (r.raftLog.unstable.snapshot !== undefined) rd.snapshot = r.raftLog.unstable.snapshot
    if (rd.entries.length > 0) rd.mustSync = true
    if (rd.committedEntries.length > 0) r.raftLog.applying = rd.committedEntries[rd.committedEntries.length - 1].index
    r.msgs = []
    r.readStates = []
    this.pending = rd
    return rd
  }

  /**
   * leaderPersistsAsync mode: may this Ready's messages leave before its
   * write is durable? Only a leader's Ready that changes neither term nor
   * vote and installs no snapshot (its messages are MsgApp / heartbeats /
   * read-index answers / MsgTimeoutNow: none promises anything about our
   * own disk, and the leader counts itself only after leaderAppendDurable).
   */
  canSendBeforePersist (rd: Ready): boolean {
    return this.raft.leaderPersistsAsync && this.raft.state === StateType.Leader && !rd.termOrVoteChanged && rd.snapshot === undefined
  }

  /**
   * The Ready returned by ready() is persisted, sent and applied.
   * `entriesInFlight` (leaderPersistsAsync mode, a Ready for which
   * canSendBeforePersist held): its entries are still being written; they
   * stay in the unstable log (readable, not handed out again) until the
   * driver calls entriesDurable(), so the driver can go on with the next
   * Ready (a commit by the followers' acks) while its own fsync runs.
   */
  advance (options: { entriesInFlight?: boolean } = {}): void {
    const rd = this.pending
    if (rd === undefined) throw new RaftUsageError('advance() without a ready()')
    this.pending = undefined
    const log = this.raft.raftLog
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]
      if (options.entriesInFlight === true) {
        if (!this.raft.leaderPersistsAsync) throw new RaftUsageError('entriesInFlight needs leaderPersistsAsync')
        log.unstable.markInProgress(last.index, last.term)
      } else {
        log.unstable.stableTo(last.index, last.term)
      }
    }
    if (rd.snapshot !== undefined) {
      log.unstable.stableSnapTo(rd.snapshot.metadata.index)
      if (log.applied < rd.snapshot.metadata.index) {
        log.applied = rd.snapshot.metadata.index
        if (log.applying < log.applied) log.applying = log.applied
      }
    }
    if (rd.committedEntries.length > 0) log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1].index)
    this.raft.maybeAutoLeave()
  }

  status (): RaftStatus {
    const r = this.raft
    const st: RaftStatus = {
      id: r.id,
      hardState: r.hardState(),
      softState: this.softState(),
      applied: r.raftLog.applied,
      firstIndex: r.raftLog.firstIndex(),
      lastIndex: r.raftLog.lastIndex(),
      leadTransferee: r.leadTransferee,
      config: r.trk.confState()
    }
    if (r.state === StateType.Leader) {
      st.progress = {}
      for (const id of r.trk.ids()) {
        const pr = r.trk.progress.get(id)
        if (pr === undefined) continue
        st.progress[id] = {
          match: pr.match,
          next: pr.next,
          state: stateNames[pr.state],
          recentActive: pr.recentActive,
          paused: pr.isPaused(),
          isLearner: pr.isLearner,
          inflight: pr.inflights.count()
        }
      }
    }
    return st
  }
}

function hardStateEqual (a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit
}

export { ProposalDroppedError }
