/**
 * The catalogue on disk: a write is on disk when it resolves (snapshot file
 * replaced atomically with fsync), a reopened catalogue has the same state
 * and keeps ordering new writes after old ones; a damaged file is moved
 * aside and the peer starts (empty) instead of failing.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { createCatalogue, SNAPSHOT_FILE } from '../../src/catalogue/index.js'
import type { Catalogue } from '../../src/catalogue/index.js'

const CID_A = 'bafkreid5cgnvs3lxdklh2tlwfxtpwoekz5k6rz22jhiainukegftp2wd44'
const CID_B = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const HC = { path: '/healthz', intervalSeconds: 5, failureThreshold: 3, recoveryAction: 'rollback' }

describe('catalogue persistence', () => {
  let dir: string
  const open: Catalogue[] = []

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dcis-catalogue-')) })
  afterEach(async () => {
    for (const c of open.splice(0)) await c.stop()
    await rm(dir, { recursive: true, force: true })
  })

  async function start (now?: () => number, where: { dir?: string, datastore?: LevelDatastore } = { dir }): Promise<Catalogue> {
    const c = createCatalogue({ peerId: '12D3KooWTest', ...(now != null ? { now } : {}) }, where)
    await c.start()
    open.push(c)
    return c
  }

  it('functions, pointers, marks, events and manifests survive a restart', async () => {
    const a = await start()
    await a.deployVersion('echo', { cid: CID_A, abi: 'wasi', size: 10 })
    await a.deployVersion('echo', { cid: CID_B, abi: 'reactor', size: 20, limits: { timeoutMs: 100 }, env: { A: 'b' } })
    await a.markKnownGood('echo', CID_A)
    await a.setCurrent('echo', CID_A, { type: 'rollback', id: CID_A, from: CID_B, reason: 'test' })
    await a.putManifest({ kind: 'HealthCheck', name: 'edge-func-health', spec: HC })
    const before = { fp: a.fingerprint(), fns: a.functions(), ms: a.manifests() }
    assert.deepEqual((await readdir(join(dir))).filter(f => f.startsWith(SNAPSHOT_FILE)), [SNAPSHOT_FILE], 'no temp file left behind')
    await a.stop()
    open.length = 0

    const b = await start()
    assert.equal(b.fingerprint(), before.fp)
    assert.deepEqual(b.functions(), before.fns)
    assert.deepEqual(b.manifests(), before.ms)
    const echo = b.function('echo')
    assert.equal(echo?.current, CID_A)
    assert.deepEqual(echo?.versions.map(v => [v.version, v.cid, v.knownGood]), [[1, CID_A, true], [2, CID_B, false]])
    assert.deepEqual(echo?.events.map(e => e.type), ['deployed', 'deployed', 'rollback'])
    // a write after the restart is ordered after the old ones even if the wall clock went back
    await b.stop()
    open.length = 0
    const c = await start(() => 1000)
    await c.deployVersion('echo', { cid: CID_B, abi: 'reactor', size: 20, limits: { timeoutMs: 100 }, env: { A: 'b' } })
    assert.equal(c.function('echo')?.current, CID_B)
    assert.equal(c.function('echo')?.events.at(-1)?.type, 'deployed')
  })

  it('a damaged snapshot is moved aside and the catalogue starts empty', async () => {
    await writeFile(join(dir, SNAPSHOT_FILE), new Uint8Array([1, 2, 3, 250, 251]))
    const c = await start()
    assert.equal(c.size(), 0)
    const files = await readdir(dir)
    assert.ok(files.some(f => f.startsWith(`${SNAPSHOT_FILE}.damaged-`)), files.join(','))
    await c.deployVersion('x', { cid: CID_A, abi: 'wasi', size: 1 })
    assert.equal(c.function('x')?.versions.length, 1)
  })

  it('without a dir, the snapshot lives in the datastore given', async () => {
    const ds = new LevelDatastore(join(dir, 'ds'))
    await ds.open()
    const a = await start(undefined, { datastore: ds })
    await a.putManifest({ kind: 'HealthCheck', name: 'hc', spec: { ...HC, function: 'echo' } })
    await a.stop()
    open.length = 0
    const b = await start(undefined, { datastore: ds })
    assert.equal(b.manifest('HealthCheck', 'hc')?.spec.function, 'echo')
    await b.stop()
    open.length = 0
    await ds.close()
  })

  it('refuses writes that would not be valid records, and writes before start', async () => {
    const idle = createCatalogue({ peerId: 'p' })
    await assert.rejects(idle.deployVersion('echo', { cid: CID_A, abi: 'wasi', size: 1 }), { code: 'CATALOGUE_NOT_STARTED' })
    const c = await start()
    await assert.rejects(c.deployVersion('Bad Name', { cid: CID_A, abi: 'wasi', size: 1 }), { code: 'CATALOGUE_RECORD_INVALID' })
    await assert.rejects(c.deployVersion('echo', { cid: 'not-a-cid', abi: 'wasi', size: 1 }), { code: 'CATALOGUE_RECORD_INVALID' })
    await assert.rejects(c.setCurrent('echo', CID_A, { type: 'rollback' }), { code: 'CATALOGUE_RECORD_INVALID' })
    assert.equal(c.size(), 0, 'nothing half-written')
  })
})
