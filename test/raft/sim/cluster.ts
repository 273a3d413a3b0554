/**
 * Deterministic Raft cluster simulator: N RawNodes over MemoryLogStorage
 * driven like a real node (persist, then send, then apply), a simulated
 * network (delay, drop, duplicate, reorder, partition), crashes that lose
 * everything not yet persisted, restarts, membership changes and leadership
 * transfers under faults, and clients running put/get/cas against a
 * replicated KV store. Every random choice comes from one seed.
 */
import {
  ConfChangeTransition, ConfChangeType, createRaft, decodeAnyConfChange, emptyConfState, isConfChangeV2, EntryType, MemoryLogStorage, MessageType,
  ProposalDroppedError, StateType, compareIds
} from '../../../src/raft/core/index.js'
import type { ConfState, Message, RawNode, Ready } from '../../../src/raft/core/index.js'
import { decodeOp, encodeOp, KvStore } from './kv.js'
import type { KvOp } from './kv.js'
import { SafetyChecker, SafetyViolation } from './invariants.js'
import { checkHistory } from './linearizability.js'
import type { Operation } from './linearizability.js'
import { Rng } from './rng.js'

export interface SimOptions {
  seed: number
  /** simulated time units; faults stop during the last `quiet` units */
  steps?: number
  quiet?: number
  verbose?: boolean
  log?: (line: string) => void
  /**
   * A deliberately broken driver for testing the checks: sends messages
   * before persisting, and a crash loses the not-yet-persisted writes.
   */
  brokenDriver?: boolean
  /**
   * The production driver's leaderPersistsAsync mode: a leader's Ready sends
   * its messages at once, its write is queued behind the earlier ones and
   * lands 0-30 steps later, and the Ready is applied and advanced at once
   * (advance({ entriesInFlight: true })), so the leader goes on taking
   * Readies (commits by its followers' acks) meanwhile; a write that must be
   * durable before sending (a follower's, a vote) and a snapshot wait for the
   * in-flight ones (FIFO, as the WAL queue). Once a write lands the leader
   * reports it durable. A crash loses every write still in flight.
   */
  asyncLeader?: boolean
  /**
   * With asyncLeader: a deliberately broken leader that counts itself toward
   * the commit quorum as soon as its write is queued (testing the checks).
   */
  brokenLeaderCount?: boolean
}

export interface SimResult {
  seed: number
  ok: boolean
  error?: string
  ops: number
  completedOps: number
  unknownOps: number
  crashes: number
  partitions: number
  confChanges: number
  transfers: number
  snapshotsSent: number
  leaderTerms: number
  maxCommitted: number
  undecidedKeys: string[]
}

const TICK = 3
const ELECTION_TICK = 10
const HEARTBEAT_TICK = 2
const SNAP_EVERY = 20
const KEEP_AFTER_SNAP = 4
const CLIENT_TIMEOUT = 120
const KEYS = ['a', 'b', 'c']
const MAX_NODES = 7
const CONVERGE_WINDOW = 100

interface PendingOp {
  opId: string
  hist: Operation
  client: Client
  node: string
  deadline: number
}

interface Client {
  id: number
  busy?: PendingOp
  target?: string
  seq: number
}

interface SimNode {
  id: string
  storage: MemoryLogStorage
  raw?: RawNode
  kv?: KvStore
  applied: number
  confState: ConfState
  incarnation: number
  everMember: boolean
  removed: boolean
  pendingWrites: Map<string, PendingOp>
  pendingReads: Map<string, PendingOp>
  readsWaiting: Array<{ index: number, op: PendingOp }>
  /** broken-driver mode: ready output not yet persisted */
  unsynced: Ready[]
  /** asyncLeader mode: the leader's Ready whose write is in flight (messages already sent) */
  /** asyncLeader mode: the leader's writes in flight, landing in order (the WAL queue is FIFO) */
  inflight: Array<{ rd: Ready, term: number, due: number }>
}

interface InFlight {
  m: Message
  at: number
  seq: number
  fromIncarnation: number
}

const te = new TextEncoder()
const td = new TextDecoder()

export class Simulation {
  private readonly rng: Rng
  private readonly nodes = new Map<string, SimNode>()
  private readonly clients: Client[] = []
  private network: InFlight[] = []
  private netSeq = 0
  private partition: Set<string> | undefined
  private now = 0
  /** logical clock for history call/return events */
  private clock = 0
  private readonly history: Operation[] = []
  private readonly safety = new SafetyChecker()
  private readonly seenLeaders = new Set<string>()
  private readonly steps: number
  private readonly quiet: number
  private dropRate: number
  private dupRate: number
  private maxDelay: number
  private nextNodeId = 1
  private lastCompletedAt = -1
  private commitBeforeEnd = 0
  private readonly stats = { crashes: 0, partitions: 0, confChanges: 0, transfers: 0, snapshotsSent: 0 }

  constructor (private readonly opts: SimOptions) {
    this.rng = new Rng(opts.seed)
    this.steps = opts.steps ?? 1500
    this.quiet = opts.quiet ?? 400
    // every seed draws its own fault profile
    this.dropRate = this.rng.pick([0, 0.01, 0.05, 0.15])
    this.dupRate = this.rng.pick([0, 0.02, 0.1])
    // one-way delay stays well below the election timeout (10 ticks = 30 units),
    // as any deployment must: beyond that, split votes can go on for long
    this.maxDelay = this.rng.pick([2, 5, 8])
    this.crashRate = this.rng.pick([0.002, 0.004, 0.01])
    this.partitionRate = this.rng.pick([0.001, 0.003, 0.01])
    this.confChangeRate = this.rng.pick([0.001, 0.003, 0.01])
    this.maxSizePerMsg = this.rng.pick([1, 256, 4096])
    this.maxInflight = this.rng.pick([1, 4, 64])
  }

  private readonly maxSizePerMsg: number
  private readonly maxInflight: number

  private readonly crashRate: number
  private readonly partitionRate: number
  private readonly confChangeRate: number

  private log (s: string): void {
    if (this.opts.verbose === true) (this.opts.log ?? console.log)(`[${this.now}] ${s}`)
  }

  // ----------------------------------------------------------------- setup

  private newNode (voters: string[]): SimNode {
    const id = String(this.nextNodeId++)
    const storage = new MemoryLogStorage()
    let confState = emptyConfState()
    if (voters.length > 0) {
      confState = { ...emptyConfState(), voters }
      storage.applySnapshot({ metadata: { index: 1, term: 1, confState }, data: new KvStore().serialize() })
    }
    const n: SimNode = {
      id, storage, applied: 0, confState, incarnation: 0, everMember: voters.length > 0, removed: false,
      pendingWrites: new Map(), pendingReads: new Map(), readsWaiting: [], unsynced: [], inflight: []
    }
    this.nodes.set(id, n)
    this.start(n)
    return n
  }

  private start (n: SimNode): void {
    n.incarnation++
    const snap = n.storage.snapshot()
    n.kv = snap.metadata.index > 0 ? KvStore.deserialize(snap.data) : new KvStore()
    n.applied = snap.metadata.index
    n.confState = n.storage.initialState().confState
    n.raw = createRaft({
      id: n.id,
      storage: n.storage,
      electionTick: ELECTION_TICK,
      heartbeatTick: HEARTBEAT_TICK,
      preVote: true,
      checkQuorum: true,
      maxSizePerMsg: this.maxSizePerMsg,
      maxInflightMsgs: this.maxInflight,
      leaderPersistsAsync: this.opts.asyncLeader === true,
      randomSeed: (this.opts.seed * 7919 + n.incarnation) >>> 0
    })
  }

  private crash (n: SimNode): void {
    this.log(`crash ${n.id}`)
    this.stats.crashes++
    n.raw = undefined
    n.kv = undefined
    n.pendingWrites.clear()
    n.pendingReads.clear()
    n.readsWaiting = []
    n.unsynced = []
    n.inflight = []
  }

  // ---------------------------------------------------------------- driver

  private persist (n: SimNode, rd: Ready): void {
    if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot)
    n.storage.append(rd.entries)
    this.safety.persist(n.id, rd.entries)
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState)
  }

  private processReady (n: SimNode): boolean {
    const raw = n.raw
    if (raw === undefined || !raw.hasReady()) return false
    const rd = raw.ready()
    if (this.opts.asyncLeader === true && raw.canSendBeforePersist(rd)) {
      // the production driver: messages leave, the write is queued behind
      // the earlier ones, and the Ready is applied and advanced at once (its
      // entries stay in the core's unstable log until they land)
      for (const m of rd.messages) this.send(n, m)
      const prevDue = n.inflight.length > 0 ? n.inflight[n.inflight.length - 1].due : this.now
      n.inflight.push({ rd, term: raw.raft.term, due: Math.max(prevDue, this.now + this.rng.int(0, 30)) })
      // BUG on purpose (brokenLeaderCount): counted before durable
      if (this.opts.brokenLeaderCount === true && rd.entries.length > 0) raw.leaderAppendDurable(rd.entries[rd.entries.length - 1].index, raw.raft.term)

      return this.finishReady(n, rd, rd.entries.length > 0)
    }
    // any other write is queued behind the in-flight ones: they land first
    while (n.inflight.length > 0) this.landWrite(n, true)
    if (this.opts.brokenDriver === true) {
      // BUG on purpose: messages leave before the write is durable
      n.unsynced.push(rd)
    } else {
      this.persist(n, rd)
      // asyncLeader mode: a leader's entries written before sending count it too
      if (this.opts.asyncLeader === true && rd.entries.length > 0) raw.leaderAppendDurable(rd.entries[rd.entries.length - 1].index, raw.raft.term)
    }
    for (const m of rd.messages) this.send(n, m)
    return this.finishReady(n, rd)
  }

  /** asyncLeader mode: the oldest in-flight write of `n` lands (when due, or `force`d by a later write); report it durable */
  private landWrite (n: SimNode, force = false): boolean {
    const f = n.inflight[0]
    const raw = n.raw
    if (f === undefined || raw === undefined || (!force && f.due > this.now)) return false
    n.inflight.shift()
    this.persist(n, f.rd)
    if (f.rd.entries.length > 0) {
      const last = f.rd.entries[f.rd.entries.length - 1]
      raw.entriesDurable(last.index, last.term)
      raw.leaderAppendDurable(last.index, f.term)
    }
    return true
  }

  private finishReady (n: SimNode, rd: Ready, entriesInFlight = false): boolean {
    const raw = n.raw!
    if (rd.snapshot !== undefined) {
      n.kv = KvStore.deserialize(rd.snapshot.data)
      n.applied = rd.snapshot.metadata.index
      n.confState = rd.snapshot.metadata.confState
      this.log(`${n.id} installed snapshot at ${n.applied}`)
    }
    for (const e of rd.committedEntries) this.applyEntry(n, e)
    for (const rs of rd.readStates) {
      const key = td.decode(rs.requestCtx)
      const op = n.pendingReads.get(key)
      if (op === undefined) continue
      n.pendingReads.delete(key)
      n.readsWaiting.push({ index: rs.index, op })
    }
    raw.advance({ entriesInFlight })
    this.serveReads(n)
    if (n.removed) {
      this.log(`${n.id} applied its own removal: shutting down`)
      n.raw = undefined
      return true
    }
    if (rd.softState?.raftState === StateType.Leader) this.onNewLeader(n)
    // a snapshot right after a membership change lets a newcomer (which must
    // find itself in the snapshot's ConfState) be caught up by snapshot
    this.maybeSnapshot(n, rd.committedEntries.some(e => e.type === EntryType.ConfChange))
    return true
  }

  private applyEntry (n: SimNode, e: { index: number, term: number, type: EntryType, data: Uint8Array }): void {
    const raw = n.raw
    const kv = n.kv
    if (raw === undefined || kv === undefined) return
    this.safety.apply(n.id, e)
    n.applied = e.index
    if (e.type === EntryType.ConfChange) {
      const cc = decodeAnyConfChange(e.data)
      n.confState = raw.applyConfChange(cc)
      const cs = n.confState
      const members = [...cs.voters, ...cs.learners, ...cs.votersOutgoing, ...cs.learnersNext]
      if (!members.includes(n.id)) n.removed = true
      for (const id of members) {
        const m = this.nodes.get(id)
        if (m !== undefined) m.everMember = true
      }
      const what = isConfChangeV2(cc)
        ? (cc.changes.length === 0 ? 'leave-joint' : `${ConfChangeTransition[cc.transition]}[${cc.changes.map(c => `${ConfChangeType[c.type]} ${c.nodeId}`).join(', ')}]`)
        : `${ConfChangeType[cc.type]} ${cc.nodeId}`
      this.log(`${n.id} applied conf change ${what} at ${e.index}: voters=${cs.voters.join(',')}${cs.votersOutgoing.length > 0 ? `&&${cs.votersOutgoing.join(',')}` : ''} learners=${cs.learners.join(',')}`)
      return
    }
    const op = decodeOp(e.data)
    if (op === undefined) return
    const res = kv.apply(op)
    const p = n.pendingWrites.get(op.id)
    if (p !== undefined) {
      n.pendingWrites.delete(op.id)
      this.complete(p, res)
    }
  }

  private serveReads (n: SimNode): void {
    if (n.kv === undefined) return
    const still: Array<{ index: number, op: PendingOp }> = []
    for (const w of n.readsWaiting) {
      if (n.applied >= w.index) this.complete(w.op, n.kv.get(w.op.hist.key))
      else still.push(w)
    }
    n.readsWaiting = still
  }

  private complete (p: PendingOp, out: { ok: boolean, rev: number } | { value: string | null, rev: number }): void {
    if (p.client.busy !== p) return // timed out already
    // the reply to the client can be lost too: the client will time out
    if (this.rng.chance(this.dropRate)) return
    p.hist.out = out as never
    p.hist.ret = ++this.clock
    p.client.busy = undefined
    p.client.target = p.node
    this.lastCompletedAt = this.now
  }

  private maybeSnapshot (n: SimNode, force: boolean): void {
    if (n.kv === undefined) return
    const snapIndex = n.storage.snapshot().metadata.index
    if (n.applied <= snapIndex) return
    if (!force && n.applied - snapIndex < SNAP_EVERY) return
    // the snapshot is queued behind the leader's in-flight writes (FIFO, as the WAL does)
    if (n.applied > n.storage.lastIndex()) while (n.inflight.length > 0) this.landWrite(n, true)
    if (n.applied > n.storage.lastIndex()) return
    n.storage.createSnapshot(n.applied, n.confState, n.kv.serialize())
    const compactTo = n.applied - KEEP_AFTER_SNAP
    if (compactTo > n.storage.firstIndex() - 1) n.storage.compact(compactTo)
  }

  private onNewLeader (n: SimNode): void {
    const raw = n.raw
    if (raw === undefined) return
    const term = raw.status().hardState.term
    const key = `${term}/${n.id}`
    if (this.seenLeaders.has(key)) return
    this.seenLeaders.add(key)
    this.log(`${n.id} became leader of term ${term}`)
    this.safety.leader(term, n.id)
    this.safety.newLeader(n.id, term, n.storage, raw.raft.raftLog.unstable.entries)
  }

  // --------------------------------------------------------------- network

  private send (from: SimNode, m: Message): void {
    if (this.rng.chance(this.dropRate)) {
      this.afterSnapDelivery(m, false)
      return
    }
    const copies = this.rng.chance(this.dupRate) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      this.network.push({ m, at: this.now + this.rng.int(1, this.maxDelay), seq: this.netSeq++, fromIncarnation: from.incarnation })
    }
  }

  private afterSnapDelivery (m: Message, ok: boolean): void {
    if (m.type !== MessageType.MsgSnap) return
    this.stats.snapshotsSent++
    const sender = this.nodes.get(m.from)
    sender?.raw?.reportSnapshot(m.to, ok)
  }

  private deliver (): void {
    const due: InFlight[] = []
    const rest: InFlight[] = []
    for (const f of this.network) (f.at <= this.now ? due : rest).push(f)
    this.network = rest
    due.sort((a, b) => a.at - b.at || a.seq - b.seq)
    for (const f of due) {
      const m = f.m
      const to = this.nodes.get(m.to)
      const cut = this.partition !== undefined && this.partition.has(m.from) !== this.partition.has(m.to)
      if (to?.raw === undefined || cut) {
        this.afterSnapDelivery(m, false)
        continue
      }
      try {
        to.raw.step(m)
      } catch (err) {
        if (!(err instanceof ProposalDroppedError)) throw err
      }
      this.afterSnapDelivery(m, true)
    }
  }

  // ----------------------------------------------------------------- faults

  private live (): SimNode[] {
    return [...this.nodes.values()].filter(n => n.raw !== undefined)
  }

  private leaderNode (): SimNode | undefined {
    let best: SimNode | undefined
    for (const n of this.live()) {
      if (n.raw!.raft.state !== StateType.Leader) continue
      if (best === undefined || n.raw!.raft.term > best.raw!.raft.term) best = n
    }
    return best
  }

  private faults (): void {
    const r = this.rng
    const all = [...this.nodes.values()].filter(n => !n.removed)
    if (r.chance(this.crashRate)) {
      const up = this.live()
      if (up.length > 0) {
        const n = r.pick(up)
        if (this.opts.brokenDriver !== true || n.unsynced.length > 0 || r.chance(0.5)) this.crash(n)
      }
    }
    for (const n of all) {
      if (n.raw === undefined && r.chance(0.02)) {
        this.log(`restart ${n.id}`)
        this.start(n)
      }
    }
    if (this.partition === undefined && r.chance(this.partitionRate)) {
      const ids = [...this.nodes.keys()]
      const l = this.leaderNode()
      // random split, or cut the leader off (alone or with one follower)
      const side = l !== undefined && r.chance(0.5)
        ? new Set([l.id, ...(r.chance(0.5) ? [r.pick(ids)] : [])])
        : new Set(ids.filter(() => r.chance(0.5)))
      if (side.size > 0 && side.size < ids.length) {
        this.partition = side
        this.stats.partitions++
        this.log(`partition {${[...side].join(',')}} | rest`)
      }
    } else if (this.partition !== undefined && r.chance(0.01)) {
      this.partition = undefined
      this.log('heal')
    }
    if (r.chance(this.confChangeRate)) this.membershipChange()
    if (r.chance(0.002)) {
      const l = this.leaderNode()
      if (l !== undefined) {
        const others = l.confState.voters.filter(v => v !== l.id)
        if (others.length > 0) {
          const to = r.pick(others)
          this.stats.transfers++
          this.log(`transfer leadership ${l.id} -> ${to}`)
          l.raw!.transferLeadership(to)
        }
      }
    }
  }

  private membershipChange (): void {
    const l = this.leaderNode()
    if (l === undefined) return
    const cs = l.raw!.raft.trk.confState()
    const r = this.rng
    if (cs.votersOutgoing.length > 0) {
      // joint: the only possible change is leaving it (needed for explicit transitions)
      if (!cs.autoLeave) this.proposeV2(l, ConfChangeTransition.Auto, [])
      return
    }
    const choices: Array<() => void> = []
    const members = cs.voters.length + cs.learners.length
    const fresh = (): SimNode | undefined => {
      let n = [...this.nodes.values()].find(x => !x.everMember && !x.removed && !cs.voters.includes(x.id) && !cs.learners.includes(x.id))
      if (n === undefined && this.nodes.size < MAX_NODES) n = this.newNode([])
      return n
    }
    if (members < 5) {
      choices.push(() => {
        const n = fresh()
        if (n === undefined) return
        const type = r.chance(0.5) ? ConfChangeType.AddNode : ConfChangeType.AddLearnerNode
        this.propose(l, type, n.id)
      })
      // joint consensus: replace a voter in one step
      choices.push(() => {
        const n = fresh()
        if (n === undefined) return
        const out = r.pick(cs.voters)
        const tr = r.pick([ConfChangeTransition.Auto, ConfChangeTransition.Implicit, ConfChangeTransition.Explicit])
        this.proposeV2(l, tr, [{ type: ConfChangeType.RemoveNode, nodeId: out }, { type: ConfChangeType.AddNode, nodeId: n.id }])
      })
    }
    if (cs.voters.length > 3) {
      // joint: demote a voter to learner while promoting or keeping the rest
      choices.push(() => { this.proposeV2(l, ConfChangeTransition.Implicit, [{ type: ConfChangeType.AddLearnerNode, nodeId: r.pick(cs.voters) }]) })
    }
    if (cs.learners.length > 0) choices.push(() => { this.propose(l, ConfChangeType.AddNode, r.pick(cs.learners)) })
    if (cs.voters.length > 3) choices.push(() => { this.propose(l, ConfChangeType.RemoveNode, r.pick(cs.voters)) })
    if (cs.learners.length > 0) choices.push(() => { this.propose(l, ConfChangeType.RemoveNode, r.pick(cs.learners)) })
    if (choices.length > 0) r.pick(choices)()
  }

  private proposeV2 (l: SimNode, transition: ConfChangeTransition, changes: Array<{ type: ConfChangeType, nodeId: string }>): void {
    this.stats.confChanges++
    this.log(`propose joint conf change ${ConfChangeTransition[transition]}[${changes.map(c => `${ConfChangeType[c.type]} ${c.nodeId}`).join(', ')}] at leader ${l.id}`)
    try {
      l.raw!.proposeConfChange({ transition, changes })
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err
    }
  }

  private propose (l: SimNode, type: ConfChangeType, id: string): void {
    this.stats.confChanges++
    this.log(`propose conf change ${ConfChangeType[type]} ${id} at leader ${l.id}`)
    try {
      l.raw!.proposeConfChange({ type, nodeId: id })
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err
    }
  }

  // ---------------------------------------------------------------- clients

  private clientsStep (): void {
    for (const c of this.clients) {
      if (c.busy !== undefined) {
        if (this.now >= c.busy.deadline) this.timeout(c.busy)
        continue
      }
      if (!this.rng.chance(0.15)) continue
      const candidates = this.live().filter(n => !n.removed)
      if (candidates.length === 0) continue
      let node = c.target === undefined ? undefined : this.nodes.get(c.target)
      if (node?.raw === undefined || this.rng.chance(0.2)) node = this.rng.pick(candidates)
      this.issue(c, node)
    }
  }

  private issue (c: Client, n: SimNode): void {
    const r = this.rng
    const key = r.pick(KEYS)
    const opId = `c${c.id}-${c.seq++}`
    const kind = r.pick(['get', 'get', 'put', 'cas'] as const)
    const call = ++this.clock
    let hist: Operation
    let op: KvOp | undefined
    if (kind === 'get') {
      hist = { kind, key, call, ret: Infinity }
    } else {
      const value = `${opId}`
      if (kind === 'put') {
        hist = { kind, key, value, call, ret: Infinity }
        op = { kind, id: opId, key, value }
      } else {
        const expect = n.kv!.get(key).rev + r.int(-1, 0)
        hist = { kind, key, value, expect, call, ret: Infinity }
        op = { kind, id: opId, key, value, expect }
      }
    }
    const p: PendingOp = { opId, hist, client: c, node: n.id, deadline: this.now + CLIENT_TIMEOUT }
    try {
      if (op === undefined) {
        n.raw!.readIndex(te.encode(opId))
        n.pendingReads.set(opId, p)
      } else {
        n.raw!.propose(encodeOp(op))
        n.pendingWrites.set(opId, p)
      }
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err
      // refused synchronously: definitely not applied, not part of the history
      c.target = undefined
      return
    }
    this.history.push(hist)
    c.busy = p
  }

  private timeout (p: PendingOp): void {
    // outcome unknown: the write may or may not take effect (ret stays Infinity)
    p.client.busy = undefined
    p.client.target = undefined
    const n = this.nodes.get(p.node)
    n?.pendingWrites.delete(p.opId)
    n?.pendingReads.delete(p.opId)
  }

  // -------------------------------------------------------------------- run

  private checkLogs (): void {
    const ns = [...this.nodes.values()]
    for (let i = 0; i < ns.length; i++) {
      for (let j = i + 1; j < ns.length; j++) {
        SafetyChecker.logsMatch({ id: ns[i].id, s: ns[i].storage }, { id: ns[j].id, s: ns[j].storage })
      }
    }
  }

  private checkLeaders (): void {
    for (const n of this.live()) {
      if (n.raw!.raft.state === StateType.Leader) this.safety.leader(n.raw!.raft.term, n.id)
    }
  }

  /**
   * Liveness after the quiet period: there is a leader, and every live
   * member applied at least what the leader had committed CONVERGE_WINDOW
   * units before the end (restarted and new peers caught up, by log or snapshot).
   */
  private checkConvergence (): void {
    const l = this.leaderNode()
    if (l === undefined) throw new SafetyViolation('liveness: no leader at the end of the quiet period')
    const cs = l.raw!.raft.trk.confState()
    for (const id of [...cs.voters, ...cs.learners]) {
      const n = this.nodes.get(id)
      if (n === undefined || n.raw === undefined) continue
      if (n.applied < this.commitBeforeEnd) {
        throw new SafetyViolation(`liveness: member ${id} applied only ${n.applied}, leader ${l.id} had committed ${this.commitBeforeEnd} ${CONVERGE_WINDOW} units before the end`)
      }
    }
  }

  run (): SimResult {
    const voters = this.rng.chance(0.5) ? ['1', '2', '3', '4', '5'] : ['1', '2', '3']
    for (let i = 0; i < voters.length; i++) this.newNode(voters)
    for (let i = 0; i < 3; i++) this.clients.push({ id: i, seq: 0 })
    this.log(`profile: voters=${voters.length} drop=${this.dropRate} dup=${this.dupRate} maxDelay=${this.maxDelay} crash=${this.crashRate} partition=${this.partitionRate} conf=${this.confChangeRate} maxSize=${this.maxSizePerMsg} maxInflight=${this.maxInflight}`)
    let error: string | undefined
    try {
      for (this.now = 0; this.now < this.steps; this.now++) {
        if (this.now < this.steps - this.quiet) {
          this.faults()
        } else if (this.now === this.steps - this.quiet) {
          this.partition = undefined
          for (const n of this.nodes.values()) {
            if (n.raw === undefined && !n.removed) this.start(n)
          }
          this.dropRate = Math.min(this.dropRate, 0.05)
          this.log('quiet period: healed, everyone restarted')
        }
        if (this.opts.brokenDriver === true) {
          for (const n of this.live()) {
            // the delayed "fsync" of the broken driver lands one step late
            for (const rd of n.unsynced) this.persist(n, rd)
            n.unsynced = []
          }
        }
        this.clientsStep()
        if (this.now % TICK === 0) for (const n of this.live()) n.raw!.tick()
        this.deliver()
        for (let round = 0; round < 4; round++) {
          let any = false
          for (const n of this.live()) if (this.landWrite(n)) any = true
          for (const n of this.live()) if (this.processReady(n)) any = true
          if (!any) break
        }
        this.checkLeaders()
        if (this.now % 50 === 0) this.checkLogs()
        if (this.now === this.steps - CONVERGE_WINDOW) {
          const l = this.leaderNode()
          this.commitBeforeEnd = l === undefined ? 0 : l.raw!.raft.raftLog.committed
        }
      }
      this.checkLogs()
      this.checkConvergence()
      for (const c of this.clients) if (c.busy !== undefined) this.timeout(c.busy)
      if (this.lastCompletedAt < this.steps - this.quiet) {
        throw new SafetyViolation(`liveness: no client operation completed during the quiet period (last at ${this.lastCompletedAt})`)
      }
    } catch (err) {
      if (!(err instanceof SafetyViolation) && !(err instanceof Error)) throw err
      error = `${(err as Error).name}: ${(err as Error).message}`
      if (!(err instanceof SafetyViolation)) error += `\n${(err as Error).stack ?? ''}`
    }
    let undecidedKeys: string[] = []
    if (error === undefined) {
      const lin = checkHistory(this.history)
      undecidedKeys = lin.undecidedKeys
      if (!lin.ok) error = `linearizability: history of key(s) ${lin.badKeys.join(',')} is not linearizable`
    }
    const completed = this.history.filter(h => Number.isFinite(h.ret)).length
    return {
      seed: this.opts.seed,
      ok: error === undefined,
      error,
      ops: this.history.length,
      completedOps: completed,
      unknownOps: this.history.length - completed,
      ...this.stats,
      leaderTerms: this.seenLeaders.size,
      maxCommitted: this.safety.maxApplied,
      undecidedKeys
    }
  }

  /** the client history (for printing a failing seed) */
  historyOf (key: string): Operation[] {
    return this.history.filter(h => h.key === key)
  }
}

export function simulate (opts: SimOptions): SimResult {
  return new Simulation(opts).run()
}

export { compareIds }
