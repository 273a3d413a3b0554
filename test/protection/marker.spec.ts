/**
 * The acceptance test of encryption at rest: a random marker written to a
 * strong and an eventual service (two real MeshNodes, both replicas) is
 * found in no file under either data dir - not verbatim, not in base64, not
 * in hex - once the peers stopped cleanly; restarted on the same dirs they
 * read it back. With a wrong passphrase the peer refuses to start with one
 * line. (Seed of the marker printed on failure.)
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { defaultConfig } from '../../src/config/index.js'
import { createMeshNode } from '../../src/node/index.js'
import { WrongKeyError } from '../../src/protection/index.js'
import { runCli } from '../helpers/cli.js'
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

/** the marker and its base64 (each of the three alignments) and hex encodings */
function needles (marker: string): string[] {
  const b = Buffer.from(marker)
  const b64 = [0, 1, 2].map(skip => {
    const s = Buffer.concat([Buffer.alloc(skip), b]).toString('base64')
    // drop the characters touched by the padding bytes and the tail
    const from = Math.ceil((skip * 4) / 3) + 1
    return s.slice(from, s.length - 4)
  })
  return [marker, b.toString('hex'), b.toString('hex').toUpperCase(), ...b64]
}

describe('protection: nothing a service stores is on disk in clear', function () {
  this.timeout(180_000)
  const marker = `mk-${randomBytes(12).toString('hex')}`
  let dir: string
  let nodes: MeshNode[] = []

  function configFor (i: number, passphrase: boolean): DcisConfig {
    const c = defaultConfig()
    return {
      ...c,
      dataDir: join(dir, `peer-${i}`),
      region: 'eu-west',
      zone: `eu-west-${i}`,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      api: { ...c.api, host: '127.0.0.1', port: 0, trustLoopback: true },
      storage: { encryption: { enabled: true, provider: passphrase ? 'passphrase' : 'identity' } }
    }
  }

  async function startAll (): Promise<void> {
    nodes = []
    for (let i = 0; i < 2; i++) {
      const n = createMeshNode({ config: configFor(i, i === 1), bootstrapPeers: i === 0 ? [] : nodes[0].libp2p.getMultiaddrs(), logger: pino({ level: 'silent' }) })
      await n.start()
      nodes.push(n)
    }
    const has = (n: MeshNode, m: MeshNode): boolean => n.registry.list().some(e => e.end.peerId === m.libp2p.peerId.toString())
    await waitFor('the peers verified each other', () => has(nodes[0], nodes[1]) && has(nodes[1], nodes[0]), { timeoutMs: 30_000, intervalMs: 20 })
  }

  async function stopAll (): Promise<void> {
    for (const n of nodes.reverse()) await n.stop()
    nodes = []
  }

  async function call (n: MeshNode, method: string, path: string, body?: string, type = 'text/plain'): Promise<{ status: number, text: string }> {
    const res = await fetch(`${n.api?.url ?? ''}${path}`, { method, ...(body != null ? { body, headers: { 'content-type': type } } : {}) })
    return { status: res.status, text: await res.text() }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcis-marker-'))
    process.env.DCIS_KEY_PASSPHRASE = 'correct horse battery staple'
  })

  after(async function () {
    this.timeout(60_000)
    await stopAll()
    delete process.env.DCIS_KEY_PASSPHRASE
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it('write, stop, grep every file, restart, read back', async function () {
    this.timeout(180_000)
    await startAll()
    for (const [name, consistency] of [['ev', { mode: 'eventual' }], ['st', { mode: 'strong', latencyRadiusMs: 50 }]] as const) {
      const m = { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name }, spec: { replicas: 2, consistency } }
      const r = await call(nodes[0], 'POST', '/v1/manifests', JSON.stringify(m), 'application/json')
      assert.equal(r.status, 201, r.text)
    }
    for (const name of ['ev', 'st']) {
      await waitFor(`a write to ${name}`, async () => (await call(nodes[0], 'PUT', `/v1/services/${name}/kv/secret`, `value ${marker} end`)).status === 200, { timeoutMs: 60_000, intervalMs: 200 })
      // both replicas hold it
      for (const n of nodes) {
        await waitFor(`${name} replicated`, async () => {
          const got = await call(n, 'GET', `/v1/services/${name}/kv/secret`)
          return got.status === 200 && got.text.includes(marker)
        }, { timeoutMs: 60_000, intervalMs: 100 })
      }
    }
    // a strong service also snapshots: force a few more writes through the WAL
    for (let i = 0; i < 20; i++) assert.equal((await call(nodes[0], 'PUT', `/v1/services/st/kv/k${i}`, `${marker}-${i}`)).status, 200)
    await stopAll()

    const files = await filesUnder(dir)
    assert.ok(files.length > 10, `expected the data dirs to hold files (found ${files.length})`)
    const found: string[] = []
    let scanned = 0
    for (const f of files) {
      if ((await stat(f)).size > 256 * 1024 * 1024) continue
      const bytes = await readFile(f)
      scanned += bytes.byteLength
      for (const n of needles(marker)) {
        if (bytes.includes(Buffer.from(n))) found.push(`${f}: ${n}`)
      }
    }
    assert.deepEqual(found, [], `marker ${marker} found in clear`)
    assert.ok(scanned > 0)
    assert.ok(files.some(f => f.includes(join('raft', ''))), 'a raft WAL was written')

    await startAll()
    for (const name of ['ev', 'st']) {
      await waitFor(`${name} reads back after the restart`, async () => {
        const got = await call(nodes[1], 'GET', `/v1/services/${name}/kv/secret`)
        return got.status === 200 && JSON.parse(got.text).value === `value ${marker} end`
      }, { timeoutMs: 60_000, intervalMs: 200 })
    }
    await stopAll()
  })

  it('key rotation while writing (API and dcis keys), then a restart: every value reads back', async function () {
    this.timeout(180_000)
    await startAll()
    const written: string[] = []
    let writing = true
    const writer = (async () => {
      for (let i = 0; writing || i < 30; i++) {
        for (const name of ['ev', 'st']) {
          const r = await call(nodes[0], 'PUT', `/v1/services/${name}/kv/r${i}`, `${name}-${i}`)
          assert.equal(r.status, 200, r.text)
          written.push(`${name}/r${i}`)
        }
      }
    })()
    try {
      for (let k = 0; k < 3; k++) {
        const r = await call(nodes[k % 2], 'POST', '/v1/keys/rotate')
        assert.equal(r.status, 200, r.text)
        await waitFor('writes after the rotation', () => written.length >= (k + 1) * 8, { timeoutMs: 30_000, intervalMs: 10 })
      }
      const cli = await runCli(['keys', 'rotate', '--api', nodes[1].api?.url ?? '', '--json'])
      assert.equal(cli.code, 0, cli.stderr)
      const st = await runCli(['keys', 'status', '--api', nodes[1].api?.url ?? ''])
      assert.equal(st.code, 0, st.stderr)
      assert.match(st.stdout, /encryption at rest: on, provider passphrase, active key k00000\d/)
      assert.match(st.stdout, /retired/)
    } finally {
      writing = false
      await writer
    }
    const keys0 = JSON.parse((await call(nodes[0], 'GET', '/v1/keys')).text) as { keys: Array<{ state: string }> }
    assert.ok(keys0.keys.filter(k => k.state === 'retired').length >= 1)
    await stopAll()
    await startAll()
    for (const n of nodes) {
      for (const path of written) {
        const [name, key] = path.split('/')
        await waitFor(`${path} on ${n.libp2p.peerId.toString()}`, async () => {
          const got = await call(n, 'GET', `/v1/services/${name}/kv/${key}`)
          return got.status === 200 && JSON.parse(got.text).value === `${name}-${key.slice(1)}`
        }, { timeoutMs: 30_000, intervalMs: 100 })
      }
    }
    await stopAll()
  })

  it('a wrong passphrase stops the peer at start with one line', async () => {
    process.env.DCIS_KEY_PASSPHRASE = 'not the passphrase at all'
    const n = createMeshNode({ config: configFor(1, true), bootstrapPeers: [], logger: pino({ level: 'silent' }) })
    await assert.rejects(n.start(), (err: Error) => err instanceof WrongKeyError && !err.message.includes('\n'))
    await n.stop()
    process.env.DCIS_KEY_PASSPHRASE = 'correct horse battery staple'
  })

  it('dcis start with a wrong passphrase exits 1 with one line on stderr', async function () {
    this.timeout(60_000)
    const file = join(dir, 'wrong-key.yaml')
    await writeFile(file, `dataDir: ${join(dir, 'peer-1')}\nlisten: [/ip4/127.0.0.1/tcp/0]\napi: { host: 127.0.0.1, port: 0 }\nstorage: { encryption: { enabled: true, provider: passphrase } }\n`)
    const r = await runCli(['start', '--config', file, '--log-level', 'silent'], { env: { DCIS_KEY_PASSPHRASE: 'not the passphrase at all', DCIS_NO_REEXEC: '1' }, timeoutMs: 50_000 })
    assert.equal(r.code, 1, r.stderr)
    const lines = r.stderr.trim().split('\n')
    assert.equal(lines.length, 1, r.stderr)
    assert.match(lines[0], /^dcis: key k000001 does not unwrap with the passphrase key/)
  })
})
