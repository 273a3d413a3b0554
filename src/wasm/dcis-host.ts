/**
 * The `dcis` host import module (see docs/wasm-abi.md): output and log
 * writes, and the host interface to stateful services, sinks and caches
 * (host-calls.ts). Runs inside a worker.
 */
import { performance } from 'node:perf_hooks'
import { DEFAULT_MAX_HOST_CALLS, HOST_STATUS, MAX_CACHE_GET_MANY } from './host-calls.js'
import { memBytes } from './host-io.js'
import type { HostBridge, HostCall } from './host-calls.js'
import type { WasiContext } from './wasi-host.js'

export class HostFault {
  constructor (readonly message: string) {}
}

/** The per-function host context: I/O, and the host interface's state for the running invocation. */
export interface DcisContext extends WasiContext {
  /** the worker's bridge to the main thread; none = host calls answer UNSUPPORTED */
  host?: HostBridge
  /** performance.now() when the running invocation's time is up */
  deadline: number
  /** host calls made by the running invocation */
  hostCalls: number
  maxHostCalls: number
  /** the last host call's result (or error message), read with result_read */
  result: Uint8Array
}

const EMPTY = new Uint8Array(0)
const enc = new TextEncoder()
const utf8 = new TextDecoder('utf-8', { fatal: true })

export function createDcisContext (io: WasiContext['io'], host?: HostBridge): DcisContext {
  return { io, memory: null, ...(host != null ? { host } : {}), deadline: Number.POSITIVE_INFINITY, hostCalls: 0, maxHostCalls: DEFAULT_MAX_HOST_CALLS, result: EMPTY }
}

/** resets the host-call state for an invocation that may run `timeoutMs` */
export function beginInvocation (ctx: DcisContext, timeoutMs: number): void {
  ctx.deadline = performance.now() + timeoutMs
  ctx.hostCalls = 0
  ctx.result = EMPTY
}

type I32 = number

export function createDcisImports (ctx: DcisContext): Record<string, (...args: never[]) => unknown> {
  const bytes = (ptr: number, len: number, fn: string): Uint8Array => {
    if (ctx.memory === null) throw new HostFault(`dcis.${fn} called before the memory export was bound`)
    const b = memBytes(ctx.memory, ptr, len)
    if (b === null) throw new HostFault(`dcis.${fn}(${ptr >>> 0}, ${len >>> 0}) is out of bounds`)
    return b
  }
  class BadArgument {
    constructor (readonly message: string) {}
  }
  const text = (ptr: number, len: number, fn: string, what: string): string => {
    const b = bytes(ptr, len, fn)
    try {
      return utf8.decode(b)
    } catch {
      throw new BadArgument(`dcis.${fn}: the ${what} is not UTF-8`)
    }
  }
  const fail = (status: number, message: string): number => {
    ctx.result = enc.encode(message)
    return status
  }
  /** runs a host call: the status for the function, the result kept for result_read */
  const run = (fn: string, make: () => HostCall): I32 => {
    let call: HostCall
    try {
      call = make()
    } catch (err) {
      if (err instanceof BadArgument) return fail(HOST_STATUS.INVALID, err.message)
      throw err
    }
    if (ctx.host == null) return fail(HOST_STATUS.UNSUPPORTED, `dcis.${fn}: this runtime has no host interface`)
    if (++ctx.hostCalls > ctx.maxHostCalls) return fail(HOST_STATUS.LIMIT, `dcis.${fn}: more than ${ctx.maxHostCalls} host calls in one invocation`)
    const r = ctx.host.call(call, ctx.deadline, () => performance.now())
    ctx.result = r.body
    return r.status === HOST_STATUS.OK ? r.body.length : r.status
  }
  const names = (fn: string, sp: number, sl: number, kp: number, kl: number, what = 'service'): [string, string] =>
    [text(sp, sl, fn, `${what} name`), text(kp, kl, fn, 'key')]
  return {
    write_output: (ptr: I32, len: I32) => { ctx.io.writeOut(bytes(ptr, len, 'write_output')) },
    log: (ptr: I32, len: I32) => { ctx.io.writeErr(bytes(ptr, len, 'log')) },
    kv_get: (sp: I32, sl: I32, kp: I32, kl: I32) => run('kv_get', () => {
      const [service, key] = names('kv_get', sp, sl, kp, kl)
      return { op: 'kv_get', service, key }
    }),
    kv_put: (sp: I32, sl: I32, kp: I32, kl: I32, vp: I32, vl: I32) => run('kv_put', () => {
      const [service, key] = names('kv_put', sp, sl, kp, kl)
      return { op: 'kv_put', service, key, value: text(vp, vl, 'kv_put', 'value') }
    }),
    counter_add: (sp: I32, sl: I32, kp: I32, kl: I32, delta: bigint) => run('counter_add', () => {
      const [service, key] = names('counter_add', sp, sl, kp, kl)
      const d = Number(delta)
      if (!Number.isSafeInteger(d)) throw new BadArgument('dcis.counter_add: the delta is outside the safe integer range')
      return { op: 'counter_add', service, key, delta: d }
    }),
    /** (service, batch) where batch is UTF-8 lines `key<TAB>delta` */
    counters_add: (sp: I32, sl: I32, bp: I32, bl: I32) => run('counters_add', () => {
      const service = text(sp, sl, 'counters_add', 'service name')
      const entries: Array<[string, number]> = []
      for (const line of text(bp, bl, 'counters_add', 'batch').split('\n')) {
        if (line === '') continue
        const tab = line.lastIndexOf('\t')
        const key = tab > 0 ? line.slice(0, tab) : ''
        const delta = Number(line.slice(tab + 1))
        if (key === '' || !Number.isSafeInteger(delta)) throw new BadArgument(`dcis.counters_add: bad line ${JSON.stringify(line.slice(0, 80))} (want key<TAB>integer)`)
        entries.push([key, delta])
      }
      if (entries.length === 0 || entries.length > 10_000) throw new BadArgument('dcis.counters_add: a batch carries 1..10000 lines')
      return { op: 'counters_add', service, entries }
    }),
    counter_get: (sp: I32, sl: I32, kp: I32, kl: I32) => run('counter_get', () => {
      const [service, key] = names('counter_get', sp, sl, kp, kl)
      return { op: 'counter_get', service, key }
    }),
    log_append: (sp: I32, sl: I32, kp: I32, kl: I32, vp: I32, vl: I32) => run('log_append', () => {
      const [service, key] = names('log_append', sp, sl, kp, kl)
      return { op: 'log_append', service, key, value: text(vp, vl, 'log_append', 'entry') }
    }),
    /** (service, log key, batch of lines): one entry per non-empty line, in order, one write */
    log_append_many: (sp: I32, sl: I32, kp: I32, kl: I32, bp: I32, bl: I32) => run('log_append_many', () => {
      const [service, key] = names('log_append_many', sp, sl, kp, kl)
      const values = text(bp, bl, 'log_append_many', 'batch').split('\n').filter(v => v !== '')
      if (values.length === 0 || values.length > 10_000) throw new BadArgument('dcis.log_append_many: a batch carries 1..10000 lines')
      return { op: 'log_append_many', service, key, values }
    }),
    sink_emit: (np: I32, nl: I32, rp: I32, rl: I32) => run('sink_emit', () => ({
      op: 'sink_emit', sink: text(np, nl, 'sink_emit', 'sink name'), record: text(rp, rl, 'sink_emit', 'record')
    })),
    cache_get: (np: I32, nl: I32, kp: I32, kl: I32) => run('cache_get', () => {
      const [cache, key] = names('cache_get', np, nl, kp, kl, 'cache')
      return { op: 'cache_get', cache, key }
    }),
    /** (cache, batch of keys, one per non-empty line): one round trip for many reads */
    cache_get_many: (np: I32, nl: I32, bp: I32, bl: I32) => run('cache_get_many', () => {
      const cache = text(np, nl, 'cache_get_many', 'cache name')
      const keys = text(bp, bl, 'cache_get_many', 'batch').split('\n').filter(k => k !== '')
      if (keys.length === 0 || keys.length > MAX_CACHE_GET_MANY) throw new BadArgument(`dcis.cache_get_many: a batch carries 1..${MAX_CACHE_GET_MANY} keys`)
      return { op: 'cache_get_many', cache, keys }
    }),
    /** copies the last host call's result (or error message) to [ptr, ptr+len); returns the bytes copied */
    result_read: (ptr: I32, len: I32) => {
      const dst = bytes(ptr, len, 'result_read')
      const n = Math.min(dst.length, ctx.result.length)
      dst.set(ctx.result.subarray(0, n))
      return n
    }
  }
}
