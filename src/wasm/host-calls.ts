/**
 * The host interface of functions (docs/wasm-abi.md, "State, logs, sinks
 * and caches"): the calls a function makes through the `dcis` import module
 * to the peer's stateful services, sinks and edge caches.
 *
 * Wasm calls are synchronous, service calls are not. A function runs in a
 * worker thread; a host call there posts the request to the main thread and
 * blocks the worker with `Atomics.wait` on a SharedArrayBuffer (one per
 * worker). The main thread checks the call against the function's grants,
 * runs it (it may be forwarded to a remote replica), writes the result into
 * the shared buffer and wakes the worker with `Atomics.notify`. The wait is
 * bounded by the invocation's remaining time; the runtime's wall-clock limit
 * still terminates a worker that overstays. The main thread never blocks.
 *
 * Shared buffer layout (Int32 header, then the result bytes):
 *   [0] seq of the last answer written   [1] status (0 ok, < 0 error code)
 *   [2] result length                    [3] reserved
 *   bytes 16..: the result (or the error message, UTF-8)
 */

/** the result area of one worker's shared buffer */
export const HOST_RESULT_BYTES = 1024 * 1024
export const HOST_HEADER_BYTES = 16
/** how long past the invocation's deadline a worker still waits for the host (the runtime terminates it first) */
export const HOST_WAIT_GRACE_MS = 30_000
/** host calls one invocation may make */
export const DEFAULT_MAX_HOST_CALLS = 100_000

/** Status codes a host call returns to the function (negative i32). */
export const HOST_STATUS = {
  OK: 0,
  /** the function's grants do not allow this call */
  DENIED: -1,
  /** no such key, service, cache or sink */
  NOT_FOUND: -2,
  /** no replica or backend answered in time */
  UNAVAILABLE: -3,
  /** a bad argument (not UTF-8, empty name, out of range) */
  INVALID: -4,
  /** the result does not fit the host buffer, or a value is too large */
  TOO_LARGE: -5,
  /** the invocation's time ran out while waiting */
  TIMEOUT: -6,
  /** the operation is not offered (no host interface on this runtime, automerge service, ...) */
  UNSUPPORTED: -7,
  /** anything else */
  FAILED: -8,
  /** the invocation made more host calls than allowed */
  LIMIT: -9
} as const

export type HostStatusName = keyof typeof HOST_STATUS

export type HostCall =
  | { op: 'kv_get', service: string, key: string }
  | { op: 'kv_put', service: string, key: string, value: string }
  | { op: 'counter_add', service: string, key: string, delta: number }
  | { op: 'counter_get', service: string, key: string }
  | { op: 'counters_add', service: string, entries: Array<[string, number]> }
  | { op: 'log_append', service: string, key: string, value: string }
  | { op: 'log_append_many', service: string, key: string, values: string[] }
  | { op: 'sink_emit', sink: string, record: string }
  | { op: 'cache_get', cache: string, key: string }
  | { op: 'cache_get_many', cache: string, keys: string[] }

const enc = new TextEncoder()

export const HOST_OPS: ReadonlyArray<HostCall['op']> = ['kv_get', 'kv_put', 'counter_add', 'counter_get', 'counters_add', 'log_append_many', 'log_append', 'sink_emit', 'cache_get', 'cache_get_many']

/** A host call failed; `status` is what the function sees. */
export class HostCallError extends Error {
  readonly code: string
  readonly status: number
  constructor (status: HostStatusName, message: string) {
    super(message)
    this.name = 'HostCallError'
    this.code = `HOST_${status}`
    this.status = HOST_STATUS[status]
  }
}

/**
 * What the host interface calls on the main thread. Implemented by the node
 * (src/wasm/host-services.ts) over the stateful services, sinks and caches;
 * a missing method answers UNSUPPORTED.
 */
/** the authority of the invocation a host call runs for (docs/security.md, "Host calls") */
export interface HostCallAuth {
  /** the invoking caller's bearer token (none: a trusted loopback caller) */
  token?: string
}

export interface HostInterface {
  kvGet?: (service: string, key: string, signal: AbortSignal, auth?: HostCallAuth) => Promise<string | undefined>
  kvPut?: (service: string, key: string, value: string, signal: AbortSignal, auth?: HostCallAuth) => Promise<void>
  counterAdd?: (service: string, key: string, delta: number, signal: AbortSignal, auth?: HostCallAuth) => Promise<number>
  counterGet?: (service: string, key: string, signal: AbortSignal, auth?: HostCallAuth) => Promise<number>
  /** many counters in one write (one delta, one persist) */
  countersAdd?: (service: string, entries: Array<[string, number]>, signal: AbortSignal, auth?: HostCallAuth) => Promise<void>
  /** resolves with the entry's cursor */
  logAppend?: (service: string, key: string, value: string, signal: AbortSignal, auth?: HostCallAuth) => Promise<string>
  /** many entries in one write, in order; resolves with the last entry's cursor */
  logAppendMany?: (service: string, key: string, values: string[], signal: AbortSignal, auth?: HostCallAuth) => Promise<string>
  sinkEmit?: (sink: string, record: string, signal: AbortSignal, auth?: HostCallAuth) => Promise<void>
  cacheGet?: (cache: string, key: string, signal: AbortSignal, auth?: HostCallAuth) => Promise<Uint8Array | undefined>
  /** many keys in one call (one round trip for the worker); undefined where the backend has none */
  cacheGetMany?: (cache: string, keys: string[], signal: AbortSignal, auth?: HostCallAuth) => Promise<Array<Uint8Array | undefined>>
}

/** most keys one cache_get_many carries */
export const MAX_CACHE_GET_MANY = 10_000

/**
 * The result of cache_get_many: per key, in order, `<byte length>:<bytes>`,
 * or `-1:` when the cache's backend has no such entry.
 */
export function encodeCacheMany (values: Array<Uint8Array | undefined>): Uint8Array {
  const heads = values.map(v => enc.encode(v === undefined ? '-1:' : `${v.length}:`))
  const out = new Uint8Array(heads.reduce((n, h, i) => n + h.length + (values[i]?.length ?? 0), 0))
  let at = 0
  values.forEach((v, i) => {
    out.set(heads[i], at)
    at += heads[i].length
    if (v !== undefined) { out.set(v, at); at += v.length }
  })
  return out
}

/** worker -> main: run this call for the invocation `job` */
export interface HostCallMessage {
  type: 'host-call'
  job: number
  seq: number
  call: HostCall
}

/** Writes an answer into a worker's shared buffer and wakes it (main thread). */
export function writeHostAnswer (sab: SharedArrayBuffer, seq: number, status: number, body: Uint8Array): void {
  const ctl = new Int32Array(sab, 0, 4)
  let s = status
  let b = body
  if (b.length > sab.byteLength - HOST_HEADER_BYTES) {
    s = HOST_STATUS.TOO_LARGE
    b = enc.encode(`the result is ${body.length} bytes, more than the host buffer of ${sab.byteLength - HOST_HEADER_BYTES}`)
  }
  new Uint8Array(sab, HOST_HEADER_BYTES, b.length).set(b)
  Atomics.store(ctl, 1, s)
  Atomics.store(ctl, 2, b.length)
  Atomics.store(ctl, 0, seq)
  Atomics.notify(ctl, 0)
}

/**
 * Worker side: posts a call and blocks until the answer with the same
 * sequence number is in the shared buffer, or `deadline` (performance.now())
 * plus HOST_WAIT_GRACE_MS passes (the runtime's time limit ends it first).
 */
export class HostBridge {
  private readonly ctl: Int32Array
  private seq = 0
  job = 0

  constructor (private readonly sab: SharedArrayBuffer, private readonly post: (msg: HostCallMessage) => void) {
    this.ctl = new Int32Array(sab, 0, 4)
  }

  call (call: HostCall, deadline: number, now: () => number): { status: number, body: Uint8Array } {
    const seq = ++this.seq
    this.post({ type: 'host-call', job: this.job, seq, call })
    for (;;) {
      const cur = Atomics.load(this.ctl, 0)
      if (cur === seq) break
      // the runtime's wall-clock limit (main thread) is the authority: past
      // the invocation's deadline the worker keeps waiting so that limit
      // terminates it and the invocation fails with FUNCTION_TIMEOUT. Handing
      // the function a TIMEOUT status at the same moment raced that timer,
      // and a function that won the race returned normally after its time.
      // The grace only bounds the wait if the terminate never comes.
      const left = deadline + HOST_WAIT_GRACE_MS - now()
      if (left <= 0) return { status: HOST_STATUS.TIMEOUT, body: enc.encode('the invocation\'s time ran out waiting for the host') }
      Atomics.wait(this.ctl, 0, cur, left)
    }
    const status = Atomics.load(this.ctl, 1)
    const len = Atomics.load(this.ctl, 2)
    return { status, body: new Uint8Array(this.sab, HOST_HEADER_BYTES, len).slice() }
  }
}
