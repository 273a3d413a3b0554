/**
 * Rollouts on a peer: starts, drives, reports and routes canary rollouts
 * whose state lives in the federation catalogue (fn/<name>/rollout).
 *
 * - Routing: a peer in the canary cohort (its region is in `cohort`, and
 *   while the state is `canary`, its rendezvous score is within
 *   `canaryShare`) resolves the function's name to the canary version;
 *   every other peer resolves it to `current`, which does not move until
 *   the rollout is promoted. A peer outside the cohort refuses to run the
 *   canary for others (`mayServe`), so a forwarded call never runs it there.
 * - Figures: every invocation run here of a rollout's canary or current
 *   version is counted (latency histogram, errors); each peer writes its
 *   own figures into the catalogue (fn/<name>/rm/<peerId>) every
 *   `reportMs` while they change.
 * - One driver: the live peer with the highest sha256("rollout" \n name \n
 *   peer) drives the rollout, under a lease (holder, until) kept in the
 *   rollout record: it acts only when the lease is its own or has expired,
 *   and every decision (decide.ts) is ONE delta (state + current pointer +
 *   event) with the lease renewed. When the driver dies, its lease runs
 *   out and the next live peer by score carries on from the recorded state.
 */
import { createHash } from 'node:crypto'
import { Counter } from 'prom-client'
import { RolloutConflictError } from '../catalogue/index.js'
import { decide, figuresOf, isActive } from './decide.js'
import { emptyFigures, observe, summarise } from './figures.js'
import { RolloutFinishedError, RolloutInProgressError, RolloutNotFoundError, RolloutNothingToDoError } from './errors.js'
import { UnknownFunctionError } from '../wasm/store/errors.js'
import type { Catalogue, FunctionView, RolloutFigures, RolloutRecord, RolloutSpec, VersionFigures } from '../catalogue/index.js'
import type { Logger, MetricsRegistry } from '../telemetry/index.js'

export interface RolloutServiceComponents {
  catalogue: Catalogue
  /** this peer's region */
  region: () => string
  /** the regions of the federation's peers (this one included) */
  regions: () => string[]
  /** peers that may drive: this peer and the connected federation members */
  live: () => string[]
  logger?: Logger
  metrics?: MetricsRegistry
  now?: () => number
}

export interface RolloutServiceInit {
  /** how often the driver evaluates (ms); default 1000 */
  tickMs?: number
  /** the driver's lease (ms); default 6000 */
  leaseMs?: number
  /** how often this peer writes its figures while they change (ms); default 2000 */
  reportMs?: number
}

export interface RolloutView {
  function: string
  id: string
  state: RolloutRecord['state']
  /** the canary version: CID and number */
  version: string
  versionNumber?: number
  from: string
  fromNumber?: number
  /** regions that serve the canary now */
  cohort: string[]
  spec: RolloutSpec
  startedAt: string
  startedBy: string
  canaryAt?: string
  updatedAt: string
  reason?: string
  driver?: { peerId: string, leaseUntil: string }
  /** summed over the peers' reports now: canary (cohort) and baseline (current version, all peers) */
  figures: { canary: RolloutFigures, baseline: RolloutFigures }
  /** what each peer reported */
  peers: Array<{ peerId: string, region: string, inCohort: boolean, at: string, canary?: RolloutFigures, baseline?: RolloutFigures }>
  /** whether this peer serves the canary now */
  servedHere: boolean
}

export function rolloutOwner (name: string, peers: readonly string[]): string | undefined {
  let best: string | undefined
  let bestScore = ''
  for (const p of peers) {
    const score = createHash('sha256').update(`rollout\n${name}\n${p}`).digest('hex')
    if (best == null || score > bestScore) { best = p; bestScore = score }
  }
  return best
}

/** a peer's place in [0, 1) for a rollout's share of a region */
export function shareScore (rolloutId: string, peer: string): number {
  return createHash('sha256').update(`share\n${rolloutId}\n${peer}`).digest().readUInt32BE(0) / 0x1_0000_0000
}

export function inCohort (r: RolloutRecord, peer: string, region: string): boolean {
  if (!isActive(r) || !r.cohort.includes(region)) return false
  if (r.state === 'canary' && r.spec.canaryShare < 1) return shareScore(r.id, peer) < r.spec.canaryShare
  return true
}

export class RolloutService {
  private readonly c: RolloutServiceComponents
  private readonly tickMs: number
  private readonly leaseMs: number
  private readonly reportMs: number
  private readonly self: string
  /** rollout id -> cid -> figures counted here */
  private readonly local = new Map<string, { name: string, versions: Map<string, VersionFigures>, dirty: boolean }>()
  private timer?: NodeJS.Timeout
  private lastReport = 0
  private busy = false
  private started = false
  private readonly counter?: Counter<'role' | 'outcome'>

  constructor (components: RolloutServiceComponents, init: RolloutServiceInit = {}) {
    this.c = components
    this.self = components.catalogue.peerId
    this.tickMs = init.tickMs ?? 1000
    this.leaseMs = init.leaseMs ?? 6000
    this.reportMs = init.reportMs ?? 2000
    const m = components.metrics
    if (m != null) {
      this.counter = (m.getSingleMetric('dcis_rollout_invocations_total') as Counter<'role' | 'outcome'> | undefined) ?? new Counter({
        name: 'dcis_rollout_invocations_total', help: 'Invocations run here of a rollout\'s versions, by role (canary, current) and outcome (ok, error)', labelNames: ['role', 'outcome'] as const, registers: [m]
      })
    }
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.schedule()
  }

  async stop (): Promise<void> {
    this.started = false
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = undefined
  }

  private now (): number {
    return this.c.now?.() ?? Date.now()
  }

  private schedule (): void {
    if (!this.started) return
    this.timer = setTimeout(() => {
      this.tick().catch(err => { this.c.logger?.warn({ err }, 'rollout tick failed') }).finally(() => { this.schedule() })
    }, this.tickMs)
    this.timer.unref?.()
  }

  /** the active rollout of a function, if any */
  active (name: string): RolloutRecord | undefined {
    const r = this.c.catalogue.function(name)?.rollout
    return r != null && isActive(r) ? r : undefined
  }

  /** the version this peer serves for `name` now when that is not `current` (the canary, in the cohort) */
  selectVersion (name: string): string | undefined {
    const r = this.active(name)
    return r != null && inCohort(r, this.self, this.c.region()) ? r.version : undefined
  }

  /** false when `id` is the canary of an active rollout and this peer is outside its cohort */
  mayServe (id: string, name?: string): boolean {
    // every function is looked at, not only `name`: a forwarded request names its function itself
    void name
    for (const fn of this.c.catalogue.functions()) {
      const r = fn?.rollout
      if (r == null || !isActive(r) || r.version !== id) continue
      if (!inCohort(r, this.self, this.c.region())) return false
    }
    return true
  }

  /** counts an invocation run here (any version; only a rollout's versions are kept) */
  observe (name: string, id: string, ms: number, ok: boolean): void {
    const r = this.active(name)
    if (r == null || (id !== r.version && id !== r.from)) return
    let l = this.local.get(r.id)
    if (l == null) {
      // after a restart, go on from this peer's own figures in the catalogue (they are cumulative)
      const mine = this.c.catalogue.function(name)?.reports.find(x => x.peer === this.self && x.rollout === r.id)
      l = { name, versions: new Map(Object.entries(mine?.versions ?? {}).map(([cid, f]) => [cid, { count: f.count, errors: f.errors, buckets: [...f.buckets] }])), dirty: false }
      this.local.set(r.id, l)
    }
    let f = l.versions.get(id)
    if (f == null) { f = emptyFigures(); l.versions.set(id, f) }
    observe(f, ms, ok)
    l.dirty = true
    this.counter?.inc({ role: id === r.version ? 'canary' : 'current', outcome: ok ? 'ok' : 'error' })
  }

  /** Starts a rollout of version `cid` (already in the catalogue, not current). */
  async begin (name: string, cid: string, spec: RolloutSpec): Promise<RolloutView> {
    const fn = this.c.catalogue.function(name)
    if (fn == null) throw new UnknownFunctionError(name)
    if (fn.current === cid) throw new RolloutNothingToDoError(name)
    if (fn.rollout != null && isActive(fn.rollout)) throw new RolloutInProgressError(name, fn.rollout.state)
    const now = this.now()
    const at = new Date(now).toISOString()
    const rollout: RolloutRecord = {
      id: `${now.toString(36)}-${cid.slice(-10)}`,
      version: cid,
      from: fn.current,
      state: 'pending',
      spec,
      cohort: [],
      startedAt: at,
      startedBy: this.self,
      updatedAt: at
    }
    const view = await this.c.catalogue.writeRollout(name, {
      rollout,
      clearReports: true,
      event: { type: 'rollout-started', id: cid, from: fn.current, reason: `canary in ${spec.canaryRegions.join(', ')}${spec.canaryShare < 1 ? ` (share ${spec.canaryShare})` : ''}` }
    })
    this.c.logger?.info({ name, version: cid, regions: spec.canaryRegions }, 'rollout started')
    return this.viewOf(view) as RolloutView
  }

  /** The operator's promote: the canary becomes current everywhere now (one delta). */
  async promote (name: string): Promise<RolloutView> {
    const fn = this.c.catalogue.function(name)
    const r = fn?.rollout
    if (fn == null || r == null) throw new RolloutNotFoundError(name)
    if (!isActive(r)) throw new RolloutFinishedError(name, r.state)
    const now = this.now()
    const view = await this.c.catalogue.writeRollout(name, {
      expect: r.id,
      rollout: { ...r, state: 'promoted', cohort: [...new Set(this.c.regions())].sort(), updatedAt: new Date(now).toISOString(), reason: `promoted by the operator through ${this.self}`, figures: figuresOf(r, fn.reports) },
      current: r.version,
      event: { type: 'rollout-promoted', id: r.version, from: r.from, reason: 'promoted by the operator' }
    })
    return this.viewOf(view) as RolloutView
  }

  /** The operator's abort: the canary is withdrawn everywhere (one delta); current stays (or goes back to) the old version. */
  async abort (name: string, reason = 'aborted by the operator'): Promise<RolloutView> {
    const fn = this.c.catalogue.function(name)
    const r = fn?.rollout
    if (fn == null || r == null) throw new RolloutNotFoundError(name)
    if (!isActive(r)) throw new RolloutFinishedError(name, r.state)
    const view = await this.c.catalogue.writeRollout(name, {
      expect: r.id,
      rollout: { ...r, state: 'reverted', cohort: [], updatedAt: new Date(this.now()).toISOString(), reason, figures: figuresOf(r, fn.reports) },
      ...(fn.current === r.version ? { current: r.from } : {}),
      event: { type: 'rollout-reverted', id: r.version, from: r.from, reason }
    })
    return this.viewOf(view) as RolloutView
  }

  list (): RolloutView[] {
    return this.c.catalogue.functions().map(f => this.viewOf(f)).filter((v): v is RolloutView => v != null)
  }

  get (name: string): RolloutView {
    const fn = this.c.catalogue.function(name)
    const v = fn != null ? this.viewOf(fn) : undefined
    if (v == null) throw new RolloutNotFoundError(name)
    return v
  }

  private viewOf (fn: FunctionView): RolloutView | undefined {
    const r = fn.rollout
    if (r == null) return undefined
    const num = (cid: string): number | undefined => fn.versions.find(v => v.cid === cid)?.version
    const vNum = num(r.version)
    const fNum = num(r.from)
    return {
      function: fn.name,
      id: r.id,
      state: r.state,
      version: r.version,
      ...(vNum != null ? { versionNumber: vNum } : {}),
      from: r.from,
      ...(fNum != null ? { fromNumber: fNum } : {}),
      cohort: r.cohort,
      spec: r.spec,
      startedAt: r.startedAt,
      startedBy: r.startedBy,
      ...(r.canaryAt != null ? { canaryAt: r.canaryAt } : {}),
      updatedAt: r.updatedAt,
      ...(r.reason != null ? { reason: r.reason } : {}),
      ...(r.lease != null ? { driver: { peerId: r.lease.holder, leaseUntil: r.lease.until } } : {}),
      figures: isActive(r) ? figuresOf(r, fn.reports) : (r.figures ?? figuresOf(r, fn.reports)),
      peers: fn.reports.filter(x => x.rollout === r.id).map(x => ({
        peerId: x.peer,
        region: x.region,
        inCohort: x.inCohort,
        at: x.at,
        ...(x.versions[r.version] != null ? { canary: summarise(x.versions[r.version]) } : {}),
        ...(x.versions[r.from] != null ? { baseline: summarise(x.versions[r.from]) } : {})
      })),
      servedHere: inCohort(r, this.self, this.c.region())
    }
  }

  /** one round: write this peer's figures when due, drive the rollouts this peer owns */
  async tick (): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      const now = this.now()
      if (now - this.lastReport >= this.reportMs) {
        this.lastReport = now
        await this.report()
      }
      for (const fn of this.c.catalogue.functions()) {
        if (fn.rollout != null && isActive(fn.rollout)) await this.drive(fn)
      }
      // figures of rollouts that are over are dropped here (their reports stay in the catalogue)
      for (const [id, l] of this.local) {
        if (this.c.catalogue.function(l.name)?.rollout?.id !== id || this.active(l.name) == null) { if (!l.dirty) this.local.delete(id) }
      }
    } finally {
      this.busy = false
    }
  }

  private async report (): Promise<void> {
    for (const [id, l] of this.local) {
      if (!l.dirty) continue
      const r = this.c.catalogue.function(l.name)?.rollout
      if (r?.id !== id) { l.dirty = false; continue }
      l.dirty = false
      const versions: Record<string, VersionFigures> = {}
      for (const [cid, f] of l.versions) versions[cid] = { count: f.count, errors: f.errors, buckets: [...f.buckets] }
      try {
        await this.c.catalogue.putRolloutReport(l.name, { rollout: id, region: this.c.region(), inCohort: inCohort(r, this.self, this.c.region()), versions })
      } catch (err) {
        l.dirty = true
        this.c.logger?.warn({ err, function: l.name }, 'could not write rollout figures')
      }
    }
  }

  private async drive (fn: FunctionView): Promise<void> {
    const r = fn.rollout as RolloutRecord
    const live = this.c.live()
    const peers = live.includes(this.self) ? live : [...live, this.self]
    if (rolloutOwner(fn.name, peers) !== this.self) return
    const now = this.now()
    const leaseHeldElsewhere = r.lease != null && r.lease.holder !== this.self && Date.parse(r.lease.until) > now
    if (leaseHeldElsewhere) return
    const startedMs = Date.parse(r.startedAt)
    const bad = fn.events.find(e => (e.type === 'unhealthy' || e.type === 'rollback') && e.id === r.version && Date.parse(e.at) >= startedMs)
    const d = decide({
      rollout: r,
      reports: fn.reports,
      current: fn.current,
      ...(bad != null ? { unhealthy: bad.reason ?? bad.type } : {}),
      regions: this.c.regions(),
      now
    })
    const lease = { holder: this.self, until: new Date(now + this.leaseMs).toISOString() }
    const renew = r.lease == null || r.lease.holder !== this.self || Date.parse(r.lease.until) - now < this.leaseMs / 2
    if (d == null && !renew) return
    const next = d?.rollout ?? { ...r, figures: figuresOf(r, fn.reports), updatedAt: new Date(now).toISOString() }
    const terminal = !isActive(next)
    try {
      await this.c.catalogue.writeRollout(fn.name, {
        expect: r.id,
        rollout: terminal ? withoutLease(next) : { ...next, lease },
        ...(d?.current != null ? { current: d.current } : {}),
        ...(d?.event != null ? { event: d.event } : {})
      })
      if (d != null) this.c.logger?.info({ function: fn.name, from: r.state, to: next.state, reason: next.reason, cohort: next.cohort }, 'rollout step')
    } catch (err) {
      if (err instanceof RolloutConflictError) return
      throw err
    }
  }
}

function withoutLease (r: RolloutRecord): RolloutRecord {
  const { lease: _l, ...rest } = r
  return rest
}
