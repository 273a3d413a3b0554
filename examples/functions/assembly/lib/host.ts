// AssemblyScript helpers over the dcis host interface (docs/wasm-abi.md):
// strings in, strings out, the status of the last call in hostStatus() and
// its error message in hostError(). Every call is checked against the
// Function manifest's grants; a denied call returns HOST_DENIED here, it
// never traps.
import { cache_get, cache_get_many, counter_add, counter_get, counters_add, kv_get, kv_put, log_append, log_append_many, result_read, sink_emit } from './dcis'

export const HOST_OK: i32 = 0
export const HOST_DENIED: i32 = -1
export const HOST_NOT_FOUND: i32 = -2
export const HOST_UNAVAILABLE: i32 = -3
export const HOST_INVALID: i32 = -4
export const HOST_TOO_LARGE: i32 = -5
export const HOST_TIMEOUT: i32 = -6
export const HOST_UNSUPPORTED: i32 = -7
export const HOST_FAILED: i32 = -8
export const HOST_LIMIT: i32 = -9

let lastStatus: i32 = 0
let lastError: string = ''

/** the status of the last host call: HOST_OK or a negative HOST_* code */
export function hostStatus (): i32 { return lastStatus }
/** the error message of the last failed host call ('' after a success) */
export function hostError (): string { return lastError }

function result (n: i32): string {
  if (n <= 0) return ''
  const buf = new ArrayBuffer(n)
  const got = result_read(changetype<usize>(buf), <usize>n)
  return String.UTF8.decode(got === n ? buf : buf.slice(0, got))
}

/** the call's result text, or null after recording the failure */
function settle (r: i32): string | null {
  if (r >= 0) {
    lastStatus = HOST_OK
    lastError = ''
    return result(r)
  }
  lastStatus = r
  // the error message is the pending result: read up to 4 KiB of it
  const buf = new ArrayBuffer(4096)
  const got = result_read(changetype<usize>(buf), 4096)
  lastError = String.UTF8.decode(buf.slice(0, got))
  return null
}

function p (b: ArrayBuffer): usize { return changetype<usize>(b) }
function l (b: ArrayBuffer): usize { return <usize>b.byteLength }

/** the value of `key` in stateful service `service`; null if absent or on error (see hostStatus) */
export function kvGet (service: string, key: string): string | null {
  const s = String.UTF8.encode(service); const k = String.UTF8.encode(key)
  return settle(kv_get(p(s), l(s), p(k), l(k)))
}

export function kvPut (service: string, key: string, value: string): bool {
  const s = String.UTF8.encode(service); const k = String.UTF8.encode(key); const v = String.UTF8.encode(value)
  return settle(kv_put(p(s), l(s), p(k), l(k), p(v), l(v))) !== null
}

/** adds `delta` to a counter; the new value (this replica's view), or 0 on error (see hostStatus) */
export function counterAdd (service: string, key: string, delta: i64): i64 {
  const s = String.UTF8.encode(service); const k = String.UTF8.encode(key)
  const r = settle(counter_add(p(s), l(s), p(k), l(k), delta))
  return r === null ? 0 : I64.parseInt(r)
}

/** adds deltas[i] to keys[i] in one write (one host call, one replicated delta); false on error */
export function countersAdd (service: string, keys: string[], deltas: i64[]): bool {
  let batch = ''
  for (let i = 0; i < keys.length; i++) batch += keys[i] + '\t' + deltas[i].toString() + '\n'
  const s = String.UTF8.encode(service); const b = String.UTF8.encode(batch)
  return settle(counters_add(p(s), l(s), p(b), l(b))) !== null
}

export function counterGet (service: string, key: string): i64 {
  const s = String.UTF8.encode(service); const k = String.UTF8.encode(key)
  const r = settle(counter_get(p(s), l(s), p(k), l(k)))
  return r === null ? 0 : I64.parseInt(r)
}

/** appends an entry to the log `key`; its cursor, or null on error */
export function logAppend (service: string, key: string, entry: string): string | null {
  const s = String.UTF8.encode(service); const k = String.UTF8.encode(key); const v = String.UTF8.encode(entry)
  return settle(log_append(p(s), l(s), p(k), l(k), p(v), l(v)))
}

/** appends entries (none may contain a newline) to the log `key` in one write; the last cursor, or null on error */
export function logAppendMany (service: string, key: string, entries: string[]): string | null {
  const s = String.UTF8.encode(service); const k = String.UTF8.encode(key); const b = String.UTF8.encode(entries.join('\n'))
  return settle(log_append_many(p(s), l(s), p(k), l(k), p(b), l(b)))
}

/** emits a record to a sink (shipped to the core with its next batch) */
export function sinkEmit (sink: string, record: string): bool {
  const n = String.UTF8.encode(sink); const r = String.UTF8.encode(record)
  return settle(sink_emit(p(n), l(n), p(r), l(r))) !== null
}

/** reads `key` through an edge cache (the backend on a miss); null if absent or on error */
export function cacheGet (cache: string, key: string): string | null {
  const n = String.UTF8.encode(cache); const k = String.UTF8.encode(key)
  return settle(cache_get(p(n), l(n), p(k), l(k)))
}

/**
 * reads many keys through an edge cache in one host call (one round trip
 * instead of one per key): the values in the order of `keys`, null where
 * the backend has none; null altogether on error (see hostStatus)
 */
export function cacheGetMany (cache: string, keys: string[]): Array<string | null> | null {
  const n = String.UTF8.encode(cache); const k = String.UTF8.encode(keys.join('\n'))
  const r = cache_get_many(p(n), l(n), p(k), l(k))
  if (r < 0) { settle(r); return null }
  lastStatus = HOST_OK
  lastError = ''
  const buf = new ArrayBuffer(r)
  if (r > 0) result_read(changetype<usize>(buf), <usize>r)
  const bytes = Uint8Array.wrap(buf)
  const out = new Array<string | null>()
  let at = 0
  while (at < r && out.length < keys.length) {
    // `<len>:` or `-1:`
    let len: i32 = 0
    let absent = false
    if (bytes[at] === 45) { absent = true; at += 3 } else {
      while (at < r && bytes[at] !== 58) { len = len * 10 + (<i32>bytes[at] - 48); at++ }
      at++
    }
    if (absent) { out.push(null); continue }
    out.push(String.UTF8.decode(buf.slice(at, at + len)))
    at += len
  }
  return out
}
