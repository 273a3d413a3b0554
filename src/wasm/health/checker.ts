/**
 * Health checks of functions: each HealthCheck probes its function's
 * current version every `intervalSeconds` with `request.body` (run on this
 * peer), compares with `expect` (status, default 200; bodyContains), marks
 * a passing version known-good, and after `failureThreshold` consecutive
 * failures with `recoveryAction: rollback` makes the last known-good
 * version current again (an event with the reason, a log line, a metric).
 */
import { ROUTING_ERROR_STATUS } from '../routing/errors.js'
import type { HealthCheckSpec, HealthCheckStatus, HealthChecks, HealthComponents, ProbeResult } from './index.js'

interface Check {
  name: string
  spec: HealthCheckSpec
  failures: number
  /** an event was already recorded for this failure streak */
  reported: boolean
  timer?: ReturnType<typeof setTimeout>
  running?: Promise<ProbeResult>
  last?: ProbeResult
  controller: AbortController
}

export const PROBE_TIMEOUT_MS = 10_000

export class DefaultHealthChecks implements HealthChecks {
  private readonly c: HealthComponents
  private readonly checks = new Map<string, Check>()
  private started = false

  constructor (components: HealthComponents) {
    this.c = components
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    for (const check of this.checks.values()) this.schedule(check)
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    const running: Array<Promise<unknown>> = []
    for (const check of this.checks.values()) {
      clearTimeout(check.timer)
      check.timer = undefined
      check.controller.abort()
      if (check.running != null) running.push(check.running.catch(() => {}))
    }
    await Promise.all(running)
  }

  apply (name: string, spec: HealthCheckSpec): void {
    this.remove(name)
    const check: Check = { name, spec, failures: 0, reported: false, controller: new AbortController() }
    this.checks.set(name, check)
    if (this.started) this.schedule(check)
    this.c.logger?.info({ check: name, function: spec.function, intervalSeconds: spec.intervalSeconds }, 'health check applied')
  }

  remove (name: string): boolean {
    const check = this.checks.get(name)
    if (check == null) return false
    clearTimeout(check.timer)
    check.controller.abort()
    this.checks.delete(name)
    return true
  }

  status (): HealthCheckStatus[] {
    return [...this.checks.values()].map(c => ({
      name: c.name,
      function: c.spec.function,
      consecutiveFailures: c.failures,
      ...(c.last != null ? { last: c.last } : {})
    }))
  }

  forFunction (fn: string): HealthCheckStatus[] {
    return this.status().filter(s => s.function === fn)
  }

  async runOnce (name: string): Promise<ProbeResult> {
    const check = this.checks.get(name)
    if (check == null) throw new RangeError(`no health check named ${name}`)
    if (check.running != null) return await check.running
    check.running = this.probeAndAct(check).finally(() => { check.running = undefined })
    return await check.running
  }

  private schedule (check: Check): void {
    if (!this.started || check.controller.signal.aborted) return
    check.timer = setTimeout(() => {
      check.timer = undefined
      this.runOnce(check.name).catch((err: unknown) => {
        this.c.logger?.warn({ err, check: check.name }, 'health check run failed')
      }).finally(() => {
        if (this.checks.get(check.name) === check) this.schedule(check)
      })
    }, Math.round(check.spec.intervalSeconds * 1000))
    check.timer.unref?.()
  }

  /** one probe of the current version, without acting on it */
  private async probe (check: Check): Promise<ProbeResult> {
    const at = new Date(this.c.now?.() ?? Date.now()).toISOString()
    const ref = this.c.store.resolve(check.spec.function)
    if (ref == null) return { at, ok: false, status: 404, reason: `function ${check.spec.function} is not deployed on this peer` }
    const v = ref.version
    const expectStatus = check.spec.expect?.status ?? 200
    const body = new TextEncoder().encode(check.spec.request?.body ?? '')
    const signal = AbortSignal.any([check.controller.signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)])
    let status: number
    let text = ''
    let detail = ''
    try {
      const r = await this.c.invoker.runLocal({ id: v.id, name: ref.name, spec: { abi: v.abi, limits: v.limits, env: v.env, grants: v.grants, warmPoolSize: v.warmPoolSize } }, body, { signal, caller: 'health-check' }, 'local')
      status = 200
      text = new TextDecoder().decode(r.output)
    } catch (err) {
      if (check.controller.signal.aborted) throw err
      status = ROUTING_ERROR_STATUS[(err as Error).name] ?? 500
      detail = `${(err as Error).name}: ${(err as Error).message}`.slice(0, 300)
    }
    const base = { at, id: v.id, version: v.version, status }
    if (status !== expectStatus) {
      return { ...base, ok: false, reason: `status ${status}, expected ${expectStatus}${detail !== '' ? ` (${detail})` : ''}` }
    }
    const needle = check.spec.expect?.bodyContains
    if (needle != null && !text.includes(needle)) {
      return { ...base, ok: false, reason: `body does not contain ${JSON.stringify(needle)}` }
    }
    return { ...base, ok: true }
  }

  private async probeAndAct (check: Check): Promise<ProbeResult> {
    const result = await this.probe(check)
    check.last = result
    const fn = check.spec.function
    this.c.metrics?.healthChecks.inc({ function: fn, result: result.ok ? 'pass' : 'fail' })
    if (result.ok) {
      if (check.failures > 0) this.c.logger?.info({ check: check.name, function: fn, afterFailures: check.failures }, 'health check passes again')
      check.failures = 0
      check.reported = false
      if (result.id != null) await this.c.store.markKnownGood(fn, result.id)
      return result
    }
    check.failures++
    this.c.logger?.warn({ check: check.name, function: fn, id: result.id, failures: check.failures, threshold: check.spec.failureThreshold, reason: result.reason }, 'health check failed')
    if (check.failures < check.spec.failureThreshold || result.id == null) return result
    const rec = this.c.store.get(fn)
    if (rec == null) return result
    const reason = `${check.failures} consecutive failed health checks (${check.name}): ${result.reason ?? ''}`
    if (check.spec.recoveryAction !== 'rollback') {
      if (!check.reported) {
        check.reported = true
        await this.c.store.recordEvent(fn, { type: 'unhealthy', version: result.version, id: result.id, reason })
      }
      return result
    }
    const target = rec.versions
      .filter(v => v.knownGood && v.id !== rec.current)
      .sort((a, b) => b.version - a.version)[0]
    if (target == null) {
      if (!check.reported) {
        check.reported = true
        await this.c.store.recordEvent(fn, { type: 'rollback-impossible', version: result.version, id: result.id, reason: `${reason}; no known-good version to roll back to` })
        this.c.logger?.error({ function: fn, id: result.id }, 'health checks fail and no known-good version exists')
      }
      return result
    }
    await this.c.store.setCurrent(fn, target.id, { type: 'rollback', version: target.version, id: target.id, from: rec.current, reason })
    this.c.metrics?.rollbacks.inc({ function: fn })
    this.c.logger?.warn({ function: fn, from: rec.current, to: target.id, version: target.version, reason }, 'function rolled back to its last known-good version')
    check.failures = 0
    check.reported = false
    return { ...result, rolledBackTo: target.id }
  }
}
