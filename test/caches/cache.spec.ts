/**
 * Edge caches against a real local HTTP backend: read-through, ttl, LRU
 * bound, single-flight misses, stale-while-revalidate, region tags, and the
 * backend's failures as typed errors.
 */
import assert from 'node:assert/strict'
import { waitFor } from '../helpers/wait.js'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { EdgeCache, edgeCacheSpecOf } from '../../src/caches/index.js'

describe('caches: EdgeCache', function () {
  this.timeout(20_000)
  let server: Server
  let url = ''
  let hits = 0
  let delayMs = 0
  let region: string | null = 'eu-west'
  let failing = false
  const clock = { t: 1_000_000 }

  before(async function () {
    server = createServer((req, res) => {
      hits++
      const key = decodeURIComponent((req.url ?? '/').slice(1))
      setTimeout(() => {
        if (failing) { res.statusCode = 503; res.end(); return }
        if (key === 'missing') { res.statusCode = 404; res.end(); return }
        res.setHeader('content-type', 'application/json')
        if (region != null) res.setHeader('x-data-region', region)
        res.end(JSON.stringify({ key, v: hits }))
      }, delayMs)
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  after(async function () {
    await new Promise(resolve => server.close(resolve))
  })

  beforeEach(function () {
    hits = 0
    delayMs = 0
    region = 'eu-west'
    failing = false
  })

  const make = (extra: Record<string, unknown> = {}, peerRegion = 'eu-west'): EdgeCache =>
    new EdgeCache(edgeCacheSpecOf('vehicles', { backend: { url, region: 'eu-west' }, ttlMs: 1000, maxEntries: 3, ...extra }), peerRegion, () => clock.t)

  it('reads through, then serves hits until the ttl expires', async function () {
    const c = make()
    const a = await c.get('v1')
    assert.equal(a.outcome, 'miss')
    assert.equal(JSON.parse(new TextDecoder().decode(a.value)).key, 'v1')
    assert.equal(a.originRegion, 'eu-west')
    assert.equal((await c.get('v1')).outcome, 'hit')
    assert.equal(hits, 1)
    clock.t += 1001
    assert.equal((await c.get('v1')).outcome, 'miss')
    assert.equal(hits, 2)
    assert.equal(c.hitRatio(), 1 / 3)
  })

  it('keeps at most maxEntries (least recently used out)', async function () {
    const c = make()
    for (const k of ['a', 'b', 'c']) await c.get(k)
    await c.get('a') // a is now the most recent
    await c.get('d') // evicts b
    assert.equal(c.size(), 3)
    const before = hits
    assert.equal((await c.get('a')).outcome, 'hit')
    assert.equal((await c.get('b')).outcome, 'miss')
    assert.equal(hits, before + 1)
  })

  it('single-flight: concurrent misses of a key share one backend request', async function () {
    delayMs = 50
    const c = make()
    const reads = await Promise.all(Array.from({ length: 20 }, async () => c.get('hot')))
    assert.equal(hits, 1)
    assert.ok(reads.every(r => r.outcome === 'miss'))
  })

  it('stale-while-revalidate serves the old value and refreshes once in the background', async function () {
    const c = make({ staleWhileRevalidateMs: 5000 })
    await c.get('k')
    clock.t += 1500
    delayMs = 30
    const s = await c.get('k')
    assert.equal(s.outcome, 'stale')
    assert.equal((await c.get('k')).outcome, 'stale')
    // the background refresh lands: the next read is a hit, and the backend was asked once more, not per stale read
    await waitFor('the background refresh to land', async () => (await c.get('k')).outcome === 'hit', { timeoutMs: 10_000, intervalMs: 20 })
    assert.equal(hits, 2)
  })

  it('region tags: not served on a peer outside the regions, data from another region is refused', async function () {
    await assert.rejects(make({}, 'us-east').get('v1'), { code: 'REGION_DENIED' })
    assert.equal(hits, 0)
    region = 'ap-south'
    await assert.rejects(make().get('v2'), { code: 'REGION_DENIED' })
    // explicitly allowed regions
    const wide = make({ regions: ['eu-west', 'ap-south'] }, 'ap-south')
    assert.equal((await wide.get('v3')).originRegion, 'ap-south')
  })

  it('backend failures are typed errors; a 404 is KEY_NOT_FOUND', async function () {
    const c = make()
    await assert.rejects(c.get('missing'), { code: 'KEY_NOT_FOUND' })
    failing = true
    await assert.rejects(c.get('x'), { code: 'CACHE_BACKEND_UNAVAILABLE' })
    const dead = new EdgeCache(edgeCacheSpecOf('dead', { backend: { url: 'http://127.0.0.1:1', timeoutMs: 500 } }), 'eu-west')
    await assert.rejects(dead.get('x'), { code: 'CACHE_BACKEND_UNAVAILABLE' })
  })
})
