/**
 * Wasm runtime: sandboxed, limited execution of content-addressed functions
 * (WASI preview1 commands or `reactor` modules, see docs/wasm-abi.md) in a
 * pool of worker threads with warm instances.
 *
 *   const rt = createWasmRuntime({ workers: 2, logger, metrics })
 *   await rt.start()
 *   await rt.load({ id: cid, name: 'echo', abi: 'wasi', bytes })
 *   const { output } = await rt.invoke(cid, input, { signal })
 *   await rt.stop()
 */
import { Runtime } from './runtime.js'
import type { FunctionSpec } from './spec.js'
import type { HostInterface } from './host-calls.js'
import type { Logger, MetricsRegistry } from '../telemetry/index.js'

export type { Abi } from './abi.js'
export { DCIS_MODULE, WASI_MODULE } from './abi.js'
export type { FunctionSpec, FunctionLimits, FunctionGrants, DataGrants, ServiceAccess } from './spec.js'
export { HOST_STATUS, HostCallError, HOST_OPS } from './host-calls.js'
export type { HostCall, HostInterface } from './host-calls.js'
export { validateModule, DEFAULT_MAX_MODULE_BYTES } from './validate.js'
export type { ValidatedModule, ValidateOptions } from './validate.js'
export * from './errors.js'

export interface WasmRuntimeInit {
  /** worker threads (default: min(4, cores - 1), at least 1); each runs one invocation at a time */
  workers?: number
  /** invocations waiting for a worker across all functions (default 256); beyond it OverloadedError('peer') */
  maxQueue?: number
  /** module size limit (default 5 MiB) */
  maxModuleBytes?: number
  /**
   * invocations (running + queued, all functions) one caller may have in the
   * runtime at once (default unlimited); beyond it OverloadedError('caller')
   */
  maxPerCaller?: number
  /** request bytes accepted by invoke (default 16 MiB); beyond it InputTooLargeError */
  maxInputBytes?: number
  /** compiled modules kept in the cache (default 256) */
  maxCachedModules?: number
  logger?: Logger
  metrics?: MetricsRegistry
  /** V8 heap limits of each worker (the host side; wasm memory is bounded per function) */
  workerResourceLimits?: { maxOldGenerationSizeMb?: number, maxYoungGenerationSizeMb?: number, stackSizeMb?: number }
  /** start the worker threads with the first function loaded, not at start() (default true) */
  lazyWorkers?: boolean
  /** the host interface functions call (services, sinks, caches); read per call, so it may be wired after the runtime */
  host?: () => HostInterface | undefined
}

export interface InvokeOptions {
  /** aborts a queued invocation, or terminates (and replaces) the worker running it */
  signal?: AbortSignal
  /** who asks (e.g. the remote peer id of a forwarded call), for maxPerCaller */
  caller?: string
  /**
   * the invoking caller's bearer token: host calls carry it to the peer that
   * serves the data (re-authorised there like any forwarded call; never sent
   * to the worker)
   */
  token?: string
  /**
   * the grants of the function name being invoked (its manifest's
   * `grants`; only services, caches and sinks are used): host calls of this
   * invocation are checked against them, so two names deployed with the
   * same bytes keep their own data grants. Default: the grants of the spec
   * the module was last loaded with. env, clock and random stay per loaded
   * module (they shape the instance).
   */
  grants?: Record<string, unknown>
}

export interface InvokeResult {
  output: Uint8Array
  /** captured stderr / dcis.log text (bounded, truncated with a marker) */
  stderr: string
  exitCode: number
  /** execution time inside the worker, ms */
  durationMs: number
  /** time spent waiting for a worker, ms */
  queuedMs: number
  /** true when no warm instance was ready and one was created for this call */
  coldStart: boolean
}

/** where the time of a load went (ms) */
export interface LoadInfo {
  id: string
  /** the compiled module came from the cache */
  cached: boolean
  /** spec checks, parsing, ABI checks, limit rewriting */
  validateMs: number
  /** WebAssembly.compile (includes the engine's validation) */
  compileMs: number
  /** posting the module to the workers until the first has its warm instances */
  warmMs: number
  totalMs: number
}

export interface FunctionStats {
  id: string
  name: string
  abi: string
  invocations: number
  errors: number
  timeouts: number
  coldStarts: number
  overloads: number
  inflight: number
  queued: number
}

export interface RuntimeStats {
  status: string
  workers: { total: number, idle: number, busy: number, starting: number, replacements: number }
  queued: number
  maxQueue: number
  cache: { modules: number, hits: number, misses: number }
  functions: FunctionStats[]
}

export interface WasmRuntime {
  start(): Promise<void>
  stop(): Promise<void>
  /**
   * Validate, compile (cached by id) and load into every worker. Resolves
   * as soon as one worker has it warm (the others finish in the
   * background); rejects if that first worker fails. A later failure in
   * another worker unloads it again (or restores the version loaded before).
   */
  load(spec: FunctionSpec, options?: { signal?: AbortSignal }): Promise<LoadInfo>
  /** forget a function; queued invocations fail with FunctionNotFoundError */
  unload(id: string): void
  has(id: string): boolean
  invoke(id: string, input: Uint8Array, options?: InvokeOptions): Promise<InvokeResult>
  /**
   * Whether an invocation of `id` would start now, wait in the queue, or be
   * refused: for routing (run here, or forward to a peer with room).
   */
  capacity(id: string): Capacity
  stats(): RuntimeStats
}

export interface Capacity {
  /** 'now': a worker is free and the function is under its limit; 'queue': it would wait; 'full': OverloadedError; 'unknown': not loaded */
  state: 'now' | 'queue' | 'full' | 'unknown'
  idleWorkers: number
  queued: number
  maxQueue: number
  function?: { inflight: number, queued: number, maxConcurrency: number, maxQueue: number }
}

export function createWasmRuntime (init: WasmRuntimeInit = {}): WasmRuntime {
  return new Runtime(init)
}
