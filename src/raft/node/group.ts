/**
 * One Raft replica of one group: owns the clock (tick timer), the WAL
 * (<dataDir>/raft/<group>) and its slot on the shared transport. The Ready
 * loop persists (fsync) before sending, then applies committed entries to the
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

function same (a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

export class RaftGroup<R = unknown> {
  readonly group: string
  readonly self: string
  private raft?: RawNode
  private storage?: FileLogStorageApi
  private timer?: ReturnType<typeof setInterval>
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
  private readonly proposals = new Map<string, Waiter<R>>()
  /** ctx -> waiter; index once the ReadState arrived */
  private readonly reads = new Map<string, Waiter<void> & { index?: number }>()
  private readonly appliedWaiters: Array<() => void> = []
  /** woken after every Ready that applied entries (membership changes wait on it) */
  private readonly confWaiters: Array<() => void> = []
  private readonly leaderWaiters: Array<() => void> = []
  private stopping?: Promise<void>

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
      unreachable: (peer) => { this.raft?.reportUnreachable(peer); this.schedule() }
    })
    this.timer = setInterval(() => {
      if (!this.running) return
      this.raft!.tick()
      this.schedule()
    }, init.tickMs ?? 50)
    this.schedule()
  }

  async stop (): Promise<void> {
    if (this.stopping !== undefined) { await this.stopping; return }
    if (!this.running && this.storage === undefined) return
    this.stopping = (async () => {
      this.running = false
      clearInterval(this.timer)
      this.init.transport.unregister(this.group)
      const err = new RaftGroupStoppedError(this.group)
      for (const w of this.proposals.values()) w.reject(err)
      for (const w of this.reads.values()) w.reject(err)
      this.proposals.clear()
      this.reads.clear()
      // let an in-flight Ready finish its write before closing the WAL
      await this.loopDone
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
    this.raft!.step(m)
    this.schedule()
  }

  transferLeadership (to: string): void {
    if (!this.running) return
    this.raft!.transferLeadership(to)
    this.schedule()
  }

  campaign (): void {
    if (!this.running) return
    this.raft!.campaign()
    this.schedule()
  }

  /**
   * Replicates `command` and resolves with the state machine's result once it
   * is applied here. Rejects with RaftTimeoutError when not committed in time
   * (the outcome is then unknown: it may still be applied).
   */
  async propose (command: Uint8Array, options: AbortOptions & { timeoutMs?: number } = {}): Promise<R> {
    const signal = this.deadline(options)
    const id = `${this.nonce}.${(this.seq++).toString(36)}`
    const data = frameProposal(id, command)
    const result = new Promise<R>((resolve, reject) => { this.proposals.set(id, { resolve, reject }) })
    // the waiter can be settled (abort, stop, replica failure) while this call
    // still waits for a leader and nobody awaits `result` yet: an unobserved
    // rejection would end the process (issue 10). The error still reaches the
    // caller through `await result` or through the leader wait below.
    result.catch(() => {})
    const onAbort = (): void => {
      const w = this.proposals.get(id)
      this.proposals.delete(id)
      w?.reject(new RaftTimeoutError('proposal'))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      // a proposal is dropped while no leader is known: wait for one, then retry
      for (;;) {
        this.checkRunning()
        try {
          this.raft!.propose(data)
          this.schedule()
          break
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err
          await this.waitLeaderChange(signal)
        }
      }
      return await result
    } catch (err) {
      this.proposals.delete(id)
      throw err
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Linearizable read barrier (ReadIndex): resolves once this replica has
   * applied everything committed when the read was confirmed by a quorum.
   */
  async readBarrier (options: AbortOptions & { timeoutMs?: number } = {}): Promise<void> {
    const signal = this.deadline(options)
    // the core drops a ReadIndex while there is no leader: re-issue after a while
    const retryMs = (this.init.tickMs ?? 50) * (this.init.electionTick ?? 10)
    for (;;) {
      this.checkRunning()
      if (signal.aborted) throw new RaftTimeoutError('read')
      const ctx = `${this.nonce}.r${(this.seq++).toString(36)}`
      const outcome = await new Promise<'done' | 'retry' | 'timeout'>((resolve, reject) => {
        const finish = (r: 'done' | 'retry' | 'timeout'): void => {
          clearTimeout(timer)
          signal.removeEventListener('abort', onAbort)
          resolve(r)
        }
        const onAbort = (): void => { this.reads.delete(ctx); finish('timeout') }
        const timer = setTimeout(() => {
          const w = this.reads.get(ctx)
          if (w?.index !== undefined) return // confirmed by the leader: only waiting for apply
          this.reads.delete(ctx)
          finish('retry')
        }, retryMs)
        signal.addEventListener('abort', onAbort, { once: true })
        this.reads.set(ctx, { resolve: () => { finish('done') }, reject: (e) => { clearTimeout(timer); signal.removeEventListener('abort', onAbort); reject(e) } })
        this.raft!.readIndex(new TextEncoder().encode(ctx))
        this.schedule()
      })
      if (outcome === 'done') return
      if (outcome === 'timeout') throw new RaftTimeoutError('read')
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
    clearInterval(this.timer)
    this.init.transport.unregister(this.group)
    for (const w of this.proposals.values()) w.reject(e)
    for (const w of this.reads.values()) w.reject(e)
    this.proposals.clear()
    this.reads.clear()
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
    // 1. persist before sending
    if (rd.snapshot !== undefined) {
      await storage.applySnapshot(rd.snapshot, rd.hardState)
      this.init.stateMachine.restore(rd.snapshot.data)
      this.applied = rd.snapshot.metadata.index
      this.snapshotIndex = rd.snapshot.metadata.index
      this.confState = rd.snapshot.metadata.confState
    }
    // a Ready that only moves the commit index (no entries, term or vote) needs
    // no fsync and nothing below depends on it: write it while sending/applying
    let pendingWrite: Promise<void> | undefined
    if (rd.entries.length > 0 || rd.mustSync) {
      await storage.append(rd.entries, rd.hardState, { sync: true })
    } else if (rd.hardState !== undefined) {
      pendingWrite = storage.append([], rd.hardState, { sync: false })
      pendingWrite.catch(() => {}) // awaited below; avoid an unhandled rejection meanwhile
    }
    // 2. send
    for (const m of rd.messages) {
      if (m.type === MessageType.MsgSnap) {
        const to = m.to
        this.init.transport.send(this.group, m, ok => { if (this.running) { raft.reportSnapshot(to, ok); this.schedule() } })
      } else {
        this.init.transport.send(this.group, m)
      }
    }
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
      const ctx = new TextDecoder().decode(rs.requestCtx)
      const w = this.reads.get(ctx)
      if (w !== undefined) w.index = rs.index
    }
    for (const [ctx, w] of this.reads) {
      if (w.index !== undefined && w.index <= this.applied) {
        this.reads.delete(ctx)
        w.resolve()
      }
    }
    if (pendingWrite !== undefined) await pendingWrite
    raft.advance()
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
