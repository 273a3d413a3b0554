/**
 * Traces (issue 14): off by default; `startTracing` loads the OpenTelemetry
 * SDK (dynamic import, so a peer without tracing never loads it) when the
 * config or the OTEL_* variables turn tracing on. Instrumented code uses
 * ./spans.ts only.
 */
import { resolveTracingSettings } from './settings.js'
import type { TracingSettings } from './settings.js'
import type { TelemetryConfig } from '../../config/index.js'
import type { TelemetryContract } from '../contract.js'

export { resolveTracingSettings, parseKeyValues, TracingSettingsError } from './settings.js'
export type { TracingSettings, OtlpProtocol } from './settings.js'
export * from './spans.js'

/** resource attributes of this peer's spans */
export interface TracingResource {
  peerId: string
  region: string
  zone: string
  version: string
}

export interface TracingHandle {
  settings: TracingSettings
  /** exports what is buffered now */
  flush: () => Promise<void>
  /** flushes, shuts the exporter down and unregisters from the API */
  stop: () => Promise<void>
}

/** undefined when tracing is off (nothing loaded) */
export async function startTracing (config: TelemetryConfig, federation: string, resource: TracingResource, env: Record<string, string | undefined> = process.env, contract?: TelemetryContract): Promise<TracingHandle | undefined> {
  const settings = resolveTracingSettings(config, federation, env)
  if (settings == null) return undefined
  const { startSdk } = await import('./sdk.js')
  return await startSdk(settings, resource, contract)
}
