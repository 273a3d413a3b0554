/**
 * Latency-aware placement of a strong service's Raft group (pure, deterministic).
 *
 * Voters: the largest set of candidates within `latencyRadiusMs` of each
 * other (RTT from the seed of the set, via the oracle), preferring the
 * service's zones (or the creating peer's region/zone without zones); without
 * an oracle, peers of the anchor's region (then zone) are taken as "near".
 * The number of voters is odd (at most `maxVoters`); further replicas are learners.
 * Leader siting: each voter's predicted commit latency is the RTT to the
 * slowest member of the fastest quorum it needs (the (q-1)-th smallest RTT to
 * the other voters); the best gets the highest election priority.
 */
export interface LatencyEstimate { ms: number, errorMs?: number }

/** Same shape as src/scheduler's LatencyOracle (only `estimate` is used). */
export interface LatencyOracle {
  estimate: (from: string, to: string) => LatencyEstimate | null
}

export interface PlacementCandidate {
  peerId: string
  region: string | null
  zone: string | null
}

export interface PlacementInput {
  replicas: number
  zones: string[]
  latencyRadiusMs: number
  /** the creating peer (anchor when no zones are given) */
  self: PlacementCandidate
  candidates: PlacementCandidate[]
  oracle?: LatencyOracle
  maxVoters?: number
}

export interface Placement {
  voters: string[]
  learners: string[]
  /** election priority per voter (higher campaigns first) */
  priorities: Record<string, number>
  /** voters sorted by predicted commit latency, best first */
  leaderPreference: string[]
  /** predicted commit latency per voter (ms), when the oracle knows */
  predictedCommitMs: Record<string, number | null>
  /** whether every voter is within the radius of the seed */
  withinRadius: boolean
}

export class PlacementError extends Error {
  static readonly code = 'RAFT_PLACEMENT'
  readonly code = PlacementError.code
  constructor (message: string) {
    super(message)
    this.name = 'PlacementError'
  }
}

export function voterCount (replicas: number, maxVoters = 5): number {
  const n = Math.min(replicas, maxVoters)
  return n % 2 === 1 ? n : n - 1
}

function byId (a: PlacementCandidate, b: PlacementCandidate): number {
  return a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0
}

/** RTT between two peers: the oracle's estimate (either direction), else a region/zone proxy. */
export function distance (a: PlacementCandidate, b: PlacementCandidate, oracle?: LatencyOracle): number | null {
  if (a.peerId === b.peerId) return 0
  const e = oracle?.estimate(a.peerId, b.peerId) ?? oracle?.estimate(b.peerId, a.peerId) ?? null
  if (e !== null) return e.ms
  if (oracle !== undefined) return null
  // no latency map: same zone ~1 ms, same region ~5 ms, else far
  if (a.zone !== null && a.zone === b.zone) return 1
  if (a.region !== null && a.region === b.region) return 5
  return 100
}

function zonePreferred (c: PlacementCandidate, input: PlacementInput): number {
  if (input.zones.length > 0) return c.zone !== null && input.zones.includes(c.zone) ? 0 : 1
  if (c.zone !== null && c.zone === input.self.zone) return 0
  if (c.region !== null && c.region === input.self.region) return 1
  return 2
}

/** Predicted commit latency of `leader` with `voters`: RTT to the slowest member of its fastest quorum. */
export function predictedCommitMs (leader: PlacementCandidate, voters: PlacementCandidate[], oracle?: LatencyOracle): number | null {
  const q = Math.floor(voters.length / 2) + 1
  if (q <= 1) return 0
  const rtts: number[] = []
  for (const v of voters) {
    if (v.peerId === leader.peerId) continue
    const d = distance(leader, v, oracle)
    if (d !== null) rtts.push(d)
  }
  rtts.sort((a, b) => a - b)
  return rtts.length >= q - 1 ? rtts[q - 2] : null
}

export function place (input: PlacementInput): Placement {
  if (!Number.isSafeInteger(input.replicas) || input.replicas < 1) throw new PlacementError('replicas must be a positive integer')
  const pool = [...new Map([input.self, ...input.candidates].map(c => [c.peerId, c])).values()].sort(byId)
  if (pool.length < input.replicas) throw new PlacementError(`${input.replicas} replicas requested but only ${pool.length} verified peers are known`)
  const nv = voterCount(input.replicas, input.maxVoters)
  const radius = input.latencyRadiusMs
  let best: { voters: PlacementCandidate[], score: number[] } | undefined
  for (const seed of pool) {
    const near = pool
      .map(c => ({ c, d: distance(seed, c, input.oracle) }))
      .sort((x, y) => zonePreferred(x.c, input) - zonePreferred(y.c, input) || (x.d ?? Infinity) - (y.d ?? Infinity) || byId(x.c, y.c))
    const inRadius = near.filter(x => x.d !== null && x.d <= radius)
    const chosen = (inRadius.length >= nv ? inRadius : [...inRadius, ...near.filter(x => !inRadius.includes(x))]).slice(0, nv)
    const voters = chosen.map(x => x.c)
    const zonePenalty = voters.reduce((s, v) => s + zonePreferred(v, input), 0)
    const commits = voters.map(v => predictedCommitMs(v, voters, input.oracle) ?? 1e6)
    // more peers within the radius, then zone preference, then the best commit latency, then the seed id
    const score = [-Math.min(inRadius.length, nv), zonePenalty, Math.min(...commits)]
    if (best === undefined || lexLess(score, best.score)) best = { voters, score }
  }
  const voters = best!.voters
  const voterIds = new Set(voters.map(v => v.peerId))
  const seed = voters[0]
  const learners = pool
    .filter(c => !voterIds.has(c.peerId))
    .sort((a, b) => zonePreferred(a, input) - zonePreferred(b, input) || (distance(seed, a, input.oracle) ?? Infinity) - (distance(seed, b, input.oracle) ?? Infinity) || byId(a, b))
    .slice(0, input.replicas - nv)
    .map(c => c.peerId)
  const predicted: Record<string, number | null> = {}
  for (const v of voters) predicted[v.peerId] = predictedCommitMs(v, voters, input.oracle)
  const leaderPreference = voters
    .map(v => v.peerId)
    .sort((a, b) => (predicted[a] ?? Infinity) - (predicted[b] ?? Infinity) || (a < b ? -1 : a > b ? 1 : 0))
  const priorities: Record<string, number> = {}
  leaderPreference.forEach((id, i) => { priorities[id] = i === 0 ? 4 : 1 })
  const withinRadius = voters.every(v => { const d = distance(seed, v, input.oracle); return d !== null && d <= radius })
  return { voters: voters.map(v => v.peerId).sort(), learners: learners.sort(), priorities, leaderPreference, predictedCommitMs: predicted, withinRadius }
}

function lexLess (a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i] < b[i]) return true
    if (a[i] > b[i]) return false
  }
  return false
}

/**
 * Leadership transfer with hysteresis: the voter to hand leadership to, or
 * null to stay. Moves only when the best voter's predicted commit latency is
 * better by at least `minGainMs` and by the fraction `minGainRatio`.
 */
export function betterLeader (current: string, voters: PlacementCandidate[], oracle: LatencyOracle | undefined, opts: { minGainMs?: number, minGainRatio?: number } = {}): string | null {
  if (oracle === undefined) return null
  const cur = voters.find(v => v.peerId === current)
  if (cur === undefined) return null
  const mine = predictedCommitMs(cur, voters, oracle)
  if (mine === null) return null
  let best: { id: string, ms: number } | null = null
  for (const v of voters) {
    if (v.peerId === current) continue
    const ms = predictedCommitMs(v, voters, oracle)
    if (ms !== null && (best === null || ms < best.ms)) best = { id: v.peerId, ms }
  }
  if (best === null) return null
  const gain = mine - best.ms
  if (gain >= (opts.minGainMs ?? 5) && gain >= mine * (opts.minGainRatio ?? 0.3)) return best.id
  return null
}
