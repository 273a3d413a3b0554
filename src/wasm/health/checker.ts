/**
 * Health checks of functions. The checks are the catalogue's HealthCheck
 * manifests; each (check, function) pair gets a timer on every peer, but
 * only its owner probes: the live peer with the highest rendezvous score
 * sha256(check \n function \n peerId). A probe invokes the function's
 * current version on this peer, compares with `expect` (status, default
 * 200; bodyContains), marks a passing version known-good, and after
 * `failureThreshold` consecutive failures with `recoveryAction: rollback`
 * makes the last known-good version current again. Marks, events and the
 * pointer are catalogue writes, so every peer sees them.
 */
import { createHash } from 'node:crypto'
import { ROUTING_ERROR_STATUS } from '../routing/errors.js'
import type { HealthCheckSpec, HealthCheckStatus, HealthChecks, HealthComponents, ProbeResult } from './index.js'

interface Check {
  key: string
  name: string
  fn: string
  spec: HealthCheckSpec
  specJson: string
  failures: number
  /** an event was already recorded for this failure streak */
  reported: boolean
  timer?: ReturnType<typeof setTimeout>
  running?: Promise<ProbeResult>
  last?: ProbeResult
  controller: AbortController
}

export const PROBE_TIMEOUT_MS = 10_000

/** The peer that runs check `name` on function `fn`: highest sha256(name \n fn \n peer) among `peers`. */
export function ownerOf (name: string, fn: string, peers: readonly string[]): string | undefined {
  let best: string | undefined
  let bestScore = ''
  for (const p of peers) {
    const score = createHash('sha256').update(`${name}\n${fn}\n${p}`).digest('hex')
    if (best == null || score > bestScore || (score === bestScore && p > best)) { best = p; bestScore = score }
  }
  return best
}

function keyOf (name: string, fn: string): string {
  return `${name}\n${fn}`
}

export class DefaultHealthChecks implements HealthChecks {
  private readonly c: HealthComponents
  private readonly checks = new Map<string, Check>()
  private started = false
  private unsubscribe?: () => void

  constructor (components: HealthComponents) {
    this.c = components
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.unsubscribe = this.c.catalogue.onChange(() => { this.reconcile() })
    this.reconcile()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.unsubscribe?.()
    const running: Array<Promise<unknown>> = []
    for (const check of this.checks.values()) {
      clearTimeout(check.timer)
      check.timer = undefined
      check.controller.abort()
      if (check.running != null) running.push(check.running.catch(() => {}))
    }
    this.checks.clear()
    await Promise.all(running)
  }

  async apply (name: string, spec: HealthCheckSpec, options: { labels?: Record<string, string> } = {}): Promise<void> {
    await this.c.catalogue.putManifest({ kind: 'HealthCheck', name, spec: spec as unknown as Record<string, unknown>, ...(options.labels != null ? { labels: options.labels } : {}) })
    this.c.logger?.info({ check: name, function: spec.function ?? '*', intervalSeconds: spec.intervalSeconds }, 'health check applied')
  }

  async remove (name: string): Promise<boolean> {
    return await this.c.catalogue.removeManifest('HealthCheck', name)
  }

  status (): HealthCheckStatus[] {
    return [...this.checks.values()].map(c => {
      const runner = this.owner(c)
      return {
        name: c.name,
        function: c.fn,
        consecutiveFailures: c.failures,
        runner,
        runsHere: runner === this.self(),
        ...(c.last != null ? { last: c.last } : {})
      }
    })
  }

  forFunction (fn: string): HealthCheckStatus[] {
    return this.status().filter(s => s.function === fn)
  }

  async runOnce (name: string, fn?: string): Promise<ProbeResult> {
    this.reconcile()
    const check = fn != null
      ? this.checks.get(keyOf(name, fn))
      : [...this.checks.values()].find(c => c.name === name)
    if (check == null) {
      const m = this.c.catalogue.manifest('HealthCheck', name)
      if (m == null) throw new RangeError(`no health check named ${name}`)
      const target = fn ?? (m.spec as unknown as HealthCheckSpec).function
      // a check whose function is not deployed (anywhere yet): a failing probe, no action
      return { at: this.isoNow(), ok: false, status: 404, reason: target != null ? `function ${target} is not deployed` : 'no function matches this check' }
    }
    if (check.running != null) return await check.running
    check.running = this.probeAndAct(check).finally(() => { check.running = undefined })
    return await check.running
  }

  private self (): string {
    return this.c.catalogue.peerId
  }

  private owner (check: Check): string {
    const live = this.c.live?.() ?? [this.self()]
    return ownerOf(check.name, check.fn, live.includes(this.self()) ? live : [...live, this.self()]) ?? this.self()
  }

  /** the (check, function) pairs the catalogue asks for; timers added, replaced or dropped to match */
  private reconcile (): void {
    if (!this.started) return
    const manifests = this.c.catalogue.manifests('HealthCheck')
    const functions = this.c.catalogue.functions().map(f => f.name)
    const named = new Set<string>()
    for (const m of manifests) {
      const f = (m.spec as unknown as HealthCheckSpec).function
      if (f != null) named.add(f)
    }
    const wanted = new Map<string, { name: string, fn: string, spec: HealthCheckSpec, json: string }>()
    for (const m of manifests) {
      const spec = m.spec as unknown as HealthCheckSpec
      const json = JSON.stringify(spec)
      // with a function: that function (deployed or not: the probe says so);
      // without: every function that no check names
      const targets = spec.function != null ? [spec.function] : functions.filter(f => !named.has(f))
      for (const fn of targets) wanted.set(keyOf(m.name, fn), { name: m.name, fn, spec, json })
    }
    for (const [key, check] of this.checks) {
      const w = wanted.get(key)
      if (w == null || w.json !== check.specJson) {
        clearTimeout(check.timer)
        check.controller.abort()
        this.checks.delete(key)
      }
    }
    for (const [key, w] of wanted) {
      if (this.checks.has(key)) continue
      const check: Check = { key, name: w.name, fn: w.fn, spec: w.spec, specJson: w.json, failures: 0, reported: false, controller: new AbortController() }
      this.checks.set(key, check)
      this.schedule(check)
    }
  }

  private schedule (check: Check): void {
    if (!this.started || check.controller.signal.aborted) return
    check.timer = setTimeout(() => {
      check.timer = undefined
      if (this.owner(check) !== this.self()) {
        // another live peer runs it; a streak seen here is stale once it moves back
        check.failures = 0
        check.reported = false
        this.schedule(check)
        return
      }
      this.runOnce(check.name, check.fn).catch((err: unknown) => {
        this.c.logger?.warn({ err, check: check.name, function: check.fn }, 'health check run failed')
      }).finally(() => {
        if (this.checks.get(check.key) === check) this.schedule(check)
      })
    }, Math.round(check.spec.intervalSeconds * 1000))
    check.timer.unref?.()
  }

  private probeInput (spec: HealthCheckSpec): Uint8Array {
    if (spec.request?.body != null) return new TextEncoder().encode(spec.request.body)
    if (spec.path != null && !spec.path.startsWith('/v1/functions/')) return new TextEncoder().encode(spec.path)
    return new Uint8Array(0)
  }

  /** one probe of the current version, without acting on it */
  private async probe (check: Check): Promise<ProbeResult> {
    const at = this.isoNow()
    const ref = this.c.store.resolve(check.fn)
    if (ref == null) return { at, ok: false, status: 404, reason: `function ${check.fn} is not deployed` }
    const v = ref.version
    const expectStatus = check.spec.expect?.status ?? 200
    const signal = AbortSignal.any([check.controller.signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)])
    let status: number
    let text = ''
    let detail = ''
    try {
      const r = await this.c.invoker.runLocal({ id: v.id, name: ref.name, spec: { abi: v.abi, limits: v.limits, env: v.env, grants: v.grants, warmPoolSize: v.warmPoolSize } }, this.probeInput(check.spec), { signal, caller: 'health-check' }, 'local')
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
    const fn = check.fn
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
    // a rollout's canary (served here, not current): the verdict goes to the catalogue as an
    // `unhealthy` event about the canary; the rollout's driver reverts it, once, for every peer
    if (check.spec.recoveryAction !== 'rollback' || result.id !== rec.current) {
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

  private isoNow (): string {
    return new Date(this.c.now?.() ?? Date.now()).toISOString()
  }
}
