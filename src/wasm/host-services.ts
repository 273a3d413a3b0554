/**
 * The node's implementation of the functions' host interface (host-calls.ts):
 * kv and counters through the stateful services front (either consistency
 * mode; a call is forwarded to a remote replica or leader when this peer
 * holds none), logs through the eventual backend, sinks and caches through
 * their registries when the node has them. Grants are checked by the
 * runtime before any of this runs; the invoking caller's token goes with
 * every data call, so a replica on another peer re-authorises it like any
 * forwarded call (docs/security.md, "Host calls").
 */
import { KeyNotFoundError } from '../services/errors.js'
import { forEachLimited } from '../latency/service/probe-targets.js'
import type { HostCallAuth, HostInterface } from './host-calls.js'

export interface HostServicesSources {
  /** the stateful services front (StatefulServices) */
  services: () => {
    get: (name: string, key: string, options?: { signal?: AbortSignal, token?: string }) => Promise<{ value: string }>
    put: (name: string, key: string, value: string, options?: { signal?: AbortSignal, token?: string }) => Promise<unknown>
    counter: (name: string, key: string, options?: { signal?: AbortSignal, token?: string }) => Promise<{ value: number }>
    addCounter: (name: string, key: string, delta: number, options?: { signal?: AbortSignal, token?: string }) => Promise<{ value: number }>
  } | undefined
  /** the eventual backend's log API (CrdtBackend) */
  logs?: () => {
    has: (name: string) => boolean
    appendLog: (name: string, key: string, values: string[], options?: { signal?: AbortSignal, token?: string }) => Promise<{ first: string, last: string }>
    addCounters: (name: string, entries: Array<[string, number]>, options?: { signal?: AbortSignal, token?: string }) => Promise<unknown>
  } | undefined
  /** sinks: emit one record */
  sinks?: () => { emit: (sink: string, record: string, options?: { signal?: AbortSignal, token?: string }) => Promise<void> } | undefined
  /** edge caches: read through */
  caches?: () => { read: (cache: string, key: string, options?: { signal?: AbortSignal, token?: string }) => Promise<Uint8Array | undefined> } | undefined
}

class NotWiredError extends Error {
  readonly code = 'OPERATION_NOT_SUPPORTED'
  constructor (what: string) {
    super(`${what} are not available on this peer`)
    this.name = 'NotWiredError'
  }
}

function need<T> (v: T | undefined, what: string): T {
  if (v == null) throw new NotWiredError(what)
  return v
}

/** the call's options: its signal, and the invoking caller's token for a peer that serves the data (re-authorised there) */
function opts (signal: AbortSignal, auth: HostCallAuth | undefined): { signal: AbortSignal, token?: string } {
  return auth?.token !== undefined ? { signal, token: auth.token } : { signal }
}

/** cache reads one cache_get_many runs at a time (its misses go to the cache's backend) */
export const CACHE_GET_MANY_CONCURRENCY = 16

export function createHostServices (s: HostServicesSources): HostInterface {
  return {
    kvGet: async (service, key, signal, auth) => {
      try {
        return (await need(s.services(), 'stateful services').get(service, key, opts(signal, auth))).value
      } catch (err) {
        if (err instanceof KeyNotFoundError) return undefined
        throw err
      }
    },
    kvPut: async (service, key, value, signal, auth) => { await need(s.services(), 'stateful services').put(service, key, value, opts(signal, auth)) },
    counterAdd: async (service, key, delta, signal, auth) => (await need(s.services(), 'stateful services').addCounter(service, key, delta, opts(signal, auth))).value,
    countersAdd: async (service, entries, signal, auth) => {
      const eventual = s.logs?.()
      if (eventual?.has(service) === true) {
        await eventual.addCounters(service, entries, opts(signal, auth))
        return
      }
      const front = need(s.services(), 'stateful services')
      for (const [key, delta] of entries) await front.addCounter(service, key, delta, opts(signal, auth))
    },
    counterGet: async (service, key, signal, auth) => (await need(s.services(), 'stateful services').counter(service, key, opts(signal, auth))).value,
    logAppend: async (service, key, value, signal, auth) => (await need(s.logs?.(), 'logs').appendLog(service, key, [value], opts(signal, auth))).first,
    logAppendMany: async (service, key, values, signal, auth) => (await need(s.logs?.(), 'logs').appendLog(service, key, values, opts(signal, auth))).last,
    sinkEmit: async (sink, record, signal) => { await need(s.sinks?.(), 'sinks').emit(sink, record, { signal }) },
    cacheGet: async (cache, key, signal) => need(s.caches?.(), 'edge caches').read(cache, key, { signal }),
    // CACHE_GET_MANY_CONCURRENCY reads at a time: hits answer at once, misses share the
    // cache's single-flight; a cold cache is filled a few keys at a time, not with a
    // thousand requests to its backend at once (which, on a loaded peer, took longer
    // than the invocation's time limit: nothing got cached and every batch timed out)
    cacheGetMany: async (cache, keys, signal) => {
      const caches = need(s.caches?.(), 'edge caches')
      const out: Array<Uint8Array | undefined> = new Array(keys.length)
      // the call fails with the first failing key's error; the other lanes stop
      await forEachLimited(keys, CACHE_GET_MANY_CONCURRENCY, async (key, i) => { out[i] = await caches.read(cache, key, { signal }) })
      return out
    }
  }
}
