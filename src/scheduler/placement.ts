/**
 * Placement: filter candidates by constraints, classify them against the
 * latency limit (a hard constraint), score the rest and pick replicas with
 * zone spread. Pure and deterministic given its inputs: no clock, no I/O,
 * ties broken by peer id.
 */
import { normaliseArch } from '../registry/descriptor.js'
import type { ParsedConstraints } from './constraints.js'
import type { RegistryEntry } from '../registry/index.js'

/** What placement needs to know about one peer (from its verified END). */
export interface Candidate {
  peerId: string
  region: string
  zone: string
  arch: string
  runtimes: readonly string[]
  tee: boolean
  trust: number
  /** free cores */
  freeCpu: number
  /** free MiB */
  freeMemoryMb: number
  /** 1-minute load average per core */
  load: number
  /** reachable only through a circuit relay (END reachability.status 'relayed') */
  relayed?: boolean
}

export interface LatencyView {
  ms: number
  errorMs: number
  source: 'measured' | 'estimated'
}

/** pass: ms + err <= limit; fail: ms - err > limit; borderline otherwise (or unknown, when a probe can decide). */
export type LatencyClass = 'pass' | 'borderline' | 'fail' | 'unknown'

export const FILTERS = ['runtime', 'cpu', 'memory', 'region', 'tee', 'trust', 'arch', 'latency'] as const
export type FilterName = typeof FILTERS[number]

export interface PlacementExplanation {
  /** candidates considered */
  total: number
  /** how many candidates each constraint removed, in the order they are applied */
  removed: Record<FilterName, number>
  /** of removed.latency: candidates with no estimate that no probe could decide */
  latencyUnknown: number
  /** candidates whose latency was borderline (or unknown) and needed a probe */
  borderline: number
  /** borderline candidates a direct probe showed over the limit */
  borderlineRejectedByProbe: number
  /** chosen candidates whose ledger refused the reservation */
  refused: number
  /** chosen candidates that could not be reached */
  unreachable: number
  /** candidates left after all filters (before probes and reservations) */
  eligible: number
  replicas: number
  /** where latency was measured from */
  from: string
}

export interface ScoredCandidate {
  candidate: Candidate
  latency: LatencyView | null
  latencyClass: LatencyClass | 'unconstrained'
  /** lower is better */
  score: number
}

export interface PlacementInput {
  candidates: readonly Candidate[]
  constraints: ParsedConstraints
  replicas: number
  /** RTT from the measuring point to a candidate, or null if unknown */
  latency: (peerId: string) => LatencyView | null
  /** true when unknown/borderline latencies can be settled by a direct probe (measuring from this peer) */
  canProbe: boolean
  /** label for the explanation */
  from: string
}

export interface PlacementPlan {
  /** candidates passing every filter, best first; borderline ones included (latencyClass 'borderline'|'unknown') */
  ranked: ScoredCandidate[]
  explanation: PlacementExplanation
}

export function candidateFromEntry (entry: RegistryEntry): Candidate {
  const end = entry.end
  return {
    peerId: end.peerId,
    region: end.region,
    zone: end.zone,
    arch: end.arch,
    runtimes: end.runtimes,
    tee: end.tee.available,
    trust: entry.trustLevel,
    freeCpu: end.capacity.cpu,
    freeMemoryMb: end.capacity.memoryMb,
    load: end.load.cpu,
    relayed: end.reachability?.status === 'relayed'
  }
}

export function classifyLatency (est: LatencyView | null, limitMs: number): LatencyClass {
  if (est == null || !Number.isFinite(est.ms) || !Number.isFinite(est.errorMs)) return 'unknown'
  const err = Math.max(0, est.errorMs)
  if (est.ms + err <= limitMs) return 'pass'
  if (est.ms - err > limitMs) return 'fail'
  return 'borderline'
}

export function emptyExplanation (total: number, replicas: number, from: string): PlacementExplanation {
  return {
    total,
    removed: { runtime: 0, cpu: 0, memory: 0, region: 0, tee: 0, trust: 0, arch: 0, latency: 0 },
    latencyUnknown: 0,
    borderline: 0,
    borderlineRejectedByProbe: 0,
    refused: 0,
    unreachable: 0,
    eligible: 0,
    replicas,
    from
  }
}

/** The first filter (in FILTERS order) a candidate fails, ignoring latency; null if none. */
export function failedFilter (c: Candidate, k: ParsedConstraints): Exclude<FilterName, 'latency'> | null {
  if (k.runtime != null && !c.runtimes.includes(k.runtime)) return 'runtime'
  if (k.cpu != null && !(c.freeCpu >= k.cpu)) return 'cpu'
  if (k.memoryMb != null && !(c.freeMemoryMb >= k.memoryMb)) return 'memory'
  if (k.region != null && c.region !== k.region) return 'region'
  if (k.tee != null && c.tee !== k.tee) return 'tee'
  if (k.trust != null && !(c.trust >= k.trust)) return 'trust'
  if (k.arch != null && normaliseArch(c.arch) !== k.arch) return 'arch'
  return null
}

/** Reference RTT for scoring when no latency limit was asked (ms). */
const REFERENCE_RTT_MS = 100
const W_LATENCY = 1
const W_LOAD = 0.5
const W_PRESSURE = 0.25
/** latency term of a candidate with no estimate: as if at the reference RTT, or past the limit when one was asked (it must be probed) */
const UNKNOWN_LATENCY_TERM = 1
const UNKNOWN_UNDER_LIMIT_TERM = 2
/**
 * latency-critical work (a latency limit was asked) prefers directly
 * reachable peers: a relayed one pays a reference RTT more (its traffic
 * takes two hops and the relay's caps); it still counts for capacity
 */
const W_RELAYED = 1

export function scoreCandidate (c: Candidate, latency: LatencyView | null, k: ParsedConstraints): number {
  const ref = k.latencyMs ?? REFERENCE_RTT_MS
  const lat = latency == null ? (k.latencyMs != null ? UNKNOWN_UNDER_LIMIT_TERM : UNKNOWN_LATENCY_TERM) : Math.max(0, latency.ms + Math.max(0, latency.errorMs)) / ref
  const load = Math.min(2, Math.max(0, c.load))
  // how much of the peer's free capacity this request would take
  const cpuShare = k.cpu != null && c.freeCpu > 0 ? k.cpu / c.freeCpu : 0
  const memShare = k.memoryMb != null && c.freeMemoryMb > 0 ? k.memoryMb / c.freeMemoryMb : 0
  const relayed = c.relayed === true && k.latencyMs != null ? W_RELAYED : 0
  return W_LATENCY * lat + W_LOAD * load + W_PRESSURE * Math.max(cpuShare, memShare) + relayed
}

function byScore (a: ScoredCandidate, b: ScoredCandidate): number {
  return a.score - b.score || (a.candidate.peerId < b.candidate.peerId ? -1 : a.candidate.peerId > b.candidate.peerId ? 1 : 0)
}

/** Filters, classifies and ranks. Never throws; an empty `ranked` means nothing fits. */
export function planPlacement (input: PlacementInput): PlacementPlan {
  const k = input.constraints
  const explanation = emptyExplanation(input.candidates.length, input.replicas, input.from)
  const ranked: ScoredCandidate[] = []
  const seen = new Set<string>()
  for (const c of input.candidates) {
    if (seen.has(c.peerId)) { explanation.total--; continue }
    seen.add(c.peerId)
    const failed = failedFilter(c, k)
    if (failed != null) {
      explanation.removed[failed]++
      continue
    }
    const latency = input.latency(c.peerId)
    let latencyClass: ScoredCandidate['latencyClass'] = 'unconstrained'
    if (k.latencyMs != null) {
      latencyClass = classifyLatency(latency, k.latencyMs)
      if (latencyClass === 'fail') { explanation.removed.latency++; continue }
      if (latencyClass === 'unknown' && !input.canProbe) {
        explanation.removed.latency++
        explanation.latencyUnknown++
        continue
      }
      if (latencyClass === 'borderline' && !input.canProbe) {
        // nobody can confirm it: a hard constraint is not met on a guess
        explanation.removed.latency++
        continue
      }
      if (latencyClass !== 'pass') explanation.borderline++
    }
    ranked.push({ candidate: c, latency, latencyClass, score: scoreCandidate(c, latency, k) })
  }
  ranked.sort(byScore)
  explanation.eligible = ranked.length
  return { ranked, explanation }
}

/**
 * Picks replicas with zone spread: the next pick is the best remaining
 * candidate in the zone (region/zone) with the fewest picks so far; ties go
 * to the better score. `refuse()` drops a candidate (its ledger said no, or
 * it was unreachable), and the next call offers the next one.
 */
export class SpreadSelector {
  private readonly zones = new Map<string, ScoredCandidate[]>()
  private readonly picked = new Map<string, number>()

  constructor (ranked: readonly ScoredCandidate[]) {
    for (const s of ranked) {
      const key = zoneKey(s.candidate)
      const list = this.zones.get(key)
      if (list == null) this.zones.set(key, [s])
      else list.push(s)
    }
  }

  /** The next candidate to try, or undefined when none is left. */
  next (): ScoredCandidate | undefined {
    let best: { key: string, s: ScoredCandidate, n: number } | undefined
    for (const [key, list] of this.zones) {
      const s = list[0]
      if (s == null) continue
      const n = this.picked.get(key) ?? 0
      if (best == null || n < best.n || (n === best.n && byScore(s, best.s) < 0)) best = { key, s, n }
    }
    return best?.s
  }

  /** The candidate returned by next() was reserved. */
  accept (s: ScoredCandidate): void {
    const key = zoneKey(s.candidate)
    this.remove(key, s)
    this.picked.set(key, (this.picked.get(key) ?? 0) + 1)
  }

  /** The candidate returned by next() cannot be used. */
  refuse (s: ScoredCandidate): void {
    this.remove(zoneKey(s.candidate), s)
  }

  private remove (key: string, s: ScoredCandidate): void {
    const list = this.zones.get(key)
    if (list == null) return
    const i = list.indexOf(s)
    if (i >= 0) list.splice(i, 1)
  }
}

function zoneKey (c: Candidate): string {
  return `${c.region}/${c.zone}`
}

/**
 * The pure choice when every candidate accepts (no probes, no refusals):
 * `replicas` picks with zone spread, or fewer when not enough are eligible.
 */
export function chooseReplicas (ranked: readonly ScoredCandidate[], replicas: number): ScoredCandidate[] {
  const sel = new SpreadSelector(ranked)
  const out: ScoredCandidate[] = []
  while (out.length < replicas) {
    const s = sel.next()
    if (s == null) break
    sel.accept(s)
    out.push(s)
  }
  return out
}

/** One line saying what removed the candidates, for error messages and the CLI. */
export function summarizeExplanation (e: PlacementExplanation): string {
  const parts = FILTERS.filter(f => e.removed[f] > 0).map(f => `${f} removed ${e.removed[f]}`)
  if (e.latencyUnknown > 0) parts.push(`${e.latencyUnknown} with unknown latency`)
  if (e.borderlineRejectedByProbe > 0) parts.push(`${e.borderlineRejectedByProbe} borderline rejected by probe`)
  if (e.refused > 0) parts.push(`${e.refused} refused (no free capacity)`)
  if (e.unreachable > 0) parts.push(`${e.unreachable} unreachable`)
  return `${e.total} candidates, ${e.eligible} eligible, ${e.replicas} needed` + (parts.length > 0 ? `: ${parts.join(', ')}` : '')
}
