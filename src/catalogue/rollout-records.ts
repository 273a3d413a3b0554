/**
 * Rollout records of the federation catalogue (pure):
 *
 *   fn/<name>/rollout       the function's rollout: spec, state, canary version, cohort, lease, figures
 *   fn/<name>/rm/<peerId>   one peer's invocation figures for the rollout's versions (only that peer writes it)
 *
 * A rollout never moves `fn/<name>/current` until it is promoted; the
 * driving peer writes the promotion (state `promoted` + the current
 * pointer) or a revert in ONE delta, so both registers are won by the same
 * write. docs/rollouts.md describes the state machine.
 */
import { CatalogueRecordError } from './errors.js'

export const ROLLOUT_STATES = ['pending', 'canary', 'promoting', 'promoted', 'reverted', 'failed'] as const
export type RolloutState = typeof ROLLOUT_STATES[number]
/** states in which the canary version is served by the cohort */
export const ACTIVE_ROLLOUT_STATES: readonly RolloutState[] = ['pending', 'canary', 'promoting']

/** latency histogram bucket upper bounds (ms); the last bucket is +Inf */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000] as const
export const REGION_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
export const PEER_RE = /^[1-9A-HJ-NP-Za-km-z]{20,64}$/
const CID_RE = /^b[a-z2-7]{20,120}$/
const ROLLOUT_ID_RE = /^[a-z0-9-]{1,80}$/

export interface RolloutSla {
  /** the canary's p95 latency must stay at or below this (ms) */
  latencyP95Ms?: number
  /** the canary's error rate (errors / invocations, 0..1) must stay at or below this */
  errorRate?: number
  /** relative to the current version measured in the same window: canary p95 <= baseline p95 x factor */
  relativeLatencyFactor?: number
  /** canary error rate <= baseline error rate + delta */
  relativeErrorRate?: number
  /** invocations of the canary needed before any verdict (default 20) */
  minSamples: number
}

export interface RolloutSpec {
  /** canary regions (the cohort starts as these) */
  canaryRegions: string[]
  /** share of peers per cohort region that serve the canary (0 < share <= 1; 1 = every peer of the region) */
  canaryShare: number
  minHealthyTimeMs: number
  healthyDeadlineMs: number
  /** regions added per promotion step (0 = all at once) */
  maxParallel: number
  /** time between promotion steps */
  staggerMs: number
  autoPromote: boolean
  autoRevert: boolean
  sla: RolloutSla
}

export interface RolloutFigures {
  count: number
  errors: number
  /** errors / count (0 with no invocations) */
  errorRate: number
  /** upper bound of the bucket holding the 95th percentile, ms (null: no samples) */
  p95Ms: number | null
}

export interface RolloutRecord {
  id: string
  /** the canary version (CID) */
  version: string
  /** the version that was current when the rollout started */
  from: string
  state: RolloutState
  spec: RolloutSpec
  /** regions that serve the canary now */
  cohort: string[]
  startedAt: string
  startedBy: string
  /** when the canary phase began (minHealthyTime and healthyDeadline count from here) */
  canaryAt?: string
  /** last promotion step */
  stepAt?: string
  updatedAt: string
  /** the driving peer and until when its lease holds */
  lease?: { holder: string, until: string }
  reason?: string
  figures?: { canary: RolloutFigures, baseline: RolloutFigures }
}

export interface VersionFigures {
  count: number
  errors: number
  /** counts per LATENCY_BUCKETS_MS bucket, plus one for +Inf */
  buckets: number[]
}

export interface RolloutReportRecord {
  /** the rollout these figures belong to */
  rollout: string
  peer: string
  region: string
  /** whether this peer was in the canary cohort when it wrote the report */
  inCohort: boolean
  at: string
  /** CID -> figures since the rollout started on this peer */
  versions: Record<string, VersionFigures>
}

function fail (field: string, message: string): never {
  throw new CatalogueRecordError(field, message)
}

function obj (v: unknown, field: string): Record<string, unknown> {
  if (v == null || typeof v !== 'object' || Array.isArray(v)) fail(field, 'must be an object')
  return v as Record<string, unknown>
}

function only (o: Record<string, unknown>, allowed: readonly string[], field: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${field}.${k}`, 'unknown field')
}

function text (v: unknown, field: string, max: number, re?: RegExp): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) fail(field, `must be a non-empty string of at most ${max} characters`)
  if (re != null && !re.test(v)) fail(field, `must match ${String(re)}`)
  return v
}

function time (v: unknown, field: string): string {
  const s = text(v, field, 40)
  if (Number.isNaN(Date.parse(s))) fail(field, 'must be an ISO 8601 time')
  return s
}

function int (v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(field, `must be an integer in [${min}, ${max}]`)
  return v
}

function num (v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) fail(field, `must be a number in [${min}, ${max}]`)
  return v
}

function bool (v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') fail(field, 'must be a boolean')
  return v
}

const DAY = 86_400_000

export function checkRolloutSpec (v: unknown, field = 'rollout'): RolloutSpec {
  const o = obj(v, field)
  only(o, ['canaryRegions', 'canaryShare', 'minHealthyTimeMs', 'healthyDeadlineMs', 'maxParallel', 'staggerMs', 'autoPromote', 'autoRevert', 'sla'], field)
  if (!Array.isArray(o.canaryRegions) || o.canaryRegions.length === 0 || o.canaryRegions.length > 64) fail(`${field}.canaryRegions`, 'must list 1-64 regions')
  const regions = o.canaryRegions.map((r, i) => text(r, `${field}.canaryRegions[${i}]`, 64, REGION_RE))
  if (new Set(regions).size !== regions.length) fail(`${field}.canaryRegions`, 'must not repeat a region')
  const s = obj(o.sla, `${field}.sla`)
  only(s, ['latencyP95Ms', 'errorRate', 'relativeLatencyFactor', 'relativeErrorRate', 'minSamples'], `${field}.sla`)
  const sla: RolloutSla = {
    minSamples: int(s.minSamples, `${field}.sla.minSamples`, 1, 1_000_000),
    ...(s.latencyP95Ms !== undefined ? { latencyP95Ms: num(s.latencyP95Ms, `${field}.sla.latencyP95Ms`, 0.001, 3_600_000) } : {}),
    ...(s.errorRate !== undefined ? { errorRate: num(s.errorRate, `${field}.sla.errorRate`, 0, 1) } : {}),
    ...(s.relativeLatencyFactor !== undefined ? { relativeLatencyFactor: num(s.relativeLatencyFactor, `${field}.sla.relativeLatencyFactor`, 1, 1000) } : {}),
    ...(s.relativeErrorRate !== undefined ? { relativeErrorRate: num(s.relativeErrorRate, `${field}.sla.relativeErrorRate`, 0, 1) } : {})
  }
  const spec: RolloutSpec = {
    canaryRegions: regions,
    canaryShare: num(o.canaryShare, `${field}.canaryShare`, 0.001, 1),
    minHealthyTimeMs: int(o.minHealthyTimeMs, `${field}.minHealthyTimeMs`, 0, DAY),
    healthyDeadlineMs: int(o.healthyDeadlineMs, `${field}.healthyDeadlineMs`, 1, 7 * DAY),
    maxParallel: int(o.maxParallel, `${field}.maxParallel`, 0, 1000),
    staggerMs: int(o.staggerMs, `${field}.staggerMs`, 0, DAY),
    autoPromote: bool(o.autoPromote, `${field}.autoPromote`),
    autoRevert: bool(o.autoRevert, `${field}.autoRevert`),
    sla
  }
  if (spec.healthyDeadlineMs < spec.minHealthyTimeMs) fail(`${field}.healthyDeadlineMs`, 'must not be shorter than minHealthyTimeMs')
  return spec
}

function checkFigures (v: unknown, field: string): RolloutFigures {
  const o = obj(v, field)
  only(o, ['count', 'errors', 'errorRate', 'p95Ms'], field)
  return {
    count: int(o.count, `${field}.count`, 0, Number.MAX_SAFE_INTEGER),
    errors: int(o.errors, `${field}.errors`, 0, Number.MAX_SAFE_INTEGER),
    errorRate: num(o.errorRate, `${field}.errorRate`, 0, 1),
    p95Ms: o.p95Ms === null ? null : num(o.p95Ms, `${field}.p95Ms`, 0, Number.MAX_SAFE_INTEGER)
  }
}

export function checkRollout (v: unknown, field = 'rollout'): RolloutRecord {
  const o = obj(v, field)
  only(o, ['id', 'version', 'from', 'state', 'spec', 'cohort', 'startedAt', 'startedBy', 'canaryAt', 'stepAt', 'updatedAt', 'lease', 'reason', 'figures'], field)
  if (!(ROLLOUT_STATES as readonly unknown[]).includes(o.state)) fail(`${field}.state`, `must be one of ${ROLLOUT_STATES.join(', ')}`)
  if (!Array.isArray(o.cohort) || o.cohort.length > 1024) fail(`${field}.cohort`, 'must list at most 1024 regions')
  let lease: RolloutRecord['lease']
  if (o.lease !== undefined) {
    const l = obj(o.lease, `${field}.lease`)
    only(l, ['holder', 'until'], `${field}.lease`)
    lease = { holder: text(l.holder, `${field}.lease.holder`, 64, PEER_RE), until: time(l.until, `${field}.lease.until`) }
  }
  let figures: RolloutRecord['figures']
  if (o.figures !== undefined) {
    const f = obj(o.figures, `${field}.figures`)
    only(f, ['canary', 'baseline'], `${field}.figures`)
    figures = { canary: checkFigures(f.canary, `${field}.figures.canary`), baseline: checkFigures(f.baseline, `${field}.figures.baseline`) }
  }
  return {
    id: text(o.id, `${field}.id`, 80, ROLLOUT_ID_RE),
    version: text(o.version, `${field}.version`, 130, CID_RE),
    from: text(o.from, `${field}.from`, 130, CID_RE),
    state: o.state as RolloutState,
    spec: checkRolloutSpec(o.spec, `${field}.spec`),
    cohort: o.cohort.map((r, i) => text(r, `${field}.cohort[${i}]`, 64, REGION_RE)),
    startedAt: time(o.startedAt, `${field}.startedAt`),
    startedBy: text(o.startedBy, `${field}.startedBy`, 64, PEER_RE),
    ...(o.canaryAt !== undefined ? { canaryAt: time(o.canaryAt, `${field}.canaryAt`) } : {}),
    ...(o.stepAt !== undefined ? { stepAt: time(o.stepAt, `${field}.stepAt`) } : {}),
    updatedAt: time(o.updatedAt, `${field}.updatedAt`),
    ...(lease != null ? { lease } : {}),
    ...(o.reason !== undefined ? { reason: text(o.reason, `${field}.reason`, 1024) } : {}),
    ...(figures != null ? { figures } : {})
  }
}

export function checkRolloutReport (v: unknown, peer: string, field = 'report'): RolloutReportRecord {
  const o = obj(v, field)
  only(o, ['rollout', 'peer', 'region', 'inCohort', 'at', 'versions'], field)
  if (o.peer !== peer) fail(`${field}.peer`, `must be ${peer}, the peer in its key`)
  const vs = obj(o.versions, `${field}.versions`)
  const entries = Object.entries(vs)
  if (entries.length > 8) fail(`${field}.versions`, 'at most 8 versions')
  const versions: Record<string, VersionFigures> = {}
  for (const [cid, x] of entries) {
    if (!CID_RE.test(cid)) fail(`${field}.versions`, 'keys must be CIDs')
    const f = obj(x, `${field}.versions.${cid}`)
    only(f, ['count', 'errors', 'buckets'], `${field}.versions.${cid}`)
    if (!Array.isArray(f.buckets) || f.buckets.length !== LATENCY_BUCKETS_MS.length + 1) fail(`${field}.versions.${cid}.buckets`, `must hold ${LATENCY_BUCKETS_MS.length + 1} counts`)
    const buckets = f.buckets.map((b, i) => int(b, `${field}.versions.${cid}.buckets[${i}]`, 0, Number.MAX_SAFE_INTEGER))
    const count = int(f.count, `${field}.versions.${cid}.count`, 0, Number.MAX_SAFE_INTEGER)
    const errors = int(f.errors, `${field}.versions.${cid}.errors`, 0, Number.MAX_SAFE_INTEGER)
    if (errors > count) fail(`${field}.versions.${cid}.errors`, 'must not exceed count')
    versions[cid] = { count, errors, buckets }
  }
  return {
    rollout: text(o.rollout, `${field}.rollout`, 80, ROLLOUT_ID_RE),
    peer,
    region: text(o.region, `${field}.region`, 64, REGION_RE),
    inCohort: bool(o.inCohort, `${field}.inCohort`),
    at: time(o.at, `${field}.at`),
    versions
  }
}
