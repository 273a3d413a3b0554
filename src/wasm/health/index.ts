/**
 * Function health checks with rollback (the `HealthCheck` manifest kind).
 * HealthCheck manifests live in the federation catalogue (persisted,
 * federation-wide); every peer knows every check, and exactly one live
 * peer runs each (check, function) pair: the winner of rendezvous hashing
 * over the live peers (docs/catalogue.md). Rollbacks, known-good marks and
 * events are catalogue writes, so every peer sees the current pointer move.
 *
 *   const checks = createHealthChecks({ store, invoker, catalogue, live, logger, metrics })
 *   await checks.start()
 *   manifests.register('HealthCheck', healthCheckManifestHandler(() => checks))
 *   await checks.stop()    // clears every timer
 *
 * A HealthCheck without `spec.function` guards every function of the
 * catalogue that no HealthCheck names explicitly.
 */
import { DefaultHealthChecks } from './checker.js'
import { InvalidFunctionRequestError } from '../store/errors.js'
import type { Catalogue } from '../../catalogue/index.js'
import type { FunctionInvoker, FunctionRoutingMetrics } from '../routing/index.js'
import type { FunctionStore } from '../store/index.js'
import type { KindHandler } from '../../services/manifests/index.js'
import type { Logger } from '../../telemetry/index.js'

export { PROBE_TIMEOUT_MS, ownerOf } from './checker.js'

export interface HealthCheckSpec {
  /** the function probed; absent: every function no other HealthCheck names */
  function?: string
  /**
   * what is probed: `/v1/functions/<function>` (the function's own route,
   * the request body is `request.body` or empty) or any other path such as
   * `/healthz`, sent as the request body (UTF-8) unless `request.body` is given
   */
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
  /** the peer that runs this check now (rendezvous owner among the live peers) */
  runner: string
  /** true when `runner` is this peer */
  runsHere: boolean
  last?: ProbeResult
}

export interface HealthComponents {
  store: FunctionStore
  invoker: Pick<FunctionInvoker, 'runLocal'>
  /** where HealthCheck manifests are kept (federation-wide) */
  catalogue: Catalogue
  /** this peer and the peers it considers live (connected federation members); default: this peer alone */
  live?: () => string[]
  logger?: Logger
  metrics?: FunctionRoutingMetrics
  now?: () => number
}

export interface HealthChecks {
  start(): Promise<void>
  /** stops every timer and waits for running probes */
  stop(): Promise<void>
  /** add or replace the check `name` (a catalogue write: every peer learns of it) */
  apply(name: string, spec: HealthCheckSpec, options?: { labels?: Record<string, string> }): Promise<void>
  /** removes the check from the catalogue */
  remove(name: string): Promise<boolean>
  /** probe now, on this peer, and act on the result (as the owner's timer does); `fn` picks the function of a check without one */
  runOnce(name: string, fn?: string): Promise<ProbeResult>
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
      if (spec.path != null && !spec.path.startsWith('/')) {
        throw new InvalidFunctionRequestError('spec.path', 'must start with "/"')
      }
      if (spec.path?.startsWith('/v1/functions/') === true && (spec.function == null || spec.path !== `/v1/functions/${spec.function}`)) {
        throw new InvalidFunctionRequestError('spec.path', spec.function == null ? 'a /v1/functions/ path needs spec.function' : `must be /v1/functions/${spec.function} (the function probed) when it names a function route`)
      }
    },
    async apply (manifest) {
      const spec = manifest.spec as unknown as HealthCheckSpec
      await checks().apply(manifest.metadata.name, spec, manifest.metadata.labels != null ? { labels: manifest.metadata.labels } : {})
      return {
        function: spec.function ?? '*',
        ...(spec.path != null ? { path: spec.path } : {}),
        intervalSeconds: spec.intervalSeconds,
        failureThreshold: spec.failureThreshold,
        recoveryAction: spec.recoveryAction
      }
    }
  }
}
