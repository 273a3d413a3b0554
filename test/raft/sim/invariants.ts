/**
 * Raft safety properties checked by the simulator after every step:
 * election safety, log matching, leader completeness, state-machine safety.
 */
import type { Entry, MemoryLogStorage } from '../../../src/raft/core/index.js'

export class SafetyViolation extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SafetyViolation'
  }
}

const fp = (e: Entry): string => `${e.type}:${Buffer.from(e.data).toString('base64')}`

export class SafetyChecker {
  /** term -> the leader of that term */
  private readonly leaders = new Map<number, string>()
  /** "index/term" -> entry fingerprint, over every entry ever persisted anywhere */
  private readonly persisted = new Map<string, string>()
  /** index -> "term/fingerprint" of the entry applied at that index */
  private readonly applied = new Map<number, string>()
  /** highest index known committed (applied somewhere) */
  maxApplied = 0

  /** Election safety: at most one leader per term. */
  leader (term: number, id: string): void {
    const l = this.leaders.get(term)
    if (l === undefined) this.leaders.set(term, id)
    else if (l !== id) throw new SafetyViolation(`election safety: ${l} and ${id} are both leaders of term ${term}`)
  }

  /** Log matching (first half): an (index, term) pair names one entry cluster-wide. */
  persist (node: string, ents: Entry[]): void {
    for (const e of ents) {
      const k = `${e.index}/${e.term}`
      const f = fp(e)
      const prev = this.persisted.get(k)
      if (prev === undefined) this.persisted.set(k, f)
      else if (prev !== f) throw new SafetyViolation(`log matching: ${node} persisted a different entry at ${k}`)
    }
  }

  /** State-machine safety: every node applies the same entry at an index. */
  apply (node: string, e: Entry): void {
    const v = `${e.term}/${fp(e)}`
    const prev = this.applied.get(e.index)
    if (prev === undefined) {
      this.applied.set(e.index, v)
      if (e.index > this.maxApplied) this.maxApplied = e.index
    } else if (prev !== v) {
      throw new SafetyViolation(`state machine safety: ${node} applied ${e.term}/${e.index} differing from another node`)
    }
  }

  /** Leader completeness: a new leader's log holds every entry committed so far. */
  newLeader (node: string, term: number, storage: { firstIndex: () => number, lastIndex: () => number, term: (i: number) => number }, unstable: Entry[]): void {
    const last = unstable.length > 0 ? unstable[unstable.length - 1].index : storage.lastIndex()
    for (const [index, v] of this.applied) {
      if (index > last) throw new SafetyViolation(`leader completeness: leader ${node} of term ${term} lacks committed index ${index} (last ${last})`)
      if (index < storage.firstIndex()) continue // covered by its snapshot
      const u = unstable.find(e => e.index === index)
      const t = u !== undefined ? u.term : storage.term(index)
      if (`${t}` !== v.split('/')[0]) throw new SafetyViolation(`leader completeness: leader ${node} of term ${term} has term ${t} at committed index ${index}, committed was ${v.split('/')[0]}`)
    }
  }

  /** Log matching (second half): logs agreeing on an (index, term) agree on everything before it. */
  static logsMatch (a: { id: string, s: MemoryLogStorage }, b: { id: string, s: MemoryLogStorage }): void {
    const lo = Math.max(a.s.firstIndex(), b.s.firstIndex())
    const hi = Math.min(a.s.lastIndex(), b.s.lastIndex())
    if (hi < lo) return
    const ea = a.s.entries(lo, hi + 1)
    const eb = b.s.entries(lo, hi + 1)
    let top = -1
    for (let i = ea.length - 1; i >= 0; i--) {
      if (ea[i].term === eb[i].term) { top = i; break }
    }
    for (let i = 0; i <= top; i++) {
      if (ea[i].term !== eb[i].term || fp(ea[i]) !== fp(eb[i])) {
        throw new SafetyViolation(`log matching: ${a.id} and ${b.id} agree at ${ea[top].index}/${ea[top].term} but differ at ${ea[i].index}`)
      }
    }
  }
}
