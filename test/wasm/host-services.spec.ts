/**
 * The node's host services (src/wasm/host-services.ts): cache_get_many reads
 * a bounded number of keys at a time, answers in order, and fails with the
 * first failing key's error.
 */
import assert from 'node:assert/strict'
import { CACHE_GET_MANY_CONCURRENCY, createHostServices } from '../../src/wasm/host-services.js'

describe('wasm/host-services: cache_get_many', () => {
  const enc = new TextEncoder()

  function cacheSource (o: { failOn?: string } = {}): { read: (cache: string, key: string) => Promise<Uint8Array | undefined>, inFlight: number, maxInFlight: number, reads: number } {
    const src = {
      inFlight: 0,
      maxInFlight: 0,
      reads: 0,
      read: async (_cache: string, key: string): Promise<Uint8Array | undefined> => {
        src.reads++
        src.inFlight++
        src.maxInFlight = Math.max(src.maxInFlight, src.inFlight)
        // a miss going to the backend: resolves on a later turn of the loop
        await new Promise(resolve => setImmediate(resolve))
        src.inFlight--
        if (key === o.failOn) throw Object.assign(new Error(`backend unreachable for ${key}`), { code: 'CACHE_BACKEND_UNAVAILABLE' })
        return key.startsWith('absent') ? undefined : enc.encode(`value of ${key}`)
      }
    }
    return src
  }

  it(`reads at most ${CACHE_GET_MANY_CONCURRENCY} keys at a time and answers every key in order`, async () => {
    const src = cacheSource()
    const host = createHostServices({ services: () => undefined, caches: () => src })
    const keys = Array.from({ length: 500 }, (_, i) => i % 7 === 0 ? `absent-${i}` : `v-${i}`)
    const out = await host.cacheGetMany?.('vehicles', keys, new AbortController().signal)
    assert.ok(out != null)
    assert.equal(out.length, keys.length)
    keys.forEach((k, i) => {
      if (k.startsWith('absent')) assert.equal(out[i], undefined, k)
      else assert.equal(new TextDecoder().decode(out[i]), `value of ${k}`)
    })
    assert.equal(src.reads, keys.length)
    assert.ok(src.maxInFlight <= CACHE_GET_MANY_CONCURRENCY, `at most ${CACHE_GET_MANY_CONCURRENCY} reads in flight, saw ${src.maxInFlight}`)
    assert.ok(src.maxInFlight > 1, 'reads run concurrently')
  })

  it('fails with the failing key\'s error and stops reading the rest', async () => {
    const src = cacheSource({ failOn: 'v-20' })
    const host = createHostServices({ services: () => undefined, caches: () => src })
    const keys = Array.from({ length: 1000 }, (_, i) => `v-${i}`)
    await assert.rejects(async () => host.cacheGetMany?.('vehicles', keys, new AbortController().signal), (err: Error & { code?: string }) => err.code === 'CACHE_BACKEND_UNAVAILABLE')
    // the call answers once the other lanes finished the reads they had started: nothing runs on behind it
    assert.equal(src.inFlight, 0)
    assert.ok(src.reads < 100, `stopped after the failure (${src.reads} reads of ${keys.length})`)
  })

  it('one key and an empty cache source', async () => {
    const src = cacheSource()
    const host = createHostServices({ services: () => undefined, caches: () => src })
    const out = await host.cacheGetMany?.('vehicles', ['v-1'], new AbortController().signal)
    assert.equal(new TextDecoder().decode(out?.[0]), 'value of v-1')
    const none = createHostServices({ services: () => undefined, caches: () => undefined })
    await assert.rejects(async () => none.cacheGetMany?.('vehicles', ['v-1'], new AbortController().signal), /edge caches are not available/)
  })
})
