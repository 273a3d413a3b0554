/**
 * RegistryCache: newest descriptor per peer wins, replays of older ones are
 * 'stale', entries age out at expiry, filters select on the END and on the
 * effective trust level.
 */
import assert from 'node:assert/strict'
import { RegistryCache, matches } from '../../src/registry/index.js'
import { DETECTED, entryOf, newIdentity, signedEnd } from './fixtures.js'
import type { RegistryEntry } from '../../src/registry/index.js'
import type { NodeIdentity } from '../../src/identity/index.js'

const T = 1_800_000_000

describe('registry: cache', function () {
  let ids: NodeIdentity[]

  before(async function () {
    ids = await Promise.all([0, 1, 2, 3].map(async () => newIdentity()))
  })

  async function entry (i: number, now: number, o: Parameters<typeof signedEnd>[1] = {}, extra: Partial<RegistryEntry> = {}): Promise<RegistryEntry> {
    return entryOf(await signedEnd(ids[i], { now, ...o }), extra, now)
  }

  it('adds, then the newest iat wins; a replayed older descriptor is stale and changes nothing', async function () {
    const cache = new RegistryCache()
    const v1 = await entry(0, T)
    const v2 = await entry(0, T + 5, { region: 'us-east' })
    assert.equal(cache.offer(v1), 'added')
    assert.equal(cache.offer(v2), 'updated')
    assert.equal(cache.offer(v1), 'stale')
    assert.equal(cache.get(ids[0].peerId.toString(), T)?.jwt, v2.jwt)
    assert.equal(cache.get(ids[0].peerId.toString(), T)?.end.region, 'us-east')
    assert.equal(cache.size, 1)
  })

  it('the same descriptor again is a duplicate (and fills in a missing CID); a different one with the same iat is stale', async function () {
    const cache = new RegistryCache()
    const v = await entry(0, T)
    assert.equal(cache.offer(v), 'added')
    assert.equal(cache.offer({ ...v, cid: 'bafyexample', source: 'sync' }), 'duplicate')
    assert.equal(cache.get(ids[0].peerId.toString(), T)?.cid, 'bafyexample')
    assert.equal(cache.get(ids[0].peerId.toString(), T)?.source, 'gossip', 'the held entry is kept')
    const sameIat = await entry(0, T, { region: 'ap-south' })
    assert.notEqual(sameIat.jwt, v.jwt)
    assert.equal(cache.offer(sameIat), 'stale')
    assert.equal(cache.get(ids[0].peerId.toString(), T)?.end.region, 'eu-west')
  })

  it('ages entries out at their expiry: get, list and expire', async function () {
    const cache = new RegistryCache()
    cache.offer(await entry(0, T, { ttlSeconds: 60 }))
    cache.offer(await entry(1, T, { ttlSeconds: 600 }))
    const a = ids[0].peerId.toString()
    const b = ids[1].peerId.toString()
    assert.deepEqual(cache.list({}, T + 59).map(e => e.end.peerId).sort(), [a, b].sort())
    assert.ok(cache.get(a, T + 59) != null)
    assert.equal(cache.get(a, T + 60), undefined, 'gone at exp')
    assert.equal(cache.size, 1, 'get removed it')
    assert.deepEqual(cache.list({}, T + 599).map(e => e.end.peerId), [b])
    assert.deepEqual(cache.expire(T + 600), [b])
    assert.equal(cache.size, 0)
    assert.deepEqual(cache.list({}, T + 600), [])
  })

  it('a newer descriptor extends the life of a peer\'s entry', async function () {
    const cache = new RegistryCache()
    const a = ids[0].peerId.toString()
    cache.offer(await entry(0, T, { ttlSeconds: 60 }))
    cache.offer(await entry(0, T + 50, { ttlSeconds: 60 }))
    assert.ok(cache.get(a, T + 100) != null)
    assert.equal(cache.get(a, T + 110), undefined)
  })

  it('filters on region, minCpu, minMemoryMb, tee, trust and arch (all given filters must hold)', async function () {
    const cache = new RegistryCache()
    cache.offer(await entry(0, T, { region: 'eu-west', overrides: { cpu: 2, memoryMb: 2048, arch: 'arm64', tee: true } }, { trustLevel: 5, trustSource: 'credential' }))
    cache.offer(await entry(1, T, { region: 'us-east', overrides: { cpu: 8, memoryMb: 16384 } }))
    cache.offer(await entry(2, T, { region: 'eu-west', overrides: { cpu: 16, memoryMb: 65536, tee: false } }, { trustLevel: 2, trustSource: 'credential' }))
    const [p0, p1, p2] = ids.map(i => i.peerId.toString())
    const sel = (f: Parameters<RegistryCache['list']>[0]): string[] => cache.list(f, T).map(e => e.end.peerId).sort()
    const s = (...x: string[]): string[] => x.sort()
    assert.deepEqual(sel({}), s(p0, p1, p2))
    assert.deepEqual(sel({ region: 'eu-west' }), s(p0, p2))
    assert.deepEqual(sel({ region: 'nowhere' }), [])
    assert.deepEqual(sel({ minCpu: 8 }), s(p1, p2))
    assert.deepEqual(sel({ minCpu: 8.5 }), s(p2))
    assert.deepEqual(sel({ minCpu: 2 }), s(p0, p1, p2), 'minCpu is inclusive')
    assert.deepEqual(sel({ minMemoryMb: 16384 }), s(p1, p2))
    assert.deepEqual(sel({ minMemoryMb: 16385 }), s(p2))
    assert.deepEqual(sel({ tee: true }), s(p0))
    assert.deepEqual(sel({ tee: false }), s(p1, p2))
    assert.deepEqual(sel({ trust: 1 }), s(p0, p2))
    assert.deepEqual(sel({ trust: 3 }), s(p0))
    assert.deepEqual(sel({ trust: 0 }), s(p0, p1, p2))
    assert.deepEqual(sel({ arch: 'arm64' }), s(p0))
    assert.deepEqual(sel({ arch: DETECTED.arch }), s(p1, p2))
    assert.deepEqual(sel({ region: 'eu-west', minCpu: 4 }), s(p2))
    assert.deepEqual(sel({ region: 'eu-west', tee: true, trust: 5, arch: 'arm64', minCpu: 2, minMemoryMb: 2048 }), s(p0))
    assert.deepEqual(sel({ region: 'eu-west', tee: true, trust: 6 }), [])
    // list is ordered by peer id
    assert.deepEqual(cache.list({}, T).map(e => e.end.peerId), [p0, p1, p2].sort((x, y) => x.localeCompare(y)))
  })

  it('trust filter uses the effective (credential) level, never the self-asserted END value', async function () {
    const e = await entry(3, T)
    assert.equal(e.end.trust.level, 0)
    assert.equal(matches({ ...e, trustLevel: 4 }, { trust: 4 }), true)
    assert.equal(matches({ ...e, end: { ...e.end, trust: { level: 10, source: 'self-asserted' } }, trustLevel: 0 }, { trust: 1 }), false)
  })

  it('stays bounded: past maxEntries the entry expiring soonest (never self) is evicted', async function () {
    const cache = new RegistryCache({ maxEntries: 2 })
    cache.offer(await entry(0, T, { ttlSeconds: 30 }, { source: 'self' }))
    cache.offer(await entry(1, T, { ttlSeconds: 300 }))
    cache.offer(await entry(2, T, { ttlSeconds: 100 }))
    assert.equal(cache.size, 2)
    const held = cache.list({}, T).map(e => e.end.peerId).sort()
    assert.deepEqual(held, [ids[0], ids[1]].map(i => i.peerId.toString()).sort(), 'self stays though it expires first; the 100 s entry went')
  })
})
