/**
 * Function health checks with rollback (the `HealthCheck` manifest kind).
 *
 *   const checks = createHealthChecks({ store, invoker, logger, metrics })
 *   await checks.start()
 *   manifests.register('HealthCheck', healthCheckManifestHandler(() => checks))
 *   await checks.stop()    // clears every timer
 */
import { DefaultHealthChecks } from './checker.js'
import { InvalidFunctionRequestError } from '../store/errors.js'
import type { FunctionInvoker, FunctionRoutingMetrics } from '../routing/index.js'
import type { FunctionStore } from '../store/index.js'
import type { KindHandler } from '../../services/manifests/index.js'
import type { Logger } from '../../telemetry/index.js'

export { PROBE_TIMEOUT_MS } from './checker.js'

export interface HealthCheckSpec {
  function: string
  path?: string
  intervalSeconds: number
  failureThreshold: number
  recoveryAction: 'rollback' | 'none'
  request?: { body?: string }
  expect?: { status?: number, bodyContains?: string }
}

export interface ProbeResult {
  at: string
  ok: boolean
  /** the HTTP status the invocation would have had */
  status: number
  id?: string
  version?: number
  reason?: string
  /** set on the probe that triggered a rollback */
  rolledBackTo?: string
}

export interface HealthCheckStatus {
  name: string
  function: string
  consecutiveFailures: number
  last?: ProbeResult
}

export interface HealthComponents {
  store: FunctionStore
  invoker: Pick<FunctionInvoker, 'runLocal'>
  logger?: Logger
  metrics?: FunctionRoutingMetrics
  now?: () => number
}

export interface HealthChecks {
  start(): Promise<void>
  /** stops every timer and waits for running probes */
  stop(): Promise<void>
  /** add or replace the check `name` */
  apply(name: string, spec: HealthCheckSpec): void
  remove(name: string): boolean
  /** probe now and act on the result (as the timer does) */
  runOnce(name: string): Promise<ProbeResult>
  status(): HealthCheckStatus[]
  forFunction(fn: string): HealthCheckStatus[]
}

export function createHealthChecks (components: HealthComponents): HealthChecks {
  return new DefaultHealthChecks(components)
}

/** The `HealthCheck` kind for the manifest dispatcher (role deploy). */
export function healthCheckManifestHandler (checks: () => HealthChecks): KindHandler {
  return {
    role: 'deploy',
    check (manifest) {
      const spec = manifest.spec as unknown as HealthCheckSpec
      if (spec.path != null && spec.path !== `/v1/functions/${spec.function}`) {
        throw new InvalidFunctionRequestError('spec.path', `must be /v1/functions/${spec.function} (the function probed) when given`)
      }
    },
    async apply (manifest) {
      const spec = manifest.spec as unknown as HealthCheckSpec
      checks().apply(manifest.metadata.name, spec)
      return { function: spec.function, intervalSeconds: spec.intervalSeconds, failureThreshold: spec.failureThreshold, recoveryAction: spec.recoveryAction }
    }
  }
}
