/**
 * Worker-side execution: instantiating a compiled module with its host
 * imports, keeping warm instances, and running one invocation under the
 * WASI or reactor ABI. Synchronous by design (a worker runs one job at a
 * time); wall-clock limits are enforced from outside by terminating the
 * worker.
 */
import { performance } from 'node:perf_hooks'
import { beginInvocation, createDcisContext, createDcisImports, HostFault } from './dcis-host.js'
import type { DcisContext } from './dcis-host.js'
import type { HostBridge } from './host-calls.js'
import { HostIo, OutputLimitExceeded, ProcExit, memBytes } from './host-io.js'
import { createWasiImports } from './wasi-host.js'
import type { Abi } from './abi.js'
import type { FailureKind, InvokeFailure, InvokeSuccess, LoadRequest } from './messages.js'

interface Instance {
  memory: WebAssembly.Memory
  exports: WebAssembly.Exports
}

export interface LoadedFunction {
  id: string
  abi: Abi
  module: WebAssembly.Module
  spec: LoadRequest
  warm: Instance[]
  /**
   * One host context and one import object per function per worker: a
   * worker runs one call at a time, so the context is pointed at the
   * instance about to run (its memory) and reset before every call.
   */
  ctx: DcisContext
  imports: WebAssembly.Imports
}

const EMPTY = new Uint8Array(0)

export class InstanceInitError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'InstanceInitError'
  }
}

export function createLoadedFunction (spec: LoadRequest, host?: HostBridge): LoadedFunction {
  const ctx = createDcisContext(new HostIo(spec.maxOutputBytes, spec.maxStderrBytes), host)
  if (spec.maxHostCalls != null) ctx.maxHostCalls = spec.maxHostCalls
  const imports: WebAssembly.Imports = { dcis: createDcisImports(ctx) }
  if (spec.abi === 'wasi') {
    imports.wasi_snapshot_preview1 = createWasiImports(ctx, {
      clock: spec.clock, random: spec.random, env: spec.env, args: []
    })
  }
  return { id: spec.id, abi: spec.abi, module: spec.module, spec, warm: [], ctx, imports }
}

export function instantiate (fn: LoadedFunction): Instance {
  let instance: WebAssembly.Instance
  try {
    instance = new WebAssembly.Instance(fn.module, fn.imports)
  } catch (err) {
    throw new InstanceInitError(`instantiation failed: ${(err as Error).message}`)
  }
  const memory = instance.exports.memory
  if (!(memory instanceof WebAssembly.Memory)) throw new InstanceInitError('export "memory" is not a memory')
  const init = instance.exports._initialize
  if (fn.abi === 'reactor' && typeof init === 'function') {
    fn.ctx.memory = memory
    fn.ctx.io.reset(EMPTY)
    try {
      (init as () => void)()
    } catch (err) {
      throw new InstanceInitError(`_initialize failed: ${describe(err)}`)
    }
  }
  return { memory, exports: instance.exports }
}

function describe (err: unknown): string {
  if (err instanceof ProcExit) return `proc_exit(${err.code})`
  if (err instanceof OutputLimitExceeded) return `output exceeded ${err.limit} bytes`
  if (err instanceof HostFault) return err.message
  if (err instanceof Error) return `${err.name}: ${err.message}`
  return String(err)
}

export function fillWarm (fn: LoadedFunction): void {
  while (fn.warm.length < fn.spec.warm) fn.warm.push(instantiate(fn))
}

type Outcome = Omit<InvokeSuccess, 'type' | 'job'> | Omit<InvokeFailure, 'type' | 'job'>

/** Run one invocation. Never throws for the function's own faults. */
export function invoke (fn: LoadedFunction, input: Uint8Array): Outcome {
  const t0 = performance.now()
  let coldStart = false
  let inst = fn.warm.pop()
  if (inst === undefined) {
    coldStart = true
    try {
      inst = instantiate(fn)
    } catch (err) {
      return fail('init', describe(err), 0, '', EMPTY, coldStart, t0)
    }
  }
  const { ctx } = fn
  const { exports } = inst
  ctx.memory = inst.memory
  beginInvocation(ctx, fn.spec.timeoutMs ?? Number.POSITIVE_INFINITY)
  const io = ctx.io
  let exitCode = 0
  let failure: { kind: FailureKind, message: string } | null = null
  try {
    if (fn.abi === 'wasi') {
      io.reset(input)
      ;(exports._start as () => void)()
    } else {
      io.reset(EMPTY)
      const len = input.length
      const ptr = ((exports.alloc as (n: number) => number)(len)) >>> 0
      const dst = memBytes(inst.memory, ptr, len)
      if (dst === null) throw new HostFault(`alloc(${len}) returned an out-of-bounds pointer ${ptr}`)
      dst.set(input)
      exitCode = (exports.handle_event as (p: number, l: number) => number)(ptr, len)
      const dealloc = exports.dealloc
      if (typeof dealloc === 'function') (dealloc as (p: number, l: number) => void)(ptr, len)
    }
  } catch (err) {
    if (err instanceof ProcExit) {
      exitCode = err.code
    } else if (err instanceof OutputLimitExceeded) {
      failure = { kind: 'output', message: `output exceeded ${err.limit} bytes` }
    } else {
      failure = { kind: 'trap', message: describe(err) }
    }
  }
  // a WASI command instance is used once; a reactor instance is reused unless it failed
  if (fn.abi === 'reactor' && failure === null) fn.warm.push(inst)
  const stderr = io.stderr()
  if (failure !== null) return fail(failure.kind, failure.message, exitCode, stderr, EMPTY, coldStart, t0)
  const output = io.output()
  if (exitCode !== 0) return fail('exit', `exit code ${exitCode}`, exitCode, stderr, output, coldStart, t0)
  return { ok: true, output, stderr, exitCode, coldStart, durationMs: performance.now() - t0 }
}

function fail (kind: FailureKind, message: string, exitCode: number, stderr: string, output: Uint8Array, coldStart: boolean, t0: number): Outcome {
  return { ok: false, kind, message, exitCode, stderr, output, coldStart, durationMs: performance.now() - t0 }
}
