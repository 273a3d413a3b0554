import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { resolveBootstrap } from '../../src/config/index.js'
import { rejectsConfig, tempDir } from './helpers.js'

describe('config: resolveBootstrap', () => {
  let dir: string
  let p1: string
  let p2: string

  before(async () => {
    p1 = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    p2 = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  })

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true })
  })

  async function writeFile (name: string, value: unknown): Promise<string> {
    const file = path.join(dir, name)
    await fs.writeFile(file, typeof value === 'string' ? value : JSON.stringify(value))
    return file
  }

  it('reads files and direct multiaddrs, dropping duplicates, in order', async () => {
    const a1 = `/ip4/127.0.0.1/tcp/8180/p2p/${p1}`
    const a2 = `/dns4/edge.example.net/tcp/4001/p2p/${p2}`
    await writeFile('fed.json', { federation: 'fed', note: 'hi', peers: [a1, a2] })
    const out = await resolveBootstrap(['fed.json', a1, `/ip6/::1/tcp/9/p2p/${p1}`], { cwd: dir })
    assert.deepEqual(out.map(String), [a1, a2, `/ip6/::1/tcp/9/p2p/${p1}`])
  })

  it('the repository bootstrap/local.json is valid and empty', async () => {
    const out = await resolveBootstrap(['bootstrap/local.json'], { cwd: process.cwd(), federation: 'local' })
    assert.deepEqual(out, [])
  })

  it('an empty list gives no peers', async () => {
    assert.deepEqual(await resolveBootstrap([], { cwd: dir }), [])
  })

  it('refuses a direct multiaddr without /p2p, or with a bad peer id', async () => {
    await rejectsConfig(resolveBootstrap(['/ip4/127.0.0.1/tcp/8180'], { cwd: dir }), { field: 'bootstrap[0]', reason: /must end with \/p2p\/<peerId>/ })
    await rejectsConfig(resolveBootstrap([`/ip4/127.0.0.1/tcp/1/p2p/${p1}`, '/ip4/127.0.0.1/tcp/1/p2p/QmNotAPeer'], { cwd: dir }), { field: 'bootstrap[1]', reason: /invalid peer id/ })
    await rejectsConfig(resolveBootstrap([`/p2p/${p1}`], { cwd: dir }), { field: 'bootstrap[0]', reason: /transport address/ })
    await rejectsConfig(resolveBootstrap([`/ip4/127.0.0.1/tcp/1/p2p/${p1}/tcp/2`], { cwd: dir }), { field: 'bootstrap[0]', reason: /must end with/ })
  })

  it('refuses bad files, naming the file and the entry', async () => {
    const noP2p = await writeFile('a.json', { peers: [`/ip4/1.2.3.4/tcp/1/p2p/${p1}`, '/ip4/10.0.0.5/tcp/4001'] })
    await rejectsConfig(resolveBootstrap(['a.json'], { cwd: dir }), { field: 'bootstrap[0].peers[1]', source: `file ${noP2p}`, reason: /must end with \/p2p/ })

    const cases: Array<[unknown, string, RegExp, string?]> = [
      ['{not json', 'bootstrap[0]', /not valid JSON/, 'CONFIG_FILE_MALFORMED'],
      [[`/ip4/1.2.3.4/tcp/1/p2p/${p1}`], 'bootstrap[0]', /must hold/],
      [{ peers: 'x' }, 'bootstrap[0].peers', /must be a list/],
      [{}, 'bootstrap[0].peers', /must be a list/],
      [{ peers: [], peer: [] }, 'bootstrap[0].peer', /unknown key/, 'CONFIG_UNKNOWN_KEY'],
      [{ peers: [42] }, 'bootstrap[0].peers[0]', /multiaddr string/],
      [{ peers: ['/ip4/999.0.0.1/tcp/1/p2p/x'] }, 'bootstrap[0].peers[0]', /not a valid multiaddr/],
      [{ federation: 'Bad Name', peers: [] }, 'bootstrap[0].federation', /1-63/]
    ]
    for (const [content, field, reason, code] of cases) {
      const file = await writeFile('b.json', content)
      await rejectsConfig(resolveBootstrap([file], { cwd: '/' }), { field, reason, source: `file ${file}`, ...(code != null ? { code } : {}) })
    }
  })

  it('refuses a file of another federation when asked to check', async () => {
    await writeFile('other.json', { federation: 'other', peers: [] })
    await rejectsConfig(resolveBootstrap(['other.json'], { cwd: dir, federation: 'local' }), { field: 'bootstrap[0].federation', reason: /federation "local"/ })
    assert.deepEqual(await resolveBootstrap(['other.json'], { cwd: dir }), [])
  })

  it('refuses a missing file or a directory', async () => {
    await rejectsConfig(resolveBootstrap(['missing.json'], { cwd: dir }), { field: 'bootstrap[0]', code: 'CONFIG_FILE_UNREADABLE', reason: /no such file/, source: `file ${path.join(dir, 'missing.json')}` })
    await rejectsConfig(resolveBootstrap([dir], { cwd: dir }), { field: 'bootstrap[0]', code: 'CONFIG_FILE_UNREADABLE' })
  })

  it('honours an aborted signal', async () => {
    const ac = new AbortController()
    ac.abort()
    await assert.rejects(resolveBootstrap([`/ip4/127.0.0.1/tcp/1/p2p/${p1}`], { cwd: dir, signal: ac.signal }), { name: 'AbortError' })
  })
})
