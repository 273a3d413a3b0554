/**
 * The Wasm runtime: validates and compiles functions (once, cached by id),
 * keeps them loaded in every worker with warm instances, and admits
 * invocations under per-function and per-peer limits with a bounded queue.
 */
import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'
import { AbortedError, InputTooLargeError, FunctionFailedError, FunctionNotFoundError, FunctionTimeoutError, FunctionTrapError, InvalidModuleError, OutputTooLargeError, OverloadedError, PeerOverloadedError, RuntimeStoppedError, WasmError, WorkerCrashedError } from './errors.js'
import { createWasmMetrics } from './metrics.js'
import { ModuleCache } from './module-cache.js'
import { WorkerPool } from './pool.js'
import { normalizeDataGrants, normalizeSpec } from './spec.js'
import { DEFAULT_MAX_STDERR_BYTES } from './host-io.js'
import { validateModule } from './validate.js'
import { encodeCacheMany, HostCallError } from './host-calls.js'
import type { HostCall, HostCallAuth, HostInterface } from './host-calls.js'
import type { DataGrants, FunctionSpec, NormalizedSpec } from './spec.js'
import type { Capacity, InvokeOptions, InvokeResult, LoadInfo, RuntimeStats, WasmRuntime, WasmRuntimeInit, FunctionStats } from './index.js'
import type { WasmMetrics } from './metrics.js'
import type { LoadRequest } from './messages.js'
import type { JobResult, Slot } from './pool.js'
import type { Logger } from '../telemetry/index.js'

interface LoadedFn {
  spec: NormalizedSpec
  module: WebAssembly.Module
  inflight: number
  queued: number
  /** set when warming timed out in a worker: later workers load it cold */
  warmDisabled: boolean
  stats: FunctionStats
}

interface Pending {
  fn: LoadedFn
  input: Uint8Array
  signal?: AbortSignal
  /** the caller's token, for the invocation's host calls */
  token?: string
  onAbort?: () => void
  enqueuedAt: number
  /** the invoked name's data grants (options.grants), else the loaded spec's apply */
  grants?: DataGrants
  resolve: (r: InvokeResult) => void
  reject: (e: Error) => void
}

const EMPTY = new Uint8Array(0)

/** least privilege: throws DENIED unless the spec grants this call */
export function checkGrant (grants: DataGrants, call: HostCall): void {
  switch (call.op) {
    case 'kv_get':
    case 'counter_get': {
      const a = grants.services[call.service]
      if (a !== 'read' && a !== 'read-write') throw new HostCallError('DENIED', `${call.op}: the function has no read grant on service ${call.service}`)
      return
    }
    case 'kv_put':
    case 'counter_add':
    case 'counters_add':
    case 'log_append_many':
    case 'log_append': {
      const a = grants.services[call.service]
      if (a !== 'write' && a !== 'read-write') throw new HostCallError('DENIED', `${call.op}: the function has no write grant on service ${call.service}`)
      return
    }
    case 'sink_emit':
      if (!grants.sinks.includes(call.sink)) throw new HostCallError('DENIED', `sink_emit: the function has no grant on sink ${call.sink}`)
      return
    case 'cache_get':
    case 'cache_get_many':
      if (!grants.caches.includes(call.cache)) throw new HostCallError('DENIED', `${call.op}: the function has no grant on cache ${call.cache}`)
  }
}

/** maps the node's typed errors (by code) to what the function sees */
function hostErrorOf (err: unknown): HostCallError {
  if (err instanceof HostCallError) return err
  const code = (err as { code?: unknown })?.code
  const message = (err as Error)?.message ?? String(err)
  switch (code) {
    case 'SERVICE_NOT_FOUND': case 'KEY_NOT_FOUND': case 'CACHE_NOT_FOUND': case 'SINK_NOT_FOUND': return new HostCallError('NOT_FOUND', message)
    case 'SERVICE_UNAVAILABLE': case 'BACKEND_UNAVAILABLE': case 'CACHE_BACKEND_UNAVAILABLE': return new HostCallError('UNAVAILABLE', message)
    case 'OPERATION_NOT_SUPPORTED': return new HostCallError('UNSUPPORTED', message)
    case 'REGION_DENIED': return new HostCallError('DENIED', message)
    case 'CRDT_INVALID_ARGUMENT': case 'INVALID_ARGUMENT': return new HostCallError('INVALID', message)
    case 'ABORT_ERR': case 'TIMEOUT_ERR': return new HostCallError('TIMEOUT', message)
    default: return new HostCallError('FAILED', message)
  }
}

export class Runtime implements WasmRuntime {
  private readonly pool: WorkerPool
  private readonly functions = new Map<string, LoadedFn>()
  private readonly queue: Pending[] = []
  private readonly cache: ModuleCache
  private readonly log?: Logger
  private readonly metrics?: WasmMetrics
  private readonly workers: number
  private readonly maxQueue: number
  private readonly maxModuleBytes?: number
  private readonly maxInputBytes: number
  private readonly maxPerCaller: number
  private readonly callers = new Map<string, number>()
  private status: 'stopped' | 'starting' | 'started' | 'stopping' = 'stopped'
  /** the worker pool starts with the first function loaded, not with the runtime */
  private poolStarting?: Promise<void>
  private readonly lazy: boolean
  private readonly host?: () => HostInterface | undefined

  constructor (init: WasmRuntimeInit = {}) {
    this.lazy = init.lazyWorkers ?? true
    this.host = init.host
    this.workers = init.workers ?? Math.max(1, Math.min(4, availableParallelism() - 1))
    if (!Number.isInteger(this.workers) || this.workers < 1 || this.workers > 256) throw new WasmError('INVALID_SPEC', 'workers must be an integer between 1 and 256')
    this.maxQueue = init.maxQueue ?? 256
    this.maxModuleBytes = init.maxModuleBytes
    this.maxInputBytes = init.maxInputBytes ?? 16 * 1024 * 1024
    this.maxPerCaller = init.maxPerCaller ?? Infinity
    this.log = init.logger
    this.metrics = init.metrics !== undefined ? createWasmMetrics(init.metrics) : undefined
    this.cache = new ModuleCache(init.maxCachedModules)
    this.pool = new WorkerPool({
      size: this.workers,
      log: this.log,
      onIdle: () => { this.pump() },
      replay: () => [...this.functions.values()].map(fn => ({
        request: this.loadRequest(fn),
        timeoutMs: fn.spec.timeoutMs,
        onTimeout: () => { fn.warmDisabled = true }
      })),
      onReplaced: () => { this.metrics?.workerReplacements.inc() },
      resourceLimits: init.workerResourceLimits,
      hostCall: async (id, call, signal, auth, grants) => this.hostCall(id, call, signal, auth, grants)
    })
  }

  get state (): string {
    return this.status
  }

  async start (): Promise<void> {
    if (this.status === 'started' || this.status === 'starting') return
    this.status = 'starting'
    try {
      // a peer with no functions keeps no worker threads (each costs
      // memory and a V8 isolate): they start when the first function loads
      if (!this.lazy) await this.ensurePool()
      this.status = 'started'
    } catch (err) {
      this.status = 'stopped'
      throw err
    }
  }

  private async ensurePool (): Promise<void> {
    this.poolStarting ??= this.pool.start().catch((err: unknown) => {
      this.poolStarting = undefined
      throw err
    })
    await this.poolStarting
  }

  async stop (): Promise<void> {
    if (this.status === 'stopped' || this.status === 'stopping') return
    this.status = 'stopping'
    for (const p of this.queue.splice(0)) this.rejectPending(p, new RuntimeStoppedError())
    for (const fn of this.functions.values()) fn.queued = 0
    this.metrics?.queued.set(0)
    await this.poolStarting?.catch(() => {})
    this.poolStarting = undefined
    await this.pool.stop()
    this.functions.clear()
    this.status = 'stopped'
  }

  private loadRequest (fn: LoadedFn): Omit<LoadRequest, 'job'> {
    const s = fn.spec
    return {
      type: 'load',
      id: s.id,
      abi: s.abi,
      module: fn.module,
      maxOutputBytes: s.maxOutputBytes,
      maxStderrBytes: DEFAULT_MAX_STDERR_BYTES,
      env: s.env,
      clock: s.clock,
      random: s.random,
      warm: fn.warmDisabled ? 0 : s.warmPoolSize,
      timeoutMs: s.timeoutMs
    }
  }

  /**
   * A host call of function `id` (main thread): checked against the grants
   * of its spec (least privilege: nothing that is not granted), then run on
   * the node's host interface. Errors reach the function as a status.
   */
  private async hostCall (id: string, call: HostCall, signal: AbortSignal, auth: HostCallAuth = {}, grants?: DataGrants): Promise<Uint8Array> {
    const fn = this.functions.get(id)
    if (fn === undefined) throw new HostCallError('FAILED', `function ${id} is not loaded`)
    try {
      checkGrant(grants ?? fn.spec.data, call)
    } catch (err) {
      this.metrics?.hostCallErrors.inc({ op: call.op })
      throw err
    }
    this.metrics?.hostCalls.inc({ op: call.op })
    const host = this.host?.()
    const missing = (): never => { throw new HostCallError('UNSUPPORTED', `${call.op} is not available on this peer`) }
    const enc = new TextEncoder()
    try {
      switch (call.op) {
        case 'kv_get': {
          const v = await (host?.kvGet ?? missing)(call.service, call.key, signal, auth)
          if (v === undefined) throw new HostCallError('NOT_FOUND', `no key ${JSON.stringify(call.key)} in service ${call.service}`)
          return enc.encode(v)
        }
        case 'kv_put': await (host?.kvPut ?? missing)(call.service, call.key, call.value, signal, auth); return EMPTY
        case 'counter_add': return enc.encode(String(await (host?.counterAdd ?? missing)(call.service, call.key, call.delta, signal, auth)))
        case 'counter_get': return enc.encode(String(await (host?.counterGet ?? missing)(call.service, call.key, signal, auth)))
        case 'counters_add': await (host?.countersAdd ?? missing)(call.service, call.entries, signal, auth); return EMPTY
        case 'log_append': return enc.encode(await (host?.logAppend ?? missing)(call.service, call.key, call.value, signal, auth))
        case 'log_append_many': return enc.encode(await (host?.logAppendMany ?? missing)(call.service, call.key, call.values, signal, auth))
        case 'sink_emit': await (host?.sinkEmit ?? missing)(call.sink, call.record, signal, auth); return EMPTY
        case 'cache_get': {
          const v = await (host?.cacheGet ?? missing)(call.cache, call.key, signal, auth)
          if (v === undefined) throw new HostCallError('NOT_FOUND', `no entry ${JSON.stringify(call.key)} in cache ${call.cache}`)
          return v
        }
        case 'cache_get_many': {
          const many = host?.cacheGetMany
          const one = host?.cacheGet
          const values = many != null
            ? await many(call.cache, call.keys, signal, auth)
            : await Promise.all(call.keys.map(async k => (one ?? missing)(call.cache, k, signal, auth)))
          return encodeCacheMany(values)
        }
      }
    } catch (err) {
      this.metrics?.hostCallErrors.inc({ op: call.op })
      throw hostErrorOf(err)
    }
  }

  async load (input: FunctionSpec, options: { signal?: AbortSignal } = {}): Promise<LoadInfo> {
    if (this.status !== 'started') throw new RuntimeStoppedError()
    const t0 = performance.now()
    const spec = normalizeSpec(input, { maxConcurrency: this.workers })
    // WebAssembly.compile validates exactly like WebAssembly.validate, so
    // the engine pass is left to it; structure and ABI checks run here
    const validated = validateModule(spec.bytes, { abi: spec.abi, memoryMb: spec.memoryMb, maxModuleBytes: this.maxModuleBytes, engineValidate: false })
    const t1 = performance.now()
    let module = this.cache.get(spec.id, validated.memoryPages)
    const cached = module !== undefined
    if (module === undefined) {
      try {
        module = await WebAssembly.compile(validated.bytes as Uint8Array<ArrayBuffer>)
      } catch (err) {
        throw new InvalidModuleError(`compilation failed: ${(err as Error).message}`)
      }
      this.cache.set(spec.id, validated.memoryPages, module)
    }
    if (options.signal?.aborted === true) throw new AbortedError('load aborted')
    if (this.status !== 'started') throw new RuntimeStoppedError()
    await this.ensurePool()
    if (this.status !== 'started') throw new RuntimeStoppedError()
    // a reload of the same id updates the entry in place, so invocations
    // in flight or queued keep counting against the same limits
    const existing = this.functions.get(spec.id)
    const previous = existing !== undefined ? { spec: existing.spec, module: existing.module, warmDisabled: existing.warmDisabled } : undefined
    const fn: LoadedFn = existing ?? {
      spec,
      module,
      inflight: 0,
      queued: 0,
      warmDisabled: false,
      stats: { id: spec.id, name: spec.name, abi: spec.abi, invocations: 0, errors: 0, timeouts: 0, coldStarts: 0, overloads: 0, inflight: 0, queued: 0 }
    }
    fn.spec = spec
    fn.module = module
    fn.warmDisabled = false
    fn.stats.name = spec.name
    this.functions.set(spec.id, fn)
    const t2 = performance.now()
    // the function serves as soon as one worker has it warm (an idle worker
    // has always finished its control jobs); the others finish in the
    // background, and a failure there still unloads it
    const perWorker = this.pool.broadcastEach(this.loadRequest(fn), spec.timeoutMs, `load ${spec.id}`)
      .map(p => p.then(r => r.ok ? null : new FunctionTrapError(r.message, r.stderr) as Error, (err: Error) => {
        return err instanceof FunctionTimeoutError ? new FunctionTimeoutError(spec.id, spec.timeoutMs) : err
      }))
    const onFailure = (failure: Error): void => {
      this.log?.warn({ function: spec.id, err: failure.message }, 'function failed to load')
      if (this.functions.get(spec.id) !== fn || fn.spec !== spec) return // superseded meanwhile
      if (previous !== undefined) {
        // keep serving the version that was loaded before
        Object.assign(fn, previous)
        // broadcast settles every slot (allSettled): it does not reject
        this.pool.broadcast(this.loadRequest(fn), fn.spec.timeoutMs, `reload ${spec.id}`).catch(() => {})
      } else {
        this.unload(spec.id)
      }
    }
    const first = perWorker.length === 0 ? new WorkerCrashedError('no worker is running (they keep failing to start)') : await Promise.race(perWorker)
    const t3 = performance.now()
    if (first !== null) {
      onFailure(first)
      throw first
    }
    Promise.all(perWorker).then(outcomes => {
      const failure = outcomes.find(o => o !== null)
      if (failure != null) onFailure(failure)
    }).catch((err: unknown) => { this.log?.warn({ function: spec.id, err: (err as Error)?.message }, 'background load of a function failed') })
    const info: LoadInfo = { id: spec.id, cached, validateMs: t1 - t0, compileMs: t2 - t1, warmMs: t3 - t2, totalMs: t3 - t0 }
    this.log?.debug({ function: spec.id, name: spec.name, abi: spec.abi, ...info }, 'function loaded')
    return info
  }

  unload (id: string): void {
    const fn = this.functions.get(id)
    if (fn === undefined) return
    this.functions.delete(id)
    // the compiled module stays in the (bounded) cache: a rollback to this
    // version, or a redeploy, does not compile again
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (this.queue[i].fn === fn) {
        const [p] = this.queue.splice(i, 1)
        this.rejectPending(p, new FunctionNotFoundError(id))
      }
    }
    fn.queued = 0
    this.metrics?.queued.set(this.queue.length)
    if (this.status === 'started') this.pool.broadcast({ type: 'unload', id }, 5000, `unload ${id}`).catch(() => {}) // allSettled: does not reject
  }

  has (id: string): boolean {
    return this.functions.has(id)
  }

  invoke (id: string, input: Uint8Array, options: InvokeOptions = {}): Promise<InvokeResult> {
    if (this.status !== 'started') return Promise.reject(new RuntimeStoppedError())
    const fn = this.functions.get(id)
    if (fn === undefined) return Promise.reject(new FunctionNotFoundError(id))
    if (!(input instanceof Uint8Array)) return Promise.reject(new WasmError('INVALID_SPEC', 'input must be a Uint8Array'))
    if (input.byteLength > this.maxInputBytes) return Promise.reject(new InputTooLargeError(input.byteLength, this.maxInputBytes))
    if (options.signal?.aborted === true) return Promise.reject(new AbortedError())
    if (this.pool.live() === 0) return Promise.reject(new WorkerCrashedError('no worker is running (they keep failing to start)'))
    let grants: DataGrants | undefined
    if (options.grants !== undefined) {
      try {
        grants = normalizeDataGrants(options.grants)
      } catch (err) {
        return Promise.reject(err)
      }
    }
    const caller = options.caller
    if (caller !== undefined && (this.callers.get(caller) ?? 0) >= this.maxPerCaller) {
      fn.stats.overloads++
      this.metrics?.invocations.inc({ function: fn.spec.name, outcome: 'overloaded' })
      return Promise.reject(new OverloadedError('caller', `caller ${caller} already has ${this.maxPerCaller} invocations in this runtime`))
    }
    return new Promise<InvokeResult>((outerResolve, outerReject) => {
      let resolve = outerResolve
      let reject = outerReject
      if (caller !== undefined) {
        this.callers.set(caller, (this.callers.get(caller) ?? 0) + 1)
        let released = false
        const release = (): void => {
          if (released) return
          released = true
          const n = (this.callers.get(caller) ?? 1) - 1
          if (n <= 0) this.callers.delete(caller)
          else this.callers.set(caller, n)
        }
        resolve = (r) => { release(); outerResolve(r) }
        reject = (e) => { release(); outerReject(e) }
      }
      const p: Pending = { fn, input, signal: options.signal, ...(options.token !== undefined ? { token: options.token } : {}), enqueuedAt: performance.now(), resolve, reject, ...(grants !== undefined ? { grants } : {}) }
      if (fn.inflight < fn.spec.maxConcurrency) {
        const slot = this.pool.idleSlot()
        if (slot !== undefined && this.queue.length === 0) {
          this.dispatch(slot, p)
          return
        }
      }
      if (fn.queued >= fn.spec.maxQueue) {
        fn.stats.overloads++
        this.metrics?.invocations.inc({ function: fn.spec.name, outcome: 'overloaded' })
        reject(new OverloadedError('function', `function ${id} has ${fn.inflight} running and ${fn.queued} queued (limits ${fn.spec.maxConcurrency} + ${fn.spec.maxQueue})`))
        return
      }
      if (this.queue.length >= this.maxQueue) {
        fn.stats.overloads++
        this.metrics?.invocations.inc({ function: fn.spec.name, outcome: 'overloaded' })
        reject(new PeerOverloadedError(`the runtime queue is full (${this.maxQueue})`))
        return
      }
      if (p.signal !== undefined) {
        p.onAbort = () => {
          const i = this.queue.indexOf(p)
          if (i >= 0) {
            this.queue.splice(i, 1)
            p.fn.queued--
            this.metrics?.queued.set(this.queue.length)
            this.rejectPending(p, new AbortedError())
          }
        }
        p.signal.addEventListener('abort', p.onAbort, { once: true })
      }
      this.queue.push(p)
      fn.queued++
      this.metrics?.queued.set(this.queue.length)
      this.pump()
    })
  }

  /** start queued invocations while workers are free */
  private pump (): void {
    while (this.queue.length > 0) {
      const slot = this.pool.idleSlot()
      if (slot === undefined) return
      const i = this.queue.findIndex(p => p.fn.inflight < p.fn.spec.maxConcurrency)
      if (i < 0) return
      const [p] = this.queue.splice(i, 1)
      p.fn.queued--
      this.metrics?.queued.set(this.queue.length)
      if (p.onAbort !== undefined) p.signal?.removeEventListener('abort', p.onAbort)
      this.dispatch(slot, p)
    }
  }

  private dispatch (slot: Slot, p: Pending): void {
    const { fn } = p
    fn.inflight++
    const queuedMs = performance.now() - p.enqueuedAt
    this.pool.run(slot, { type: 'invoke', id: fn.spec.id, input: p.input }, fn.spec.timeoutMs, `invoke ${fn.spec.id}`, p.signal, p.token !== undefined ? { token: p.token } : {}, p.grants)
      .then(r => {
        this.finish(fn, p, r, queuedMs)
        // a slot may have gone idle before this function's count dropped
        this.pump()
      }, (err: Error) => {
        fn.inflight--
        this.pump()
        fn.stats.invocations++
        fn.stats.errors++
        let outcome = 'error'
        if (err instanceof FunctionTimeoutError) {
          fn.stats.timeouts++
          outcome = 'timeout'
          err = new FunctionTimeoutError(fn.spec.id, fn.spec.timeoutMs)
        } else if (err instanceof AbortedError) {
          outcome = 'aborted'
        }
        this.metrics?.invocations.inc({ function: fn.spec.name, outcome })
        p.reject(err)
      })
  }

  private finish (fn: LoadedFn, p: Pending, r: JobResult, queuedMs: number): void {
    fn.inflight--
    fn.stats.invocations++
    if (r.coldStart) {
      fn.stats.coldStarts++
      this.metrics?.coldStarts.inc({ function: fn.spec.name })
    }
    this.metrics?.duration.observe({ function: fn.spec.name }, r.durationMs / 1000)
    this.metrics?.latency.record('invoke', (r.durationMs + queuedMs) / 1000, fn.spec.name)
    if (r.ok) {
      this.metrics?.invocations.inc({ function: fn.spec.name, outcome: 'ok' })
      p.resolve({ output: r.output, stderr: r.stderr, exitCode: r.exitCode, durationMs: r.durationMs, coldStart: r.coldStart, queuedMs })
      return
    }
    fn.stats.errors++
    this.metrics?.invocations.inc({ function: fn.spec.name, outcome: r.kind })
    switch (r.kind) {
      case 'exit': p.reject(new FunctionFailedError(r.exitCode, r.stderr, r.output ?? EMPTY)); break
      case 'output': p.reject(new OutputTooLargeError(fn.spec.maxOutputBytes)); break
      case 'not-loaded': p.reject(new FunctionNotFoundError(fn.spec.id)); break
      default: p.reject(new FunctionTrapError(r.message, r.stderr))
    }
  }

  private rejectPending (p: Pending, err: Error): void {
    if (p.onAbort !== undefined) p.signal?.removeEventListener('abort', p.onAbort)
    p.reject(err)
  }

  capacity (id: string): Capacity {
    // with lazy workers not started yet, every worker counts as idle: they start with the first load
    const idleWorkers = this.status !== 'started' ? 0 : this.poolStarting === undefined ? this.workers : this.pool.counts().idle
    const base = { idleWorkers, queued: this.queue.length, maxQueue: this.maxQueue }
    const fn = this.functions.get(id)
    if (fn === undefined || this.status !== 'started') return { state: 'unknown', ...base }
    const f = { inflight: fn.inflight, queued: fn.queued, maxConcurrency: fn.spec.maxConcurrency, maxQueue: fn.spec.maxQueue }
    let state: Capacity['state']
    if (fn.inflight < fn.spec.maxConcurrency && this.pool.idleSlot() !== undefined && this.queue.length === 0) state = 'now'
    else if (fn.queued >= fn.spec.maxQueue || this.queue.length >= this.maxQueue) state = 'full'
    else state = 'queue'
    return { state, ...base, function: f }
  }

  stats (): RuntimeStats {
    const counts = this.pool.counts()
    return {
      status: this.status,
      workers: { total: this.workers, ...counts, replacements: this.pool.replacements },
      queued: this.queue.length,
      maxQueue: this.maxQueue,
      cache: { modules: this.cache.size, hits: this.cache.hits, misses: this.cache.misses },
      functions: [...this.functions.values()].map(fn => ({ ...fn.stats, inflight: fn.inflight, queued: fn.queued }))
    }
  }
}
