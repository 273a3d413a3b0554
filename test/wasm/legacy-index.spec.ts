/**
 * Upgrading a peer: the per-peer function index of earlier versions
 * (/dcis/functions/<name> in the datastore) is imported into the catalogue
 * on the first start, versions in order, the current one current, known-good
 * marks kept; a damaged entry is skipped.
 */
import assert from 'node:assert/strict'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Key } from 'interface-datastore'
import { openStores } from '../../src/storage/index.js'
import { INDEX_PREFIX } from '../../src/wasm/store/index.js'
import { removeDir, startFnPeer } from './integration-mesh.js'
import type { FnPeer } from './integration-mesh.js'

const A = 'bafkreid5cgnvs3lxdklh2tlwfxtpwoekz5k6rz22jhiainukegftp2wd44'
const B = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

describe('wasm store: the old per-peer index is imported into the catalogue', function () {
  this.timeout(60_000)
  let peer: FnPeer | undefined
  let dir: string

  after(async () => {
    await peer?.stop()
    if (dir != null) await removeDir(dir)
  })

  it('imports versions in order with the current pointer and known-good marks', async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcis-legacy-'))
    const stores = await openStores(dir)
    const enc = new TextEncoder()
    const old = {
      name: 'echo',
      current: A,
      versions: [
        { id: A, version: 1, abi: 'wasi', size: 10, deployedAt: '2026-12-01T00:00:00.000Z', knownGood: true },
        { id: B, version: 2, abi: 'reactor', size: 20, deployedAt: '2026-12-02T00:00:00.000Z', knownGood: false, limits: { timeoutMs: 100 } }
      ],
      events: []
    }
    await stores.datastore.put(new Key(`${INDEX_PREFIX}echo`), enc.encode(JSON.stringify(old)))
    await stores.datastore.put(new Key(`${INDEX_PREFIX}broken`), enc.encode('{not json'))
    await stores.close()

    peer = await startFnPeer({ name: 'legacy', dir, runtime: { workers: 1 } })
    const rec = peer.fns.store.get('echo')
    assert.ok(rec != null)
    assert.equal(rec.current, A)
    assert.deepEqual(rec.versions.map(v => [v.id, v.abi, v.knownGood]).sort(), [[A, 'wasi', true], [B, 'reactor', false]].sort())
    assert.deepEqual(rec.versions.find(v => v.id === B)?.limits, { timeoutMs: 100 })
    assert.equal(peer.fns.store.get('broken'), undefined)
    // imported once: a restart does not import again (no new events)
    const events = rec.events.length
    const key = peer.key
    await peer.stop()
    peer = await startFnPeer({ name: 'legacy', dir, key, runtime: { workers: 1 } })
    assert.equal(peer.fns.store.get('echo')?.events.length, events)
  })
})
