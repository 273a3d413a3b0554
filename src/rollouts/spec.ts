/**
 * Rollout specs from users (pure): the `rollout` block of a Function
 * manifest, `dcis fn deploy` flags and HTTP fields, modelled on Nomad's
 * `update` block. Durations take "10s", "500ms", "2m", "1h" or plain
 * milliseconds. Every field is checked; the result is what the catalogue
 * stores (checkRolloutSpec accepts it).
 *
 *   rollout:
 *     canary: { regions: [eu-west-1], share: 1 }   # or canaryRegions / canaryShare
 *     minHealthyTime: 30s
 *     healthyDeadline: 5m
 *     maxParallel: 1          # regions per promotion step, 0 = all at once
 *     stagger: 30s
 *     autoPromote: true
 *     autoRevert: true
 *     sla: { latencyP95Ms: 50, errorRate: 0.01, relativeLatencyFactor: 1.5, relativeErrorRate: 0.01, minSamples: 20 }
 */
import { checkRolloutSpec, REGION_RE } from '../catalogue/index.js'
import { InvalidRolloutError } from './errors.js'
import type { RolloutSpec } from '../catalogue/index.js'

export const ROLLOUT_DEFAULTS = Object.freeze({
  canaryShare: 1,
  minHealthyTimeMs: 30_000,
  healthyDeadlineMs: 300_000,
  maxParallel: 1,
  staggerMs: 30_000,
  autoPromote: true,
  autoRevert: true,
  minSamples: 20
})

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** "10s" | "500ms" | "2m" | 1500 -> ms */
export function parseDuration (v: unknown, field: string): number {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new InvalidRolloutError(field, 'must be a non-negative integer of milliseconds')
    return v
  }
  if (typeof v !== 'string') throw new InvalidRolloutError(field, 'must be a duration such as "30s", "500ms", "2m"')
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*$/.exec(v)
  if (m == null) throw new InvalidRolloutError(field, `${JSON.stringify(v.slice(0, 40))} is not a duration such as "30s", "500ms", "2m"`)
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms'])
  if (!Number.isSafeInteger(ms)) throw new InvalidRolloutError(field, 'too long')
  return ms
}

function bool (v: unknown, field: string): boolean {
  if (typeof v === 'boolean') return v
  if (v === 'true') return true
  if (v === 'false') return false
  throw new InvalidRolloutError(field, 'must be true or false')
}

function number (v: unknown, field: string): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new InvalidRolloutError(field, 'must be a number')
  return n
}

function regions (v: unknown, field: string): string[] {
  const list = typeof v === 'string' ? v.split(',').map(s => s.trim()).filter(s => s !== '') : v
  if (!Array.isArray(list) || list.length === 0) throw new InvalidRolloutError(field, 'must name at least one region')
  for (const r of list) {
    if (typeof r !== 'string' || !REGION_RE.test(r)) throw new InvalidRolloutError(field, `${JSON.stringify(r)} is not a region name`)
  }
  return [...new Set(list as string[])]
}

const FIELDS = ['canary', 'canaryRegions', 'canaryShare', 'minHealthyTime', 'minHealthyTimeMs', 'healthyDeadline', 'healthyDeadlineMs', 'maxParallel', 'stagger', 'staggerMs', 'autoPromote', 'autoRevert', 'sla']
const SLA_FIELDS = ['latencyP95Ms', 'latency_p95', 'errorRate', 'error_rate', 'relativeLatencyFactor', 'relativeErrorRate', 'minSamples']

/**
 * A rollout spec from a user's object (manifest block, parsed flags, HTTP
 * fields). Throws InvalidRolloutError naming the field.
 */
export function parseRolloutSpec (input: unknown, field = 'rollout'): RolloutSpec {
  if (input == null || typeof input !== 'object' || Array.isArray(input)) throw new InvalidRolloutError(field, 'must be an object')
  const o = input as Record<string, unknown>
  for (const k of Object.keys(o)) if (!FIELDS.includes(k)) throw new InvalidRolloutError(`${field}.${k}`, 'unknown field')
  let canaryRegions: string[] | undefined
  let canaryShare: number = ROLLOUT_DEFAULTS.canaryShare
  if (o.canary !== undefined) {
    if (o.canary == null || typeof o.canary !== 'object' || Array.isArray(o.canary)) throw new InvalidRolloutError(`${field}.canary`, 'must be {regions, share?}')
    const c = o.canary as Record<string, unknown>
    for (const k of Object.keys(c)) if (k !== 'regions' && k !== 'share') throw new InvalidRolloutError(`${field}.canary.${k}`, 'unknown field')
    canaryRegions = regions(c.regions, `${field}.canary.regions`)
    if (c.share !== undefined) canaryShare = number(c.share, `${field}.canary.share`)
  }
  if (o.canaryRegions !== undefined) canaryRegions = regions(o.canaryRegions, `${field}.canaryRegions`)
  if (o.canaryShare !== undefined) canaryShare = number(o.canaryShare, `${field}.canaryShare`)
  if (canaryRegions == null) throw new InvalidRolloutError(`${field}.canary.regions`, 'a rollout needs its canary regions')
  const dur = (a: string, b: string, dflt: number): number => o[a] !== undefined ? parseDuration(o[a], `${field}.${a}`) : o[b] !== undefined ? parseDuration(o[b], `${field}.${b}`) : dflt
  const s = (o.sla ?? {}) as Record<string, unknown>
  if (typeof s !== 'object' || Array.isArray(s)) throw new InvalidRolloutError(`${field}.sla`, 'must be an object')
  for (const k of Object.keys(s)) if (!SLA_FIELDS.includes(k)) throw new InvalidRolloutError(`${field}.sla.${k}`, 'unknown field')
  const opt = (a: string, b?: string): number | undefined => {
    const v = s[a] ?? (b != null ? s[b] : undefined)
    return v === undefined ? undefined : number(v, `${field}.sla.${a}`)
  }
  const p95 = opt('latencyP95Ms', 'latency_p95')
  const err = opt('errorRate', 'error_rate')
  const rl = opt('relativeLatencyFactor')
  const re = opt('relativeErrorRate')
  const spec = {
    canaryRegions,
    canaryShare,
    minHealthyTimeMs: dur('minHealthyTime', 'minHealthyTimeMs', ROLLOUT_DEFAULTS.minHealthyTimeMs),
    healthyDeadlineMs: dur('healthyDeadline', 'healthyDeadlineMs', ROLLOUT_DEFAULTS.healthyDeadlineMs),
    maxParallel: o.maxParallel !== undefined ? number(o.maxParallel, `${field}.maxParallel`) : ROLLOUT_DEFAULTS.maxParallel,
    staggerMs: dur('stagger', 'staggerMs', ROLLOUT_DEFAULTS.staggerMs),
    autoPromote: o.autoPromote !== undefined ? bool(o.autoPromote, `${field}.autoPromote`) : ROLLOUT_DEFAULTS.autoPromote,
    autoRevert: o.autoRevert !== undefined ? bool(o.autoRevert, `${field}.autoRevert`) : ROLLOUT_DEFAULTS.autoRevert,
    sla: {
      minSamples: opt('minSamples') ?? ROLLOUT_DEFAULTS.minSamples,
      ...(p95 != null ? { latencyP95Ms: p95 } : {}),
      ...(err != null ? { errorRate: err } : {}),
      ...(rl != null ? { relativeLatencyFactor: rl } : {}),
      ...(re != null ? { relativeErrorRate: re } : {})
    }
  }
  try {
    return checkRolloutSpec(spec, field)
  } catch (e) {
    const f = (e as { field?: string }).field ?? field
    throw new InvalidRolloutError(f, (e as Error).message.slice(f.length + 2))
  }
}
