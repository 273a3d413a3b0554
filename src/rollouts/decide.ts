/**
 * The rollout state machine (pure): given the rollout record, the peers'
 * figures, the HealthCheck verdicts and the federation's regions, the next
 * decision — or none. The driving peer (service.ts) applies a decision as
 * one catalogue delta.
 *
 *   pending ──> canary ──(healthy for minHealthyTime, autoPromote)──> promoting ──(every region)──> promoted
 *                 │  └──(SLA breach or unhealthy, autoRevert)──> reverted
 *                 │  └──(SLA breach, no autoRevert; or no verdict by healthyDeadline)──> failed (autoRevert: reverted)
 *   promoting: every `stagger`, `maxParallel` more regions join the cohort (0 = all at once);
 *              a breach still reverts it.
 *
 * A revert or failure never needs to move `current`: the pointer stays on
 * the old version for the whole rollout and moves only at `promoted` (in
 * the same delta). Should it point at the canary anyway (an operator
 * promoted by hand and a revert won), the revert moves it back.
 */
import { ACTIVE_ROLLOUT_STATES } from '../catalogue/index.js'
import { aggregate, summarise } from './figures.js'
import type { NewEvent, RolloutFigures, RolloutRecord, RolloutReportRecord } from '../catalogue/index.js'

export interface DecideInput {
  rollout: RolloutRecord
  reports: readonly RolloutReportRecord[]
  /** the function's current pointer now */
  current: string
  /** an `unhealthy` HealthCheck verdict on the canary since the rollout began (its reason) */
  unhealthy?: string
  /** regions of the federation's peers */
  regions: readonly string[]
  now: number
}

export interface Decision {
  rollout: RolloutRecord
  current?: string
  event?: NewEvent
}

export function isActive (r: Pick<RolloutRecord, 'state'> | undefined): boolean {
  return r != null && ACTIVE_ROLLOUT_STATES.includes(r.state)
}

export function figuresOf (rollout: RolloutRecord, reports: readonly RolloutReportRecord[]): { canary: RolloutFigures, baseline: RolloutFigures } {
  return {
    canary: summarise(aggregate(reports, rollout.id, rollout.version, r => r.inCohort)),
    baseline: summarise(aggregate(reports, rollout.id, rollout.from))
  }
}

/** the reason the canary breaks its SLA, or null (needs minSamples invocations) */
export function slaBreach (rollout: RolloutRecord, f: { canary: RolloutFigures, baseline: RolloutFigures }): string | null {
  const sla = rollout.spec.sla
  const c = f.canary
  if (c.count < sla.minSamples) return null
  const p95 = c.p95Ms ?? 0
  if (sla.errorRate != null && c.errorRate > sla.errorRate) return `error rate ${c.errorRate} > ${sla.errorRate} (${c.errors}/${c.count} invocations)`
  if (sla.latencyP95Ms != null && p95 > sla.latencyP95Ms) return `latency p95 ${p95} ms > ${sla.latencyP95Ms} ms (${c.count} invocations)`
  const b = f.baseline
  if (b.count >= sla.minSamples) {
    if (sla.relativeErrorRate != null && c.errorRate > b.errorRate + sla.relativeErrorRate) return `error rate ${c.errorRate} > current version's ${b.errorRate} + ${sla.relativeErrorRate}`
    if (sla.relativeLatencyFactor != null && b.p95Ms != null && p95 > b.p95Ms * sla.relativeLatencyFactor) return `latency p95 ${p95} ms > ${sla.relativeLatencyFactor} x current version's ${b.p95Ms} ms`
  }
  return null
}

function iso (ms: number): string {
  return new Date(ms).toISOString()
}

/** The next decision for an active rollout, or null when nothing changes. */
export function decide (input: DecideInput): Decision | null {
  const r = input.rollout
  if (!isActive(r)) return null
  const now = input.now
  const figures = figuresOf(r, input.reports)
  const base = { ...r, figures, updatedAt: iso(now) }
  const end = (state: 'reverted' | 'failed', reason: string): Decision => ({
    rollout: { ...base, state, cohort: [], reason },
    ...(input.current === r.version ? { current: r.from } : {}),
    event: { type: state === 'reverted' ? 'rollout-reverted' : 'rollout-failed', id: r.version, from: r.from, reason }
  })
  if (r.state === 'pending') {
    return {
      rollout: { ...base, state: 'canary', cohort: [...r.spec.canaryRegions], canaryAt: iso(now) },
      event: { type: 'rollout-step', id: r.version, reason: `canary in ${r.spec.canaryRegions.join(', ')}` }
    }
  }
  const problem = input.unhealthy != null ? `HealthCheck: ${input.unhealthy}` : slaBreach(r, figures)
  if (problem != null) {
    if (r.spec.autoRevert) return end('reverted', `canary broke its SLA: ${problem}`)
    if (r.state === 'canary') return end('failed', `canary broke its SLA (autoRevert off): ${problem}`)
  }
  const since = Date.parse(r.canaryAt ?? r.startedAt)
  if (r.state === 'canary') {
    const healthy = problem == null && figures.canary.count >= r.spec.sla.minSamples
    if (healthy && now - since >= r.spec.minHealthyTimeMs) {
      if (!r.spec.autoPromote) {
        const reason = 'healthy: waiting for `dcis rollout promote`'
        return r.reason === reason ? null : { rollout: { ...base, reason } }
      }
      return step({ ...base, state: 'promoting' }, input, 'healthy for minHealthyTime')
    }
    if (now - since > r.spec.healthyDeadlineMs) {
      const why = `no verdict within healthyDeadline (${figures.canary.count} of ${r.spec.sla.minSamples} canary invocations needed)`
      return end(r.spec.autoRevert ? 'reverted' : 'failed', why)
    }
    return null
  }
  // promoting
  const all = [...new Set(input.regions)]
  if (all.every(x => r.cohort.includes(x))) {
    return {
      rollout: { ...base, state: 'promoted', cohort: all.sort(), reason: 'promoted to every region' },
      current: r.version,
      event: { type: 'rollout-promoted', id: r.version, from: r.from }
    }
  }
  if (now - Date.parse(r.stepAt ?? r.updatedAt) < r.spec.staggerMs) return null
  return step(base, input, 'stagger elapsed')
}

function step (r: RolloutRecord, input: DecideInput, why: string): Decision {
  const waiting = [...new Set(input.regions)].filter(x => !r.cohort.includes(x)).sort()
  const add = r.spec.maxParallel === 0 ? waiting : waiting.slice(0, r.spec.maxParallel)
  return {
    rollout: { ...r, cohort: [...r.cohort, ...add], stepAt: iso(input.now) },
    event: { type: 'rollout-step', id: r.version, reason: `${why}: ${add.length === 0 ? 'no more regions' : `canary now also in ${add.join(', ')}`}` }
  }
}
