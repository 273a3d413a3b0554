/**
 * One Raft replica of one group: ticks from the process-wide ticker (ticker.ts), owns the WAL
 * (<dataDir>/raft/<group>) and its slot on the shared transport. The Ready
 * loop persists (fsync) before sending (a leader's append: sends first and
 * does not wait for its own write, see handleReady), then applies committed entries to the
 * state machine, answers reads whose ReadIndex is applied, and takes a
 * snapshot + compacts every `snapshotEvery` applied entries.
 */
import { randomBytes } from 'node:crypto'
import { ConfChangeTransition, ConfChangeType, createRaft, decodeAnyConfChange, EntryType, MessageType, ProposalDroppedError, StateType } from '../core/index.js'
import type { ConfChangeSingle } from '../core/index.js'
import type { ConfState, Message, RawNode, Ready } from '../core/index.js'
import { openFileLogStorage } from '../storage/index.js'
import type { FileLogStorageApi, WalCipher, WalMetrics } from '../storage/index.js'
import type { RaftTransport } from '../transport/index.js'
import { RaftGroupStoppedError, RaftNotLeaderError, RaftStorageFailedError, RaftTimeoutError } from './errors.js'
import { frameProposal, unframeProposal } from './proposal.js'
import { subscribeTick, unsubscribeTick } from './ticker.js'
import type { Logger } from '../../telemetry/index.js'
import type { AbortOptions } from '@libp2p/interface'

/** The replicated application: deterministic, in memory, rebuilt from snapshot + log on restart. */
export interface StateMachine<R = unknown> {
  apply (command: Uint8Array, index: number): R
  snapshot (): Uint8Array
  restore (data: Uint8Array): void
}

export interface RaftGroupInit<R> {
  group: string
  self: string
  dir: string
  transport: RaftTransport
  stateMachine: StateMachine<R>
  /** initial configuration, used only when the WAL is empty (ignored with `join`) */
  voters: string[]
  learners?: string[]
  /**
   * this replica joins a running group (it was added by a membership change,
   * not named in the group's initial configuration): an empty WAL starts empty
   * and the leader brings it up to date (snapshot, then log)
   */
  join?: boolean
  /** peers accepted as senders besides the current configuration (a joiner's future co-members) */
  accept?: (peer: string) => boolean
  logger: Logger
  walMetrics?: WalMetrics
  /** encryption at rest of this group's WAL entries and snapshots (src/protection/wal.ts) */
  walCipher?: WalCipher
  tickMs?: number
  electionTick?: number
  heartbeatTick?: number
  /** quiesce when idle (default true): see maybeQuiesce */
  quiesce?: boolean
  priority?: number
  /** take a snapshot and compact after this many applied entries (default 10000) */
  snapshotEvery?: number
  /** entries kept behind a compaction so slightly lagging followers catch up by log (default 1000) */
  keepEntries?: number
  /** default deadline of propose/read (ms, default 5000) */
  timeoutMs?: number
  randomSeed?: number
}

export interface GroupStatus {
  group: string
  leader: string | null
  term: number
  commitIndex: number
  appliedIndex: number
  role: 'leader' | 'follower' | 'candidate' | 'learner'
  voters: string[]
  learners: string[]
  snapshotIndex: number
}

interface Waiter<R> { resolve: (r: R) => void, reject: (e: Error) => void }

interface Proposal<R> extends Waiter<R> {
  id: string
  data: Uint8Array
  /** performance.now() deadline */
  deadline: number
  signal?: AbortSignal
}

interface ReadWaiter {
  resolve: () => void
  reject: (e: Error) => void
  /** performance.now() deadline */
  deadline: number
  settled: boolean
}

/** one ReadIndex request serving every read queued before it was issued */
interface ReadBatch {
  waiters: ReadWaiter[]
  /** the read index, once the leader confirmed it */
  index?: number
  issuedAt: number
}

/** a leader quiesces after this many idle ticks */
const QUIESCE_AFTER_TICKS = 20
/** context of the leader's quiesce heartbeat (ReadIndex contexts are printable text: no collision) */
const QUIESCE_CTX = new Uint8Array([0, 0x71, 0x75, 0x69, 0x65, 0x73, 0x63, 0x65])

function isQuiesceCtx (c: Uint8Array | undefined): boolean {
  if (c === undefined || c.length !== QUIESCE_CTX.length) return false
  for (let i = 0; i < c.length; i++) if (c[i] !== QUIESCE_CTX[i]) return false
  return true
}

/** proposals per MsgProp at most (a frame carries at most 65,536 entries) */
const MAX_BATCH_PROPOSALS = 4096

function same (a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

export class RaftGroup<R = unknown> {
  readonly group: string
  readonly self: string
  private raft?: RawNode
  private storage?: FileLogStorageApi
  private running = false
  private looping = false
  private loopDone: Promise<void> = Promise.resolve()
  private again = false
  private failed?: Error
  private applied = 0
  private snapshotIndex = 0
  private confState!: ConfState
  private lead = ''
  private role: StateType = StateType.Follower
  private readonly nonce = randomBytes(6).toString('hex')
  private seq = 0
  private readonly proposals = new Map<string, Proposal<R>>()
  /** proposals not yet handed to the core (proposed as one batch by the Ready loop) */
  private outbox: Array<Proposal<R>> = []
  /** dropped proposals waiting for a leader */
  private readonly waitingForLeader: Array<Proposal<R>> = []
  private leaderWaitScheduled = false
  /** ctx -> waiter; index once the ReadState arrived */
  private readonly reads = new Map<string, ReadBatch>()
  /** reads not yet handed to the core: the Ready loop issues one ReadIndex for all of them */
  private readQueue: ReadWaiter[] = []
  private readonly appliedWaiters: Array<() => void> = []
  /** woken after every Ready that applied entries (membership changes wait on it) */
  private readonly confWaiters: Array<() => void> = []
  private readonly leaderWaiters: Array<() => void> = []
  /** WAL writes in flight that handleReady does not wait for (track()); they settle without rejecting */
  private readonly writes = new Set<Promise<void>>()
  private stopping?: Promise<void>
  /** quiesced: no tick timer, no heartbeats, until traffic wakes the group */
  private quiesced = false
  /** leader: consecutive ticks with nothing in flight */
  private idleTicks = 0
  /** follower: the current leader asked us to quiesce */
  private quiesceAsked = false
  /** times this replica quiesced (tests, metrics) */
  quiescedCount = 0

  constructor (private readonly init: RaftGroupInit<R>) {
    this.group = init.group
    this.self = init.self
  }

  async start (): Promise<void> {
    if (this.running) return
    const init = this.init
    const storage = await openFileLogStorage(init.dir, { logger: init.logger, metrics: init.walMetrics, group: init.group, ...(init.walCipher !== undefined ? { cipher: init.walCipher } : {}) })
    try {
      if (init.join !== true && storage.lastIndex() === 0 && storage.snapshot().metadata.index === 0) {
        // fresh replica: every member bootstraps the same initial configuration at index 1
        const cs: ConfState = { voters: [...init.voters].sort(), learners: [...(init.learners ?? [])].sort(), votersOutgoing: [], learnersNext: [], autoLeave: false }
        await storage.applySnapshot({ metadata: { index: 1, term: 1, confState: cs }, data: init.stateMachine.snapshot() }, { term: 1, vote: '', commit: 1 })
      }
      const snap = storage.snapshot()
      // a joiner's empty WAL has no snapshot yet: its state machine stays empty until the leader sends one
      if (snap.metadata.index > 0) init.stateMachine.restore(snap.data)
      this.applied = snap.metadata.index
      this.snapshotIndex = snap.metadata.index
      this.confState = storage.initialState().confState
      this.raft = createRaft({
        id: init.self,
        storage,
        electionTick: init.electionTick ?? 10,
        heartbeatTick: init.heartbeatTick ?? 1,
        priority: init.priority,
        applied: this.applied,
        // the leader writes its WAL while its MsgApps are on the wire and
        // counts itself only once that write is durable (handleReady)
        leaderPersistsAsync: true,
        // pipelined appends: up to 256 MsgApps (the core's default) and 8 MiB in flight per follower
        maxInflightBytes: 8 * 1024 * 1024,
        randomSeed: init.randomSeed ?? randomBytes(4).readUInt32LE(0)
      })
    } catch (err) {
      await storage.close()
      throw err
    }
    this.storage = storage
    this.running = true
    this.failed = undefined
    init.transport.register(init.group, {
      isMember: (peer) => this.isMember(peer),
      deliver: (m) => { this.step(m) },
      unreachable: (peer) => { this.wake(); this.raft?.reportUnreachable(peer); this.schedule() },
      // a member's connection is gone: a quiesced group must notice a dead leader
      peerDown: (peer) => { if (this.isMember(peer)) this.wake() }
    })
    this.quiesced = false
    this.startTicking()
    this.schedule()
  }

  /** this replica's tick, driven by the process-wide shared ticker (ticker.ts) */
  private readonly onTick = (): void => {
    if (!this.running) return
    try {
      this.sweepDeadlines()
      this.sweepReads()
      // judged on the state the previous tick's Ready left (before this tick's heartbeats)
      this.maybeQuiesce()
      if (!this.quiesced) this.raft!.tick()
    } catch (err) {
      this.fail(err)
      return
    }
    this.schedule()
  }

  private startTicking (): void {
    subscribeTick(this.init.tickMs ?? 50, this.onTick)
  }

  private stopTicking (): void {
    unsubscribeTick(this.init.tickMs ?? 50, this.onTick)
  }

  /** whether this replica is quiesced (no tick timer) */
  get isQuiesced (): boolean {
    return this.quiesced
  }

  /**
   * Quiescence, as CockroachDB/TiKV hibernate idle ranges: a leader whose
   * group has had nothing in flight for QUIESCE_AFTER_TICKS ticks sends one
   * heartbeat carrying QUIESCE_CTX and stops its tick timer; a follower that
   * receives it from its current leader, with everything committed and
   * applied and nothing pending, stops its timer too. Quiescing touches only
   * timers (liveness), never safety: any other message, a proposal, a read,
   * a membership change, a failed send, or the transport losing a member's
   * connection wakes the group (wake()), which restarts its clock with a
   * fresh election period. A quiesce notice lost on the way leaves that
   * follower ticking: it times out, its pre-vote wakes the others, and the
   * group quiesces again later.
   */
  private maybeQuiesce (): void {
    if (this.init.quiesce === false) return
    if (!this.running || this.quiesced || !this.driverIdle()) { this.idleTicks = 0; return }
    const raft = this.raft!
    if (this.role === StateType.Leader) {
      if (!raft.quiescible() || this.applied !== raft.status().hardState.commit) { this.idleTicks = 0; return }
      if (++this.idleTicks < QUIESCE_AFTER_TICKS) return
      raft.broadcastHeartbeat(QUIESCE_CTX)
      this.enterQuiesce()
    } else if (this.quiesceAsked && this.lead !== '') {
      const st = raft.status()
      if (st.hardState.commit === st.lastIndex && this.applied === st.hardState.commit) this.enterQuiesce()
    }
  }

  private driverIdle (): boolean {
    return this.proposals.size === 0 && this.outbox.length === 0 && this.reads.size === 0 && this.readQueue.length === 0 && this.waitingForLeader.length === 0 &&
      this.confWaiters.length === 0 && this.leaderWaiters.length === 0 && this.writes.size === 0 && !this.looping && !this.raft!.hasReady()
  }

  private enterQuiesce (): void {
    this.quiesced = true
    this.quiescedCount++
    this.idleTicks = 0
    this.stopTicking()
    this.init.logger.debug({ group: this.group, role: this.role }, 'raft group quiesced')
  }

  /** traffic on a quiesced group: restart its clock with a fresh election period */
  wake (): void {
    this.quiesceAsked = false
    if (!this.quiesced || !this.running) return
    this.idleTicks = 0
    this.quiesced = false
    this.raft!.resetElectionElapsed()
    this.startTicking()
    this.init.logger.debug({ group: this.group }, 'raft group woken')
  }

  async stop (): Promise<void> {
    if (this.stopping !== undefined) { await this.stopping; return }
    if (!this.running && this.storage === undefined) return
    this.stopping = (async () => {
      this.running = false
      this.stopTicking()
      this.init.transport.unregister(this.group)
      const err = new RaftGroupStoppedError(this.group)
      for (const w of this.proposals.values()) w.reject(err)
      this.rejectReads(err)
      this.proposals.clear()
      this.outbox = []
      this.waitingForLeader.length = 0
      this.reads.clear()
      // let an in-flight Ready finish its write before closing the WAL
      await this.loopDone
      await Promise.all(this.writes)
      await this.storage?.close()
      this.storage = undefined
    })()
    try { await this.stopping } finally { this.stopping = undefined }
  }

  isMember (peer: string): boolean {
    const cs = this.confState
    if (cs !== undefined && (cs.voters.includes(peer) || cs.learners.includes(peer) || cs.votersOutgoing.includes(peer) || cs.learnersNext.includes(peer))) return true
    return this.init.accept?.(peer) === true
  }

  /** the applied configuration (voters, learners; outgoing voters while joint) */
  membership (): { voters: string[], learners: string[], votersOutgoing: string[], joint: boolean } {
    const cs = this.confState
    return { voters: [...(cs?.voters ?? [])].sort(), learners: [...(cs?.learners ?? [])].sort(), votersOutgoing: [...(cs?.votersOutgoing ?? [])].sort(), joint: (cs?.votersOutgoing.length ?? 0) > 0 }
  }

  /**
   * Moves the group to `target` (voters and learners) by joint consensus:
   * one ConfChangeV2 with every addition and removal enters C_old,new (each
   * decision then needs a majority of both), and the leader leaves it
   * automatically once it is applied. Only the leader may call it; resolves
   * once this replica has applied a non-joint configuration equal to the
   * target. Rejects with RaftNotLeaderError on a follower and RaftTimeoutError
   * when the change did not complete in time (it may still complete later).
   */
  async changeMembership (target: { voters: string[], learners?: string[] }, options: AbortOptions & { timeoutMs?: number } = {}): Promise<void> {
    const signal = this.deadline(options)
    const want = { voters: [...new Set(target.voters)].sort(), learners: [...new Set(target.learners ?? [])].sort() }
    if (want.voters.length === 0) throw new RangeError('a configuration needs at least one voter')
    if (want.learners.some(l => want.voters.includes(l))) throw new RangeError('a peer cannot be both voter and learner')
    const done = (): boolean => {
      const m = this.membership()
      return !m.joint && same(m.voters, want.voters) && same(m.learners, want.learners)
    }
    // index of our last proposal: proposed again only once it is applied and the target is still not reached
    let proposedAt = -1
    for (;;) {
      this.checkRunning()
      if (done()) return
      if (signal.aborted) throw new RaftTimeoutError('membership change')
      const m = this.membership()
      // while joint, the leader leaves by itself (autoLeave), a new leader included
      if (!m.joint && this.applied >= proposedAt) {
        if (!this.isLeader) throw new RaftNotLeaderError(this.group, this.leader)
        const changes: ConfChangeSingle[] = []
        for (const v of want.voters) if (!m.voters.includes(v)) changes.push({ type: ConfChangeType.AddNode, nodeId: v })
        for (const l of want.learners) if (!m.learners.includes(l)) changes.push({ type: ConfChangeType.AddLearnerNode, nodeId: l })
        for (const p of [...m.voters, ...m.learners]) if (!want.voters.includes(p) && !want.learners.includes(p)) changes.push({ type: ConfChangeType.RemoveNode, nodeId: p })
        try {
          this.wake()
          this.raft!.proposeConfChange({ transition: ConfChangeTransition.Implicit, changes })
          proposedAt = this.raft!.status().lastIndex
          this.schedule()
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err
        }
      }
      await this.waitApplied(signal)
    }
  }

  private async waitApplied (signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      const settle = (): void => {
        clearTimeout(poll)
        signal.removeEventListener('abort', settle)
        const i = this.confWaiters.indexOf(settle)
        if (i >= 0) this.confWaiters.splice(i, 1)
        resolve()
      }
      signal.addEventListener('abort', settle, { once: true })
      this.confWaiters.push(settle)
      const poll = setTimeout(settle, (this.init.tickMs ?? 50) * 4)
    })
  }

  get leader (): string | null {
    return this.lead === '' ? null : this.lead
  }

  get isLeader (): boolean {
    return this.role === StateType.Leader
  }

  status (): GroupStatus {
    const st = this.raft?.status()
    const role = this.role === StateType.Leader
      ? 'leader'
      : this.role === StateType.Candidate || this.role === StateType.PreCandidate
        ? 'candidate'
        : (this.confState?.learners.includes(this.self) ? 'learner' : 'follower')
    return {
      group: this.group,
      leader: this.leader,
      term: st?.hardState.term ?? 0,
      commitIndex: st?.hardState.commit ?? 0,
      appliedIndex: this.applied,
      role,
      voters: [...(this.confState?.voters ?? [])],
      learners: [...(this.confState?.learners ?? [])],
      snapshotIndex: this.snapshotIndex
    }
  }

  /** WAL figures (for tests and metrics). */
  walStats (): ReturnType<FileLogStorageApi['stats']> | undefined {
    return this.storage?.stats()
  }

  step (m: Message): void {
    if (!this.running) return
    const notice = (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgHeartbeatResp) && isQuiesceCtx(m.context)
    if (!notice) this.wake()
    this.raft!.step(m)
    // a quiesce notice from the leader we follow, in its term (stepping it made us its follower)
    if (notice && m.type === MessageType.MsgHeartbeat) this.quiesceAsked = m.from === this.lead && this.role !== StateType.Leader
    this.schedule()
  }

  transferLeadership (to: string): void {
    if (!this.running) return
    this.wake()
    this.raft!.transferLeadership(to)
    this.schedule()
  }

  campaign (): void {
    if (!this.running) return
    this.wake()
    this.raft!.campaign()
    this.schedule()
  }

  /**
   * Replicates `command` and resolves with the state machine's result once it
   * is applied here. Rejects with RaftTimeoutError when not committed in time
   * (the outcome is then unknown: it may still be applied).
   *
   * Hot path: no timer, promise or listener per call beyond the caller's own
   * promise. The command joins the outbox; the Ready loop proposes the whole
   * outbox as one MsgProp (one append, one MsgApp per follower). Deadlines
   * are checked on every tick (so a proposal times out within one tick of
   * its deadline); a caller's signal gets a listener only when given.
   */
  async propose (command: Uint8Array, options: AbortOptions & { timeoutMs?: number } = {}): Promise<R> {
    this.checkRunning()
    if (options.signal?.aborted === true) throw new RaftTimeoutError('proposal')
    const id = `${this.nonce}.${(this.seq++).toString(36)}`
    const p = {
      id,
      data: frameProposal(id, command),
      deadline: performance.now() + (options.timeoutMs ?? this.init.timeoutMs ?? 5000),
      signal: options.signal
    } as Proposal<R>
    const result = new Promise<R>((resolve, reject) => { p.resolve = resolve; p.reject = reject })
    this.proposals.set(id, p)
    this.outbox.push(p)
    if (p.signal !== undefined) {
      const signal = p.signal
      const onAbort = (): void => { this.expire(p) }
      signal.addEventListener('abort', onAbort, { once: true })
      p.reject = ((reject) => (e: Error) => { signal.removeEventListener('abort', onAbort); reject(e) })(p.reject)
      p.resolve = ((resolve) => (r: R) => { signal.removeEventListener('abort', onAbort); resolve(r) })(p.resolve)
    }
    this.wake()
    this.schedule()
    return await result
  }

  /** a proposal whose deadline passed or whose caller aborted: settle it (the entry may still commit) */
  private expire (p: Proposal<R>): void {
    if (this.proposals.get(p.id) !== p) return
    this.proposals.delete(p.id)
    p.reject(new RaftTimeoutError('proposal'))
  }

  /** the tick's sweep of proposal deadlines */
  private sweepDeadlines (): void {
    if (this.proposals.size === 0) return
    const now = performance.now()
    for (const p of this.proposals.values()) if (p.deadline <= now) this.expire(p)
  }

  /** proposes the outbox as one batch; dropped (no leader): they wait for a leader and rejoin the outbox */
  private flushOutbox (): void {
    if (this.outbox.length === 0) return
    const batch = this.outbox.length <= MAX_BATCH_PROPOSALS ? this.outbox : this.outbox.slice(0, MAX_BATCH_PROPOSALS)
    this.outbox = this.outbox.length <= MAX_BATCH_PROPOSALS ? [] : this.outbox.slice(MAX_BATCH_PROPOSALS)
    const live: Array<Proposal<R>> = []
    for (const p of batch) if (this.proposals.get(p.id) === p) live.push(p)
    if (live.length === 0) return
    try {
      this.raft!.proposeBatch(live.map(p => p.data))
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err
      this.waitingForLeader.push(...live)
      if (!this.leaderWaitScheduled) {
        this.leaderWaitScheduled = true
        const until = Math.max(...live.map(p => p.deadline)) - performance.now()
        this.waitLeaderChange(AbortSignal.timeout(Math.max(1, Math.ceil(until)))).then(() => {}, () => {}).finally(() => {
          this.leaderWaitScheduled = false
          const again = this.waitingForLeader.splice(0)
          for (const p of again) if (this.proposals.get(p.id) === p) this.outbox.push(p)
          this.schedule()
        })
      }
    }
    if (this.outbox.length > 0) this.again = true
  }

  /**
   * Linearizable read barrier (ReadIndex): resolves once this replica has
   * applied everything committed when the read was confirmed by a quorum.
   * Reads arriving together share one ReadIndex request (one heartbeat
   * round), as etcd batches its linearizable reads: each was queued before
   * the request was issued, so the confirmed index covers every one of them.
   */
  async readBarrier (options: AbortOptions & { timeoutMs?: number } = {}): Promise<void> {
    this.checkRunning()
    const signal = options.signal
    if (signal?.aborted === true) throw new RaftTimeoutError('read')
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { this.settleRead(w, new RaftTimeoutError('read')) }
      const w: ReadWaiter = {
        resolve: () => { signal?.removeEventListener('abort', onAbort); resolve() },
        reject: (e) => { signal?.removeEventListener('abort', onAbort); reject(e) },
        deadline: performance.now() + (options.timeoutMs ?? this.init.timeoutMs ?? 5000),
        settled: false
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.readQueue.push(w)
      this.wake()
      this.schedule()
    })
  }

  private settleRead (w: ReadWaiter, err?: Error): void {
    if (w.settled) return
    w.settled = true
    if (err === undefined) w.resolve()
    else w.reject(err)
  }

  private rejectReads (err: Error): void {
    for (const b of this.reads.values()) for (const w of b.waiters) this.settleRead(w, err)
    for (const w of this.readQueue) this.settleRead(w, err)
    this.reads.clear()
    this.readQueue = []
  }

  /** issues one ReadIndex for every queued read */
  private flushReads (): void {
    if (this.readQueue.length === 0) return
    const waiters = this.readQueue.filter(w => !w.settled)
    this.readQueue = []
    if (waiters.length === 0) return
    const ctx = `${this.nonce}.r${(this.seq++).toString(36)}`
    this.reads.set(ctx, { waiters, issuedAt: performance.now() })
    this.raft!.readIndex(new TextEncoder().encode(ctx))
  }

  /**
   * The tick's sweep of reads: past their deadline they fail; a request not
   * confirmed within an election timeout (the core drops a ReadIndex while
   * there is no leader) is issued again for its remaining reads.
   */
  private sweepReads (): void {
    if (this.reads.size === 0 && this.readQueue.length === 0) return
    const now = performance.now()
    const retryMs = (this.init.tickMs ?? 50) * (this.init.electionTick ?? 10)
    for (const w of this.readQueue) if (w.deadline <= now) this.settleRead(w, new RaftTimeoutError('read'))
    for (const [ctx, b] of this.reads) {
      for (const w of b.waiters) if (w.deadline <= now) this.settleRead(w, new RaftTimeoutError('read'))
      const live = b.waiters.filter(w => !w.settled)
      if (live.length === 0) { this.reads.delete(ctx); continue }
      if (b.index === undefined && now - b.issuedAt >= retryMs) {
        this.reads.delete(ctx)
        this.readQueue.push(...live)
      }
    }
  }

  /** Waits until a leader is known (or the signal fires). */
  async waitForLeader (options: AbortOptions & { timeoutMs?: number } = {}): Promise<string> {
    const signal = this.deadline(options)
    while (this.lead === '') await this.waitLeaderChange(signal)
    return this.lead
  }

  private async waitLeaderChange (signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw new RaftTimeoutError('wait for leader')
    await new Promise<void>((resolve, reject) => {
      // whichever of wake-up, poll and abort comes first undoes the other two
      const settle = (err?: Error): void => {
        clearTimeout(poll)
        signal.removeEventListener('abort', onAbort)
        const i = this.leaderWaiters.indexOf(wake)
        if (i >= 0) this.leaderWaiters.splice(i, 1)
        if (err === undefined) resolve()
        else reject(err)
      }
      const wake = (): void => { settle() }
      const onAbort = (): void => { settle(new RaftTimeoutError('wait for leader')) }
      signal.addEventListener('abort', onAbort, { once: true })
      this.leaderWaiters.push(wake)
      // poll too: a leader may appear without a Ready that names it to us
      const poll = setTimeout(wake, (this.init.tickMs ?? 50) * 2)
    })
    this.checkRunning()
  }

  private deadline (options: AbortOptions & { timeoutMs?: number }): AbortSignal {
    const t = AbortSignal.timeout(options.timeoutMs ?? this.init.timeoutMs ?? 5000)
    return options.signal === undefined ? t : AbortSignal.any([options.signal, t])
  }

  private checkRunning (): void {
    if (this.failed !== undefined) throw this.failed
    if (!this.running) throw new RaftGroupStoppedError(this.group)
  }

  private schedule (): void {
    if (!this.running) return
    if (this.looping) { this.again = true; return }
    this.looping = true
    // loop() turns its own failures into fail(): it settles either way
    this.loopDone = new Promise<void>(resolve => { setImmediate(() => { this.loop().then(resolve, resolve) }) })
  }

  private async loop (): Promise<void> {
    try {
      do {
        this.again = false
        this.flushOutbox()
        this.flushReads()
        while (this.running && this.raft!.hasReady()) {
          await this.handleReady(this.raft!.ready())
        }
      } while (this.again && this.running)
    } catch (err) {
      this.fail(err)
    } finally {
      this.looping = false
    }
  }

  private fail (err: unknown): void {
    const e = new RaftStorageFailedError(this.group, err)
    this.init.logger.error({ group: this.group, err: (err as Error)?.message }, 'raft replica failed; stopping it')
    this.failed = e
    this.running = false
    this.stopTicking()
    this.init.transport.unregister(this.group)
    for (const w of this.proposals.values()) w.reject(e)
    this.rejectReads(e)
    this.proposals.clear()
    this.outbox = []
    this.waitingForLeader.length = 0
    this.reads.clear()
  }

  /** a WAL write handleReady does not wait for: a failure stops the replica; stop() waits for it */
  private track (write: Promise<void>): void {
    const w: Promise<void> = write.catch((err: unknown) => { if (this.running) this.fail(err) }).finally(() => { this.writes.delete(w) })
    this.writes.add(w)
  }

  private send (messages: Message[]): void {
    const raft = this.raft!
    for (const m of messages) {
      if (m.type === MessageType.MsgSnap) {
        const to = m.to
        this.init.transport.send(this.group, m, ok => { if (this.running) { raft.reportSnapshot(to, ok); this.schedule() } })
      } else {
        this.init.transport.send(this.group, m)
      }
    }
  }

  private async handleReady (rd: Ready): Promise<void> {
    const raft = this.raft!
    const storage = this.storage!
    if (rd.softState !== undefined) {
      const changed = rd.softState.lead !== this.lead
      this.lead = rd.softState.lead
      this.role = rd.softState.raftState
      if (changed) {
        this.init.logger.debug({ group: this.group, leader: this.lead }, 'raft leader changed')
        for (const w of this.leaderWaiters.splice(0)) w()
      }
    }
    // A leader's Ready that changes neither term nor vote sends first and
    // writes meanwhile (etcd's leader does the same); the leader counts
    // itself toward the commit quorum once the write is durable. Any other
    // Ready persists before sending.
    const early = raft.canSendBeforePersist(rd)
    // the term the Ready's entries were appended in (reported with their durability)
    const term = raft.raft.term
    if (early) this.send(rd.messages)
    // 1. persist
    if (rd.snapshot !== undefined) {
      await storage.applySnapshot(rd.snapshot, rd.hardState)
      this.init.stateMachine.restore(rd.snapshot.data)
      this.applied = rd.snapshot.metadata.index
      this.snapshotIndex = rd.snapshot.metadata.index
      this.confState = rd.snapshot.metadata.confState
    }
    // a Ready that only moves the commit index (no entries, term or vote) needs
    // no fsync and nothing below depends on it: write it while sending/applying
    let inFlight = false
    if (early && rd.entries.length > 0 && rd.snapshot === undefined) {
      // the leader's own write runs while this loop goes on: a commit by the
      // followers' acks (or this write landing) is the next Ready. The core
      // keeps the entries readable until entriesDurable; the WAL queue is
      // FIFO, so any later write (awaited) lands after this one.
      inFlight = true
      const last = rd.entries[rd.entries.length - 1]
      this.track(storage.append(rd.entries, rd.hardState, { sync: true }).then(() => {
        if (!this.running) return
        raft.entriesDurable(last.index, last.term)
        raft.leaderAppendDurable(last.index, term)
        this.schedule()
      }))
    } else if (rd.entries.length > 0 || rd.mustSync) {
      await storage.append(rd.entries, rd.hardState, { sync: true })
      // every durable write of a leader's entries counts it (also a Ready that
      // had to persist first: the one that made it leader, or a single voter's)
      if (rd.entries.length > 0) raft.leaderAppendDurable(rd.entries[rd.entries.length - 1].index, term)
    } else if (rd.hardState !== undefined) {
      // not awaited either: the WAL queue is FIFO, so a later write lands after it
      this.track(storage.append([], rd.hardState, { sync: false }))
    }
    // 2. send
    if (!early) this.send(rd.messages)
    // 3. apply
    let added = false
    for (const e of rd.committedEntries) {
      if (e.index <= this.applied) continue
      if (e.type === EntryType.ConfChange) {
        const before = new Set([...this.confState.voters, ...this.confState.learners, ...this.confState.votersOutgoing])
        this.confState = raft.applyConfChange(decodeAnyConfChange(e.data))
        if ([...this.confState.voters, ...this.confState.learners].some(p => !before.has(p))) added = true
      } else {
        const p = unframeProposal(e.data)
        if (p !== null) {
          let result: R | undefined
          let error: Error | undefined
          try {
            result = this.init.stateMachine.apply(p.command, e.index)
          } catch (err) {
            error = err as Error
          }
          const w = this.proposals.get(p.id)
          if (w !== undefined) {
            this.proposals.delete(p.id)
            if (error !== undefined) w.reject(error)
            else w.resolve(result as R)
          }
        }
      }
      this.applied = e.index
    }
    if (rd.committedEntries.length > 0 || rd.snapshot !== undefined) {
      for (const w of this.confWaiters.splice(0)) w()
    }
    // 4. reads
    for (const rs of rd.readStates) {
      const b = this.reads.get(new TextDecoder().decode(rs.requestCtx))
      if (b !== undefined) b.index = rs.index
    }
    if (this.reads.size > 0) {
      for (const [ctx, b] of this.reads) {
        if (b.index !== undefined && b.index <= this.applied) {
          this.reads.delete(ctx)
          for (const w of b.waiters) this.settleRead(w)
        }
      }
    }
    raft.advance({ entriesInFlight: inFlight })
    // 5. snapshot + compaction; also right after a member was added: the
    // core sends a newcomer only a snapshot whose configuration names it
    const every = this.init.snapshotEvery ?? 10_000
    if (this.applied - this.snapshotIndex >= every || (added && this.applied > this.snapshotIndex)) {
      const snap = await storage.createSnapshot(this.applied, this.confState, this.init.stateMachine.snapshot())
      this.snapshotIndex = snap.metadata.index
      const upTo = this.applied - (this.init.keepEntries ?? 1000)
      if (upTo >= storage.firstIndex()) await storage.compact(upTo)
      this.init.logger.debug({ group: this.group, index: this.snapshotIndex }, 'raft snapshot taken')
    }
  }
}
