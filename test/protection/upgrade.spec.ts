/**
 * Upgrading a data dir written in clear (encryption off, or an older dcis)
 * to encryption at rest: the keyring created for it records legacyClear, the
 * peer reads the clear values back, the start-up pass re-seals the service
 * datastore and the catalogue snapshot, and a keyring created for an empty
 * data dir never accepts a clear record. (Marker seed printed on failure.)
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { pino } from 'pino'
import { defaultConfig } from '../../src/config/index.js'
import { createMeshNode } from '../../src/node/index.js'
import {
  keyringPath, migrateLegacyClear, openProtection, readKeyringFile, SealedDatastore, TamperedRecordError
} from '../../src/protection/index.js'
import { waitFor } from '../helpers/wait.js'
import type { DcisConfig } from '../../src/config/index.js'
import type { MeshNode } from '../../src/node/index.js'

async function filesUnder (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...await filesUnder(p))
    else if (e.isFile()) out.push(p)
  }
  return out
}

describe('protection: upgrading a data dir written in clear', function () {
  this.timeout(180_000)
  const seed = randomBytes(12).toString('hex')
  const marker = `up-${seed}`
  let dir: string
  let node: MeshNode | undefined

  function configFor (encrypted: boolean): DcisConfig {
    const c = defaultConfig()
    return {
      ...c,
      dataDir: join(dir, 'peer'),
      region: 'eu-west',
      zone: 'eu-west-0',
      listen: ['/ip4/127.0.0.1/tcp/0'],
      api: { ...c.api, host: '127.0.0.1', port: 0, trustLoopback: true },
      storage: { encryption: { enabled: encrypted, provider: 'identity' } }
    }
  }

  async function start (encrypted: boolean): Promise<MeshNode> {
    const n = createMeshNode({ config: configFor(encrypted), bootstrapPeers: [], logger: pino({ level: 'silent' }) })
    node = n
    await n.start()
    return n
  }

  async function stop (): Promise<void> {
    await node?.stop()
    node = undefined
  }

  async function call (n: MeshNode, method: string, path: string, body?: string, type = 'text/plain'): Promise<{ status: number, text: string }> {
    const res = await fetch(`${n.api?.url ?? ''}${path}`, { method, ...(body != null ? { body, headers: { 'content-type': type } } : {}) })
    return { status: res.status, text: await res.text() }
  }

  async function filesWithMarker (except: Set<string>): Promise<string[]> {
    const found: string[] = []
    for (const f of await filesUnder(dir)) {
      if (except.has(f)) continue
      if ((await readFile(f)).includes(Buffer.from(marker))) found.push(f)
    }
    return found
  }

  before(async () => { dir = await mkdtemp(join(tmpdir(), 'dcis-upgrade-')) })
  after(async function () {
    this.timeout(60_000)
    await stop()
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it(`writes in clear, restarts encrypted, reads back, re-seals (marker seed ${seed})`, async function () {
    // 1. an "older" data dir: encryption off
    let n = await start(false)
    for (const [name, consistency] of [['ev', { mode: 'eventual' }], ['st', { mode: 'strong', latencyRadiusMs: 50 }]] as const) {
      const m = { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name }, spec: { replicas: 1, consistency } }
      const r = await call(n, 'POST', '/v1/manifests', JSON.stringify(m), 'application/json')
      assert.equal(r.status, 201, r.text)
    }
    for (const name of ['ev', 'st']) {
      await waitFor(`a write to ${name}`, async () => (await call(n, 'PUT', `/v1/services/${name}/kv/secret`, `value ${marker} end`)).status === 200, { timeoutMs: 60_000, intervalMs: 200 })
    }
    await stop()
    assert.ok((await filesWithMarker(new Set())).length > 0, 'the clear data dir holds the marker (else this test proves nothing)')
    assert.equal(await readKeyringFile(keyringPath(join(dir, 'peer'))), undefined)

    // 2. the upgrade: encryption on
    n = await start(true)
    const ring = await readKeyringFile(keyringPath(join(dir, 'peer')))
    assert.ok(ring?.legacyClear !== undefined, 'the keyring created for a data dir with data records legacyClear')
    assert.ok(!Number.isNaN(Date.parse(ring.legacyClear.since)))
    assert.ok(ring.legacyClear.raftFiles.some(f => f.endsWith('.seg')), 'the strong service\'s WAL segments are listed')
    const keys = JSON.parse((await call(n, 'GET', '/v1/keys')).text) as { legacyClear?: { since: string, raftFiles: number } }
    assert.equal(keys.legacyClear?.raftFiles, ring.legacyClear.raftFiles.length)
    for (const name of ['ev', 'st']) {
      await waitFor(`${name} reads back after the upgrade`, async () => {
        const got = await call(n, 'GET', `/v1/services/${name}/kv/secret`)
        return got.status === 200 && JSON.parse(got.text).value === `value ${marker} end`
      }, { timeoutMs: 60_000, intervalMs: 200 })
      // and keeps writing (sealed)
      assert.equal((await call(n, 'PUT', `/v1/services/${name}/kv/after`, 'sealed now')).status, 200)
    }
    await stop()

    // 3. nothing but the listed legacy Raft files (compacted away later) holds the marker
    const legacy = new Set((ring.legacyClear.raftFiles).map(f => join(dir, 'peer', f)))
    assert.deepEqual(await filesWithMarker(legacy), [], `marker ${marker} still in clear outside the legacy Raft files`)

    // 4. a third start still reads everything
    n = await start(true)
    for (const [name, key, want] of [['ev', 'secret', `value ${marker} end`], ['st', 'secret', `value ${marker} end`], ['ev', 'after', 'sealed now'], ['st', 'after', 'sealed now']]) {
      await waitFor(`${name}/${key} after the second restart`, async () => {
        const got = await call(n, 'GET', `/v1/services/${name}/kv/${key}`)
        return got.status === 200 && JSON.parse(got.text).value === want
      }, { timeoutMs: 60_000, intervalMs: 200 })
    }
    await stop()
  })

  it('a keyring created for an empty data dir refuses clear records; a legacy one accepts them until the pass ends', async () => {
    const priv = await generateKeyPair('Ed25519')
    // fresh data dir: no legacy flag, a clear value is tampering
    const fresh = join(dir, 'fresh')
    const p1 = await openProtection(fresh, { enabled: true, provider: 'identity' }, priv.raw)
    assert.equal(p1.keyring.legacyClear, undefined)
    const inner1 = new MemoryDatastore()
    await inner1.put(new Key('/dcis/crdt/objects/x'), new TextEncoder().encode('clear'))
    await assert.rejects(new SealedDatastore(inner1, p1.sealer).get(new Key('/dcis/crdt/objects/x')), TamperedRecordError)

    // a data dir with data (a catalogue snapshot in clear and a Raft segment)
    const old = join(dir, 'old')
    await mkdir(join(old, 'catalogue'), { recursive: true })
    await writeFile(join(old, 'catalogue', 'catalogue.snapshot'), 'clear catalogue')
    await mkdir(join(old, 'raft', 'g1', 'wal'), { recursive: true })
    await writeFile(join(old, 'raft', 'g1', 'wal', '0000000000000001-0000000000000001.seg'), 'clear wal')
    const p2 = await openProtection(old, { enabled: true, provider: 'identity' }, priv.raw)
    assert.deepEqual(p2.keyring.legacyClear?.raftFiles, ['raft/g1/wal/0000000000000001-0000000000000001.seg'])
    const inner2 = new MemoryDatastore()
    await inner2.put(new Key('/dcis/crdt/objects/y'), new TextEncoder().encode('clear y'))
    await inner2.put(new Key('/peers/not-ours'), new TextEncoder().encode('libp2p record'))
    const ds2 = new SealedDatastore(inner2, p2.sealer)
    assert.equal(new TextDecoder().decode(await ds2.get(new Key('/dcis/crdt/objects/y'))), 'clear y')

    let r = await migrateLegacyClear(old, p2.keyring, p2.sealer, inner2)
    assert.equal(r.resealed, 1)
    assert.equal(r.catalogue, true)
    assert.equal(r.raftRemaining, 1)
    assert.equal(r.done, false)
    // after the pass only Raft records may be clear: a clear datastore value is tampering again
    await inner2.put(new Key('/dcis/crdt/objects/late'), new TextEncoder().encode('clear late'))
    await assert.rejects(ds2.get(new Key('/dcis/crdt/objects/late')), TamperedRecordError)
    await inner2.delete(new Key('/dcis/crdt/objects/late'))
    assert.equal(new TextDecoder().decode(p2.sealer.open(new TextEncoder().encode('clear entry'), 'wal/g1/1/1')), 'clear entry')
    assert.equal(new TextDecoder().decode(await inner2.get(new Key('/peers/not-ours'))), 'libp2p record', 'libp2p records stay clear')
    assert.ok(!(await readFile(join(old, 'catalogue', 'catalogue.snapshot'))).includes(Buffer.from('clear catalogue')))
    assert.equal(new TextDecoder().decode(await ds2.get(new Key('/dcis/crdt/objects/y'))), 'clear y')

    // the legacy segment is compacted away: the next pass clears the flag, durably
    await rm(join(old, 'raft', 'g1', 'wal', '0000000000000001-0000000000000001.seg'))
    r = await migrateLegacyClear(old, p2.keyring, p2.sealer, inner2)
    assert.equal(r.done, true)
    assert.equal((await readKeyringFile(keyringPath(old)))?.legacyClear, undefined)
    await inner2.put(new Key('/dcis/crdt/objects/z'), new TextEncoder().encode('clear z'))
    await assert.rejects(ds2.get(new Key('/dcis/crdt/objects/z')), TamperedRecordError)
    // and a restart keeps refusing
    const p3 = await openProtection(old, { enabled: true, provider: 'identity' }, priv.raw)
    assert.equal(p3.keyring.legacyClear, undefined)
    await assert.rejects(new SealedDatastore(inner2, p3.sealer).get(new Key('/dcis/crdt/objects/z')), TamperedRecordError)
  })

  it('a malformed legacyClear in the keyring is refused at start', async () => {
    const priv = await generateKeyPair('Ed25519')
    const d = join(dir, 'bad')
    await openProtection(d, { enabled: true, provider: 'identity' }, priv.raw)
    const file = keyringPath(d)
    const doc = JSON.parse(await readFile(file, 'utf8'))
    doc.legacyClear = { since: 'yesterday', raftFiles: ['../../etc/passwd'] }
    await writeFile(file, JSON.stringify(doc), { mode: 0o600 })
    await assert.rejects(openProtection(d, { enabled: true, provider: 'identity' }, priv.raw), (e: Error) => e.name === 'KeyringError')
  })
})
