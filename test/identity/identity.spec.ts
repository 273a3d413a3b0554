import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import {
  loadOrCreateIdentity,
  loadIdentity,
  identityFromPrivateKey,
  keyFilePath,
  publicKeyFromDid,
  peerIdFromDid,
  KeyFileMissingError,
  KeyFilePermissionsError,
  KeyFileCorruptError,
  DataDirError
} from '../../src/identity/index.js'

const posix = process.platform !== 'win32'

describe('identity: key file', () => {
  let root: string

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'dcis-identity-'))
  })

  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true })
  })

  it('creates the data dir (0700) and a 0600 key on first start', async function () {
    const dataDir = path.join(root, 'nested', 'data')
    const id = await loadOrCreateIdentity(dataDir)
    assert.equal(id.created, true)
    const st = await fs.stat(keyFilePath(dataDir))
    assert.ok(st.isFile())
    if (posix) {
      assert.equal(st.mode & 0o777, 0o600)
      assert.equal((await fs.stat(dataDir)).mode & 0o777, 0o700)
    }
    // no temp files left behind
    assert.deepEqual(await fs.readdir(dataDir), ['identity.key'])
  })

  it('same key -> same PeerId and DID across reloads', async () => {
    const first = await loadOrCreateIdentity(root)
    const second = await loadOrCreateIdentity(root)
    const third = await loadIdentity(root)
    assert.equal(first.created, true)
    assert.equal(second.created, false)
    for (const other of [second, third]) {
      assert.equal(other.peerId.toString(), first.peerId.toString())
      assert.equal(other.did, first.did)
      assert.deepEqual(other.publicKey, first.publicKey)
      assert.ok(other.privateKey.equals(first.privateKey))
    }
  })

  it('the DID key equals the peer id key', async () => {
    const id = await loadOrCreateIdentity(root)
    assert.match(id.did, /^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/)
    assert.equal(id.publicKey.length, 32)
    assert.deepEqual(publicKeyFromDid(id.did), id.peerId.publicKey?.raw)
    assert.ok(peerIdFromDid(id.did).equals(id.peerId))
  })

  it('stores the libp2p protobuf encoding of the key', async () => {
    const id = await loadOrCreateIdentity(root)
    const bytes = await fs.readFile(keyFilePath(root))
    assert.deepEqual(new Uint8Array(bytes), privateKeyToProtobuf(id.privateKey))
  })

  it('identityFromPrivateKey derives the same identity as loading', async () => {
    const key = await generateKeyPair('Ed25519')
    const a = identityFromPrivateKey(key)
    const b = identityFromPrivateKey(key)
    assert.equal(a.did, b.did)
    assert.ok(a.peerId.equals(b.peerId))
  })

  it('two concurrent first starts end with one identity', async () => {
    const results = await Promise.all([loadOrCreateIdentity(root), loadOrCreateIdentity(root), loadOrCreateIdentity(root)])
    assert.equal(results.filter(r => r.created).length, 1)
    assert.equal(new Set(results.map(r => r.did)).size, 1)
    assert.equal((await loadIdentity(root)).did, results[0].did)
  })

  it('loadIdentity throws KeyFileMissingError when there is no key', async () => {
    await assert.rejects(loadIdentity(root), (err: unknown) => {
      assert.ok(err instanceof KeyFileMissingError)
      assert.equal(err.code, 'KEY_FILE_MISSING')
      assert.ok(err.message.includes(keyFilePath(root)))
      return true
    })
  })

  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    it(`refuses a key file with mode 0${mode.toString(8)}, naming the file and the fix`, async function () {
      if (!posix) this.skip()
      await loadOrCreateIdentity(root)
      const file = keyFilePath(root)
      await fs.chmod(file, mode)
      for (const load of [loadIdentity, loadOrCreateIdentity]) {
        await assert.rejects(load(root), (err: unknown) => {
          assert.ok(err instanceof KeyFilePermissionsError)
          assert.equal(err.name, 'KeyFilePermissionsError')
          assert.equal(err.code, 'KEY_FILE_PERMISSIONS')
          assert.ok(err.message.includes(file), err.message)
          assert.ok(err.message.includes(`chmod 600 ${file}`), err.message)
          assert.ok(!err.message.includes('\n'))
          return true
        })
      }
      // the refused key was not replaced
      await fs.chmod(file, 0o600)
      assert.equal((await loadOrCreateIdentity(root)).created, false)
    })
  }

  const corruptions: Array<[string, (good: Uint8Array) => Uint8Array]> = [
    ['empty file', () => new Uint8Array(0)],
    ['garbage bytes', () => new TextEncoder().encode('not a key at all, just text\n')],
    ['truncated key', good => good.subarray(0, good.length - 10)],
    ['public half flipped', good => { const b = Uint8Array.from(good); b[b.length - 1] ^= 0x01; return b }],
    ['oversized file', () => new Uint8Array(10000)]
  ]
  for (const [label, corrupt] of corruptions) {
    it(`refuses a corrupt key file (${label}) and does not overwrite it`, async () => {
      await loadOrCreateIdentity(root)
      const file = keyFilePath(root)
      const bad = corrupt(new Uint8Array(await fs.readFile(file)))
      await fs.writeFile(file, bad, { mode: 0o600 })
      await assert.rejects(loadOrCreateIdentity(root), (err: unknown) => {
        assert.ok(err instanceof KeyFileCorruptError, String(err))
        assert.equal(err.code, 'KEY_FILE_CORRUPT')
        assert.ok(err.message.includes(file))
        assert.ok(!err.message.includes('\n'))
        return true
      })
      assert.deepEqual(new Uint8Array(await fs.readFile(file)), bad)
    })
  }

  it('refuses a key of the wrong type (secp256k1)', async () => {
    const key = await generateKeyPair('secp256k1')
    const file = keyFilePath(root)
    await fs.writeFile(file, privateKeyToProtobuf(key), { mode: 0o600 })
    await assert.rejects(loadIdentity(root), (err: unknown) => {
      assert.ok(err instanceof KeyFileCorruptError)
      assert.match(err.message, /secp256k1.*expected Ed25519/)
      return true
    })
  })

  it('refuses a symlinked key file', async function () {
    if (!posix) this.skip()
    const other = path.join(root, 'elsewhere')
    await fs.mkdir(other)
    await loadOrCreateIdentity(other)
    const dataDir = path.join(root, 'data')
    await fs.mkdir(dataDir, { mode: 0o700 })
    await fs.symlink(keyFilePath(other), keyFilePath(dataDir))
    await assert.rejects(loadIdentity(dataDir), KeyFileCorruptError)
  })

  it('refuses a data dir that is a file', async () => {
    const notDir = path.join(root, 'file')
    await fs.writeFile(notDir, 'x')
    await assert.rejects(loadOrCreateIdentity(notDir), (err: unknown) => {
      assert.ok(err instanceof DataDirError, String(err))
      assert.equal(err.code, 'DATA_DIR_INVALID')
      assert.ok(err.message.includes(notDir))
      return true
    })
  })
})
