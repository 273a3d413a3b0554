/**
 * The fault timeline: expands churn into kill/restart events with a seeded
 * PRNG, and keeps the current cut and delay state that the network (nft)
 * and the link emulator's rule file (--link-faults) are told about.
 */
import { renameSync, writeFileSync } from 'node:fs'
import { createPrng } from '../latency/prng.js'
import { expandTargets } from './scenario.js'
import type { Block } from './network.js'
import type { FaultSpec, PeerPlan, Scenario } from './scenario.js'

export interface TimedEvent {
  at: number
  action: 'kill' | 'stop' | 'restart' | 'join' | 'partition' | 'heal' | 'loss' | 'latency'
  peers?: PeerPlan[]
  groups?: PeerPlan[][]
  from?: PeerPlan[]
  to?: PeerPlan[]
  delayMs?: number
  /** the scenario entry it came from (index into faults), -1 for joins */
  source: number
}

/** Every timed event of the run, sorted by time (stable). */
export function timeline (scenario: Scenario): TimedEvent[] {
  const { peers } = scenario
  const out: TimedEvent[] = []
  const joins = new Map<number, PeerPlan[]>()
  for (const p of peers) if (p.joinAt > 0) joins.set(p.joinAt, [...(joins.get(p.joinAt) ?? []), p])
  for (const [at, ps] of joins) out.push({ at, action: 'join', peers: ps, source: -1 })
  scenario.spec.faults?.forEach((f: FaultSpec, i) => {
    const t = (names?: string[]): PeerPlan[] | undefined => names == null ? undefined : expandTargets(peers, names)
    if (f.action === 'churn') {
      const prng = createPrng((scenario.spec.seed * 31 + i) >>> 0)
      const pool = f.peers != null ? t(f.peers)! : peers.slice(1)
      const down = f.down ?? 10
      let at = f.at
      const end = f.at + f.for!
      const busyUntil = new Map<string, number>()
      while (true) {
        at += -Math.log(1 - prng.next()) / (f.ratePerMin! / 60)
        if (at >= end) break
        const free = pool.filter(p => (busyUntil.get(p.name) ?? -1) < at)
        if (free.length === 0) continue
        const p = free[prng.int(free.length)]
        busyUntil.set(p.name, at + down + 1)
        out.push({ at, action: 'kill', peers: [p], source: i })
        out.push({ at: at + down, action: 'restart', peers: [p], source: i })
      }
      return
    }
    out.push({ at: f.at, action: f.action, peers: t(f.peers), groups: f.groups?.map(g => t(g)!), from: t(f.from), to: t(f.to), delayMs: f.delayMs, source: i })
  })
  return out.sort((a, b) => a.at - b.at)
}

interface Rule { from: string[], to: string[], action: 'block' | 'delay', delayMs?: number }

/** Current cuts (partitions + one-way losses) and delays. */
export class LinkState {
  private partitions: PeerPlan[][][] = []
  private losses: Array<{ from: PeerPlan[], to: PeerPlan[] }> = []
  private delays: Array<{ from: PeerPlan[], to: PeerPlan[], delayMs: number }> = []

  partition (groups: PeerPlan[][]): void { this.partitions.push(groups) }
  loss (from: PeerPlan[], to: PeerPlan[]): void { this.losses.push({ from, to }) }
  /** a later rule for the same pair replaces the earlier one; 0 removes it */
  delay (from: PeerPlan[], to: PeerPlan[], delayMs: number): void {
    this.delays.push({ from, to, delayMs })
  }

  heal (): void { this.partitions = []; this.losses = [] }
  clear (): void { this.heal(); this.delays = [] }
  get cut (): boolean { return this.partitions.length > 0 || this.losses.length > 0 }

  blocks (): Block[] {
    const out: Block[] = []
    const seen = new Set<string>()
    const add = (from: PeerPlan, to: PeerPlan): void => {
      const k = `${from.name}>${to.name}`
      if (from === to || seen.has(k)) return
      seen.add(k)
      out.push({ from, to })
    }
    for (const groups of this.partitions) {
      for (const [i, a] of groups.entries()) for (const [j, b] of groups.entries()) if (i !== j) for (const x of a) for (const y of b) add(x, y)
    }
    for (const l of this.losses) for (const x of l.from) for (const y of l.to) add(x, y)
    return out
  }

  /** link-emulator rules (sites = peer names); blocks only when the network does not enforce them */
  rules (withBlocks: boolean): Rule[] {
    const rules: Rule[] = []
    if (withBlocks) {
      for (const groups of this.partitions) {
        for (const [i, a] of groups.entries()) for (const [j, b] of groups.entries()) if (i !== j) rules.push({ from: a.map(p => p.name), to: b.map(p => p.name), action: 'block' })
      }
      for (const l of this.losses) rules.push({ from: l.from.map(p => p.name), to: l.to.map(p => p.name), action: 'block' })
    }
    for (const d of this.delays) if (d.delayMs > 0) rules.push({ from: d.from.map(p => p.name), to: d.to.map(p => p.name), action: 'delay', delayMs: d.delayMs })
    return rules
  }
}

/** Writes the link-fault rule file atomically (temp file + rename), as the emulator expects. */
export function writeLinkFaults (file: string, rules: Rule[]): void {
  const tmp = `${file}.tmp`
  writeFileSync(tmp, JSON.stringify({ rules }, null, 1))
  renameSync(tmp, file)
}
