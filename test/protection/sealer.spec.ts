/**
 * The sealer, the keyring and its providers, the sealed datastore: records
 * open only at their own identity under a held key; altered, moved or clear
 * bytes are reported (TamperedRecordError), never returned; rotation keeps
 * old records readable; a wrong key-encryption key or passphrase refuses the
 * keyring; the transit provider speaks the Vault transit API.
 */
import assert from 'node:assert/strict'
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { mkdtemp, rm, stat, chmod, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import {
  identityKeyProvider, Keyring, keyringPath, KeyringError, openProtection, passphraseKeyProvider, SealedDatastore, Sealer,
  TamperedRecordError, TransitKeyProvider, UnknownKeyError, WrongKeyError
} from '../../src/protection/index.js'
import type { AddressInfo } from 'node:net'

async function all<T> (it: AsyncIterable<T> | Iterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

const SEED = Number(process.env.SEAL_SEED ?? Date.now() % 100000)
function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
}

describe('protection: sealer, keyring, sealed datastore', function () {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dcis-prot-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })
  afterEach(function () { if (this.currentTest?.state === 'failed') console.error(`SEAL_SEED=${SEED}`) })

  const fixed = (): Sealer & { use: (id: string) => void } => {
    const keys = new Map([['k1', new Uint8Array(randomBytes(32))], ['k2', new Uint8Array(randomBytes(32))]])
    let active = 'k1'
    return Object.assign(new Sealer({ get activeId () { return active }, key: (id) => keys.get(id) }), { use: (id: string) => { active = id } })
  }

  it('round-trips; every single-bit flip, a moved record or a clear value is refused', () => {
    const s = fixed()
    const rnd = prng(SEED)
    const plain = new Uint8Array(Array.from({ length: 1 + Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256)))
    const sealed = s.seal(plain, '/svc/a')
    assert.deepEqual(s.open(sealed, '/svc/a'), plain)
    if (plain.byteLength >= 8) assert.equal(Buffer.from(sealed).includes(Buffer.from(plain)), false)
    for (let bit = 0; bit < sealed.byteLength * 8; bit += 1 + Math.floor(rnd() * 7)) {
      const bad = sealed.slice()
      bad[bit >> 3] ^= 1 << (bit & 7)
      assert.throws(() => s.open(bad, '/svc/a'), (e: Error) => e instanceof TamperedRecordError || e instanceof UnknownKeyError, `bit ${bit}`)
    }
    assert.throws(() => s.open(sealed, '/svc/b'), TamperedRecordError)
    assert.throws(() => s.open(plain, '/svc/a'), TamperedRecordError)
    assert.throws(() => s.open(sealed.subarray(0, 10), '/svc/a'), TamperedRecordError)
    // two seals of one value differ (fresh nonces)
    assert.notDeepEqual(s.seal(plain, 'x'), s.seal(plain, 'x'))
  })

  it('rotation: new records use the new key, old ones still open; a key the ring lacks is UnknownKeyError', () => {
    const s = fixed()
    const old = s.seal(new TextEncoder().encode('old'), 'r')
    s.use('k2')
    const neu = s.seal(new TextEncoder().encode('new'), 'r')
    assert.equal(s.keyIdOf(old), 'k1')
    assert.equal(s.keyIdOf(neu), 'k2')
    assert.equal(new TextDecoder().decode(s.open(old, 'r')), 'old')
    const other = new Sealer({ activeId: 'k9', key: (id) => id === 'k9' ? new Uint8Array(32) : undefined })
    assert.throws(() => other.open(neu, 'r'), UnknownKeyError)
  })

  it('keyring: created 0600, rotated durably, reopened with every key; a wrong identity or passphrase is WrongKeyError', async () => {
    const id = await generateKeyPair('Ed25519')
    const ring = await Keyring.open(dir, identityKeyProvider(id.raw))
    assert.equal((await stat(keyringPath(dir))).mode & 0o777, 0o600)
    assert.equal((await stat(join(dir, 'keys'))).mode & 0o777, 0o700)
    const s = new Sealer(ring)
    const a = s.seal(new Uint8Array([1, 2, 3]), 'a')
    assert.equal(await ring.rotate(), 'k000002')
    const b = s.seal(new Uint8Array([4]), 'b')
    assert.deepEqual(ring.status().keys.map(k => [k.id, k.state]), [['k000001', 'retired'], ['k000002', 'active']])
    const again = new Sealer(await Keyring.open(dir, identityKeyProvider(id.raw)))
    assert.deepEqual(again.open(a, 'a'), new Uint8Array([1, 2, 3]))
    assert.deepEqual(again.open(b, 'b'), new Uint8Array([4]))
    assert.equal(again.activeKeyId, 'k000002')
    // the file holds no raw key
    const text = await readFile(keyringPath(dir), 'utf8')
    assert.ok(!text.includes(Buffer.from(ring.key('k000001') as Uint8Array).toString('base64')))
    const other = await generateKeyPair('Ed25519')
    await assert.rejects(Keyring.open(dir, identityKeyProvider(other.raw)), WrongKeyError)
    await chmod(keyringPath(dir), 0o644)
    await assert.rejects(Keyring.open(dir, identityKeyProvider(id.raw)), KeyringError)
  })

  it('openProtection: passphrase from the environment, a wrong one and a missing one refused with one line', async () => {
    const id = await generateKeyPair('Ed25519')
    const cfg = { enabled: true, provider: 'passphrase' as const }
    const p = await openProtection(dir, cfg, id.raw, { DCIS_KEY_PASSPHRASE: 'a long passphrase' })
    const sealed = p.sealer.seal(new Uint8Array([9]), 'z')
    const q = await openProtection(dir, cfg, id.raw, { DCIS_KEY_PASSPHRASE: 'a long passphrase' })
    assert.deepEqual(q.sealer.open(sealed, 'z'), new Uint8Array([9]))
    for (const env of [{ DCIS_KEY_PASSPHRASE: 'another passphrase' }, {}]) {
      await assert.rejects(openProtection(dir, cfg, id.raw, env), (e: Error) => e instanceof WrongKeyError && !e.message.includes('\n'))
    }
    // configured for another provider than the keyring's
    await assert.rejects(openProtection(dir, { enabled: true, provider: 'identity' }, id.raw, {}), WrongKeyError)
    assert.throws(() => passphraseKeyProvider('short', new Uint8Array(16)), WrongKeyError)
  })

  it('transit provider: wraps and unwraps through a Vault-transit-compatible service; its refusals are typed', async () => {
    // a minimal transit service (the real API's shapes), with its master key in this process only
    const master = randomBytes(32)
    const seen: string[] = []
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => { body += c.toString() })
      req.on('end', () => {
        seen.push(`${req.method ?? ''} ${req.url ?? ''} ${String(req.headers['x-vault-token'])}`)
        if (req.headers['x-vault-token'] !== 's.token') { res.writeHead(403).end('{"errors":["permission denied"]}'); return }
        const j = JSON.parse(body) as { plaintext?: string, ciphertext?: string }
        if (req.url === '/v1/transit/encrypt/dcis') {
          const nonce = randomBytes(12)
          const c = createCipheriv('aes-256-gcm', master, nonce)
          const ct = Buffer.concat([nonce, c.update(Buffer.from(j.plaintext ?? '', 'base64')), c.final(), c.getAuthTag()])
          res.end(JSON.stringify({ data: { ciphertext: `vault:v1:${ct.toString('base64')}` } }))
        } else if (req.url === '/v1/transit/decrypt/dcis') {
          try {
            const raw = Buffer.from(String(j.ciphertext).replace('vault:v1:', ''), 'base64')
            const d = createDecipheriv('aes-256-gcm', master, raw.subarray(0, 12))
            d.setAuthTag(raw.subarray(raw.byteLength - 16))
            const pt = Buffer.concat([d.update(raw.subarray(12, raw.byteLength - 16)), d.final()])
            res.end(JSON.stringify({ data: { plaintext: pt.toString('base64') } }))
          } catch {
            res.writeHead(400).end('{"errors":["cipher: message authentication failed"]}')
          }
        } else res.writeHead(404).end('{}')
      })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const provider = new TransitKeyProvider({ url, key: 'dcis', token: 's.token' })
      const ring = await Keyring.open(dir, provider)
      const sealed = new Sealer(ring).seal(new Uint8Array([7, 7]), 'q')
      const reopened = new Sealer(await Keyring.open(dir, new TransitKeyProvider({ url, key: 'dcis', token: 's.token' })))
      assert.deepEqual(reopened.open(sealed, 'q'), new Uint8Array([7, 7]))
      assert.ok(seen.some(l => l.startsWith('POST /v1/transit/encrypt/dcis s.token')))
      assert.ok((await readFile(keyringPath(dir), 'utf8')).includes('vault:v1:'))
      await assert.rejects(Keyring.open(dir, new TransitKeyProvider({ url, key: 'dcis', token: 'wrong' })), { name: 'KeyProviderError' })
      const wrapped = (JSON.parse(await readFile(keyringPath(dir), 'utf8')) as { keys: Array<{ wrapped: string }> }).keys[0].wrapped
      await assert.rejects(provider.unwrap(wrapped.slice(0, -6) + 'AAAAAA', 'k000001'), WrongKeyError)
    } finally {
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  })

  it('sealed datastore: values sealed under their key; queries, batches and many-ops see clear values; tampering is reported', async () => {
    const inner = new MemoryDatastore()
    const s = fixed()
    const ds = new SealedDatastore(inner, s)
    const enc = new TextEncoder()
    await ds.put(new Key('/a/1'), enc.encode('one'))
    const b = ds.batch()
    b.put(new Key('/a/2'), enc.encode('two'))
    b.put(new Key('/b/1'), enc.encode('three'))
    await b.commit()
    await all(ds.putMany([{ key: new Key('/a/3'), value: enc.encode('four') }]))
    assert.equal(new TextDecoder().decode(await ds.get(new Key('/a/2'))), 'two')
    assert.ok(!Buffer.from(await inner.get(new Key('/a/2'))).includes(Buffer.from('two')))
    const q = await all(ds.query({ prefix: '/a', filters: [(p) => new TextDecoder().decode(p.value) !== 'one'], orders: [(x, y) => Math.sign(x.key.toString().localeCompare(y.key.toString())) as -1 | 0 | 1], limit: 1 }))
    assert.deepEqual(q.map(p => new TextDecoder().decode(p.value)), ['two'])
    assert.deepEqual((await all(ds.queryKeys({ prefix: '/a', offset: 1 }))).length, 2)
    assert.deepEqual((await all(ds.getMany([new Key('/b/1')]))).map(p => new TextDecoder().decode(p.value)), ['three'])
    // a value copied under another key, or written in clear, is refused
    await inner.put(new Key('/a/9'), await inner.get(new Key('/a/1')))
    await assert.rejects(ds.get(new Key('/a/9')), TamperedRecordError)
    await inner.put(new Key('/a/8'), enc.encode('clear'))
    await assert.rejects(ds.get(new Key('/a/8')), TamperedRecordError)
    await assert.rejects(all(ds.query({ prefix: '/a' })), TamperedRecordError)
  })
})
