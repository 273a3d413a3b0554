/**
 * Interpreter for the script-driven Raft interaction tests
 * (test/raft/testdata/*.txt). Each block is a command, a `----` line, and the
 * expected output up to the next blank line. REWRITE=1 rewrites the
 * expectations from the actual output (review the diff by hand!).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import {
  ConfChangeTransition, ConfChangeType, createRaft, decodeAnyConfChange, encodeConfChange, EntryType, isConfChangeV2, MemoryLogStorage,
  MessageType, StateType, compareIds, emptyConfState
} from '../../src/raft/core/index.js'
import type { AnyConfChange, ConfChangeSingle, ConfState, Entry, Message, RawNode, Ready, Snapshot } from '../../src/raft/core/index.js'

const te = new TextEncoder()
const td = new TextDecoder()

export interface Block {
  line: number
  command: string
  expected: string
  actual?: string
}

export function parseScript (text: string): Block[] {
  const lines = text.split('\n')
  const blocks: Block[] = []
  let i = 0
  while (i < lines.length) {
    const l = lines[i]
    if (l.trim() === '' || l.startsWith('#')) { i++; continue }
    const command = l
    const line = i + 1
    i++
    if (lines[i] !== '----') throw new Error(`line ${i + 1}: expected ---- after command "${command}"`)
    i++
    const out: string[] = []
    while (i < lines.length && lines[i] !== '') { out.push(lines[i]); i++ }
    blocks.push({ line, command, expected: out.join('\n') })
  }
  return blocks
}

/** Rewrites a script with each block's actual output, keeping comments. */
export function rewriteScript (text: string, blocks: Block[]): string {
  const lines = text.split('\n')
  const out: string[] = []
  let i = 0
  let b = 0
  while (i < lines.length) {
    const l = lines[i]
    if (b < blocks.length && i + 1 === blocks[b].line) {
      out.push(l, '----', ...(blocks[b].actual ?? '').split('\n'))
      i += 2
      while (i < lines.length && lines[i] !== '') i++
      b++
      continue
    }
    out.push(l)
    i++
  }
  return out.join('\n')
}

export function fmtData (e: Entry): string {
  if (e.type === EntryType.ConfChange) {
    try {
      return fmtConfChange(decodeAnyConfChange(e.data))
    } catch {
      return '<bad conf change>'
    }
  }
  return JSON.stringify(td.decode(e.data))
}

function fmtSingle (cc: ConfChangeSingle): string {
  const p = cc.type === ConfChangeType.AddNode ? 'v' : cc.type === ConfChangeType.RemoveNode ? 'r' : 'l'
  return p + cc.nodeId
}

function fmtConfChange (cc: AnyConfChange): string {
  if (!isConfChangeV2(cc)) return fmtSingle(cc)
  if (cc.changes.length === 0) return 'leave-joint'
  return `${ConfChangeTransition[cc.transition]}(${cc.changes.map(fmtSingle).join(' ')})`
}

export function fmtEntry (e: Entry): string {
  return `${e.term}/${e.index} ${e.type === EntryType.ConfChange ? 'EntryConfChange' : 'EntryNormal'} ${fmtData(e)}`
}

export function fmtConfState (cs: ConfState): string {
  let s = `voters=(${cs.voters.join(' ')})`
  if (cs.learners.length > 0) s += ` learners=(${cs.learners.join(' ')})`
  if (cs.votersOutgoing.length > 0) s += `&&(${cs.votersOutgoing.join(' ')})`
  if (cs.learnersNext.length > 0) s += ` learners_next=(${cs.learnersNext.join(' ')})`
  if (cs.autoLeave) s += ' autoleave'
  return s
}

function fmtSnap (s: Snapshot): string {
  return `Index:${s.metadata.index} Term:${s.metadata.term} ConfState:${fmtConfState(s.metadata.confState)}`
}

export function fmtMessage (m: Message): string {
  let s = `${m.from}->${m.to} ${MessageType[m.type]} Term:${m.term} Log:${m.logTerm}/${m.index}`
  if (m.commit !== 0) s += ` Commit:${m.commit}`
  if (m.reject) s += ` Rejected (Hint: ${m.rejectHint})`
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map(fmtEntry).join(', ')}]`
  if (m.snapshot !== undefined) s += ` Snapshot:{${fmtSnap(m.snapshot)}}`
  if (m.context !== undefined && m.context.length > 0) s += ` Context:${JSON.stringify(td.decode(m.context))}`
  return s
}

const stateName = (s: StateType): string => 'State' + StateType[s]

interface EnvNode {
  id: string
  raw: RawNode | undefined
  storage: MemoryLogStorage
  /** applied normal entries' data */
  app: string[]
  confState: ConfState
  opts: NodeOpts
}

interface NodeOpts {
  preVote: boolean
  checkQuorum: boolean
  priority: number
  maxSizePerMsg: number
  maxInflightMsgs: number
  readOnly: 'safe' | 'lease'
}

function parseArgs (args: string[]): { pos: string[], kv: Map<string, string> } {
  const pos: string[] = []
  const kv = new Map<string, string>()
  for (const a of args) {
    const i = a.indexOf('=')
    if (i > 0) kv.set(a.slice(0, i), a.slice(i + 1))
    else pos.push(a)
  }
  return { pos, kv }
}

function parseList (v: string | undefined): string[] {
  if (v === undefined) return []
  return v.replace(/^\(/, '').replace(/\)$/, '').split(/[ ,]+/).filter(x => x.length > 0)
}

function bool (v: string | undefined, d: boolean): boolean {
  return v === undefined ? d : v === 'true'
}

export class InteractionEnv {
  readonly nodes = new Map<string, EnvNode>()
  /** in-flight messages by recipient, in send order */
  private readonly queues = new Map<string, Message[]>()
  /** nodes cut off from everyone outside their group */
  private partition: Set<string> | undefined
  private out: string[] = []

  run (command: string): string {
    this.out = []
    const [cmd, ...rest] = command.trim().split(/\s+/)
    const { pos, kv } = parseArgs(rest)
    try {
      this.exec(cmd, pos, kv)
    } catch (err) {
      this.out.push(`error: ${(err as Error).message}`)
    }
    return this.out.length === 0 ? 'ok' : this.out.join('\n')
  }

  private node (id: string | undefined): EnvNode {
    const n = id === undefined ? undefined : this.nodes.get(id)
    if (n === undefined) throw new Error(`unknown node ${String(id)}`)
    return n
  }

  private raw (id: string | undefined): RawNode {
    const n = this.node(id)
    if (n.raw === undefined) throw new Error(`node ${n.id} is down`)
    return n.raw
  }

  private ids (pos: string[]): string[] {
    return pos.length > 0 ? pos : [...this.nodes.keys()].sort(compareIds)
  }

  private exec (cmd: string, pos: string[], kv: Map<string, string>): void {
    switch (cmd) {
      case 'add-nodes': this.addNodes(Number(pos[0]), kv); return
      case 'campaign': this.raw(pos[0]).campaign(); return
      case 'propose': this.raw(pos[0]).propose(te.encode(pos[1] ?? '')); return
      case 'propose-conf-change': this.raw(pos[0]).proposeConfChange(parseConfChange(pos.slice(1), kv.get('transition'))); return
      case 'process-ready': for (const id of this.ids(pos)) this.processReady(id); return
      case 'deliver-msgs': for (const id of this.ids(pos)) this.deliver(id, bool(kv.get('drop'), false)); return
      case 'stabilize': this.stabilize(this.ids(pos)); return
      case 'tick-heartbeat': this.ticks(pos[0], this.raw(pos[0]).raft.heartbeatTimeout); return
      case 'tick-election': {
        const r = this.raw(pos[0]).raft
        this.ticks(pos[0], r.state === StateType.Leader ? r.electionTimeout : r.randomizedElectionTimeout)
        return
      }
      case 'partition': this.partition = new Set(pos); return
      case 'heal': this.partition = undefined; return
      case 'transfer-leadership': this.raw(kv.get('from')).transferLeadership(kv.get('to') ?? ''); return
      case 'read-index': this.raw(pos[0]).readIndex(te.encode(pos[1] ?? '')); return
      case 'status': this.status(pos[0]); return
      case 'raft-log': this.raftLog(pos[0]); return
      case 'raft-state': this.raftState(); return
      case 'app-state': this.out.push(`${pos[0]}: [${this.node(pos[0]).app.join(' ')}]`); return
      case 'compact': this.compact(pos[0]); return
      case 'crash': this.crash(pos[0]); return
      case 'restart': this.restart(pos[0]); return
      default: throw new Error(`unknown command ${cmd}`)
    }
  }

  private addNodes (n: number, kv: Map<string, string>): void {
    const voters = parseList(kv.get('voters'))
    const learners = parseList(kv.get('learners'))
    const index = Number(kv.get('index') ?? '1')
    const opts: NodeOpts = {
      preVote: bool(kv.get('prevote'), false),
      checkQuorum: bool(kv.get('checkquorum'), false),
      priority: Number(kv.get('priority') ?? '1'),
      maxSizePerMsg: Number(kv.get('max-size') ?? String(1 << 20)),
      maxInflightMsgs: Number(kv.get('max-inflight') ?? '256'),
      readOnly: kv.get('read-only') === 'lease' ? 'lease' : 'safe'
    }
    for (let k = 0; k < n; k++) {
      const id = String(this.nodes.size + 1)
      const storage = new MemoryLogStorage()
      let confState = emptyConfState()
      if (voters.length > 0) {
        confState = { ...emptyConfState(), voters, learners }
        storage.applySnapshot({ metadata: { index, term: 1, confState }, data: te.encode('[]') })
      }
      const node: EnvNode = { id, raw: undefined, storage, app: [], confState, opts }
      this.nodes.set(id, node)
      this.queues.set(id, [])
      this.restart(id)
      this.out.push(`${id}: ${fmtConfState(confState)} first=${storage.firstIndex()} last=${storage.lastIndex()}`)
    }
  }

  private restart (id: string | undefined): void {
    const n = this.node(id)
    if (n.raw !== undefined) throw new Error(`node ${n.id} is running`)
    // whatever was sent to it while it was down is lost
    this.queues.set(n.id, [])
    const snap = n.storage.snapshot()
    n.app = snap.metadata.index > 0 ? JSON.parse(td.decode(snap.data)) as string[] : []
    n.confState = n.storage.initialState().confState
    n.raw = createRaft({
      id: n.id,
      storage: n.storage,
      electionTick: 10,
      heartbeatTick: 1,
      preVote: n.opts.preVote,
      checkQuorum: n.opts.checkQuorum,
      priority: n.opts.priority,
      maxSizePerMsg: n.opts.maxSizePerMsg,
      maxInflightMsgs: n.opts.maxInflightMsgs,
      readOnlyOption: n.opts.readOnly,
      randomSeed: 1
    })
  }

  private crash (id: string | undefined): void {
    const n = this.node(id)
    n.raw = undefined
    this.queues.set(n.id, [])
  }

  private ticks (id: string | undefined, k: number): void {
    const r = this.raw(id)
    for (let i = 0; i < k; i++) r.tick()
  }

  private cut (a: string, b: string): boolean {
    if (this.partition === undefined) return false
    return this.partition.has(a) !== this.partition.has(b)
  }

  private processReady (id: string): boolean {
    const n = this.node(id)
    const raw = n.raw
    if (raw === undefined || !raw.hasReady()) return false
    const rd = raw.ready()
    this.out.push(`> ${id} handling Ready`)
    this.printReady(rd)
    // persist before sending
    if (rd.snapshot !== undefined) {
      n.storage.applySnapshot(rd.snapshot)
      n.app = JSON.parse(td.decode(rd.snapshot.data)) as string[]
      n.confState = rd.snapshot.metadata.confState
    }
    n.storage.append(rd.entries)
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState)
    for (const m of rd.messages) this.queues.get(m.to)?.push(m)
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.ConfChange) {
        n.confState = raw.applyConfChange(decodeAnyConfChange(e.data))
        this.out.push(`  INFO ${id} applied ${fmtData(e)}: ${fmtConfState(n.confState)}`)
      } else if (e.data.length > 0) {
        n.app.push(td.decode(e.data))
      }
    }
    raw.advance()
    return true
  }

  private printReady (rd: Ready): void {
    if (rd.softState !== undefined) this.out.push(`  State:${stateName(rd.softState.raftState)} Lead:${rd.softState.lead === '' ? 0 : rd.softState.lead}`)
    if (rd.hardState !== undefined) this.out.push(`  HardState Term:${rd.hardState.term} Vote:${rd.hardState.vote === '' ? 0 : rd.hardState.vote} Commit:${rd.hardState.commit}`)
    if (rd.entries.length > 0) {
      this.out.push('  Entries:')
      for (const e of rd.entries) this.out.push('    ' + fmtEntry(e))
    }
    if (rd.snapshot !== undefined) this.out.push(`  Snapshot ${fmtSnap(rd.snapshot)}`)
    if (rd.committedEntries.length > 0) {
      this.out.push('  CommittedEntries:')
      for (const e of rd.committedEntries) this.out.push('    ' + fmtEntry(e))
    }
    if (rd.messages.length > 0) {
      this.out.push('  Messages:')
      for (const m of rd.messages) this.out.push('    ' + fmtMessage(m))
    }
    for (const rs of rd.readStates) this.out.push(`  ReadState Index:${rs.index} Ctx:${JSON.stringify(td.decode(rs.requestCtx))}`)
  }

  private deliver (id: string, drop: boolean): boolean {
    const q = this.queues.get(id) ?? []
    if (q.length === 0) return false
    this.queues.set(id, [])
    const n = this.node(id)
    for (const m of q) {
      // like a transport, report the fate of a snapshot to its sender
      const reportSnap = (ok: boolean): void => {
        if (m.type === MessageType.MsgSnap) this.nodes.get(m.from)?.raw?.reportSnapshot(m.to, ok)
      }
      if (drop || n.raw === undefined || this.cut(m.from, m.to)) {
        this.out.push(`dropped: ${fmtMessage(m)}`)
        reportSnap(false)
        continue
      }
      reportSnap(true)
      this.out.push(`> ${id} receiving ${fmtMessage(m)}`)
      try {
        n.raw.step(m)
      } catch (err) {
        this.out.push(`  error: ${(err as Error).message}`)
      }
    }
    return true
  }

  private stabilize (ids: string[]): void {
    for (let round = 0; round < 1000; round++) {
      let any = false
      for (const id of ids) if (this.processReady(id)) any = true
      for (const id of ids) if (this.deliver(id, false)) any = true
      if (!any) return
    }
    throw new Error('stabilize did not converge in 1000 rounds')
  }

  private status (id: string | undefined): void {
    const st = this.raw(id).status()
    if (st.progress === undefined) {
      this.out.push(`${st.id} is ${stateName(st.softState.raftState)}, not leader`)
      return
    }
    for (const [pid, p] of Object.entries(st.progress).sort((a, b) => compareIds(a[0], b[0]))) {
      let s = `${pid}: ${p.state} match=${p.match} next=${p.next}`
      if (p.isLearner) s += ' learner'
      if (p.paused) s += ' paused'
      if (p.inflight > 0) s += ` inflight=${p.inflight}`
      this.out.push(s)
    }
  }

  private raftLog (id: string | undefined): void {
    const n = this.node(id)
    const st = n.storage
    if (st.lastIndex() < st.firstIndex()) {
      this.out.push(`log is empty: first index=${st.firstIndex()}, last index=${st.lastIndex()}`)
      return
    }
    for (const e of st.entries(st.firstIndex(), st.lastIndex() + 1)) this.out.push(fmtEntry(e))
  }

  private raftState (): void {
    for (const id of [...this.nodes.keys()].sort(compareIds)) {
      const n = this.node(id)
      if (n.raw === undefined) {
        this.out.push(`${id}: down`)
        continue
      }
      const r = n.raw.raft
      const role = r.trk.membership.voters.has(id) ? 'Voter' : r.trk.membership.learners.has(id) ? 'Learner' : 'NonVoter'
      this.out.push(`${id}: ${stateName(r.state)} (${role}) Term:${r.term} Lead:${r.lead === '' ? 0 : r.lead}`)
    }
  }

  private compact (id: string | undefined): void {
    const n = this.node(id)
    const raw = this.raw(id)
    const applied = raw.status().applied
    n.storage.createSnapshot(applied, n.confState, te.encode(JSON.stringify(n.app)))
    n.storage.compact(applied)
    this.out.push(`${n.id}: snapshot at ${applied}, first index now ${n.storage.firstIndex()}`)
  }
}

function parseSingle (s: string): ConfChangeSingle {
  const m = /^([vrl])(\S+)$/.exec(s)
  if (m === null) throw new Error(`bad conf change ${s} (want v<id>, r<id> or l<id>)`)
  const type = m[1] === 'v' ? ConfChangeType.AddNode : m[1] === 'r' ? ConfChangeType.RemoveNode : ConfChangeType.AddLearnerNode
  return { type, nodeId: m[2] }
}

/** one change -> ConfChange; several, none (leave joint) or a transition= -> ConfChangeV2 */
function parseConfChange (args: string[], transition: string | undefined): AnyConfChange {
  const changes = args.map(parseSingle)
  if (changes.length === 1 && transition === undefined) return changes[0]
  const tr = transition === 'explicit' ? ConfChangeTransition.Explicit : transition === 'implicit' ? ConfChangeTransition.Implicit : ConfChangeTransition.Auto
  return { transition: tr, changes }
}

/** Runs one script file; returns the blocks with their actual output. */
export function runScript (path: string, rewrite: boolean): Block[] {
  const text = readFileSync(path, 'utf8')
  const blocks = parseScript(text)
  const env = new InteractionEnv()
  for (const b of blocks) b.actual = env.run(b.command)
  if (rewrite) writeFileSync(path, rewriteScript(text, blocks))
  return blocks
}

export { encodeConfChange }
