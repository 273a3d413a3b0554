/**
 * The `dcis` command's contract: --help everywhere, one-line errors with a
 * non-zero exit, --json output.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadOrCreateIdentity, verifyJwt } from '../../src/identity/index.js'
import { runCli } from '../helpers/cli.js'

describe('cli', function () {
  this.timeout(60_000)
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'dcis-cli-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('prints help for the program and every command', async function () {
    const top = await runCli(['--help'])
    assert.equal(top.code, 0)
    for (const cmd of ['start', 'up', 'status', 'peers', 'nodes']) {
      assert.match(top.stdout, new RegExp(`\\b${cmd}\\b`))
    }
    const start = await runCli(['start', '--help'])
    assert.equal(start.code, 0)
    assert.match(start.stdout, /--bootstrap/)
    assert.match(start.stdout, /--rtt-matrix/)
  })

  it('rejects a bad config value with one line naming the field', async function () {
    const res = await runCli(['start', '--data-dir', join(dir, 'a'), '--api', '127.0.0.1:70000'])
    assert.notEqual(res.code, 0)
    const lines = res.stderr.trim().split('\n')
    assert.equal(lines.length, 1, res.stderr)
    assert.match(lines[0], /^dcis: .*api/)
  })

  it('rejects an unknown command and unknown options with a non-zero exit', async function () {
    assert.notEqual((await runCli(['frobnicate'])).code, 0)
    assert.notEqual((await runCli(['status', '--no-such-flag'])).code, 0)
  })

  it('says which URL it could not reach', async function () {
    const res = await runCli(['status', '--api', 'http://127.0.0.1:9'])
    assert.equal(res.code, 1)
    assert.match(res.stderr, /^dcis: cannot reach the dcis API at http:\/\/127\.0\.0\.1:9/)
  })

  it('validates dcis up arguments before starting anything', async function () {
    const res = await runCli(['up', '--nodes', '0', '--data-dir', join(dir, 'up')])
    assert.equal(res.code, 1)
    assert.match(res.stderr, /^dcis: --nodes/)
  })

  it('token issue prints a short-lived JWT for the data dir\'s own peer', async function () {
    const dataDir = join(dir, 'tok')
    const id = await loadOrCreateIdentity(dataDir)
    const res = await runCli(['token', 'issue', '--data-dir', dataDir, '--role', 'deploy', '--ttl', '2m'])
    assert.equal(res.code, 0, res.stderr)
    const { payload, issuer } = await verifyJwt(res.stdout.trim(), { audience: id.did })
    assert.equal(issuer, id.did)
    assert.equal(payload.role, 'deploy')
    assert.equal((payload.exp as number) - (payload.iat as number), 120)
    const tooLong = await runCli(['token', 'issue', '--data-dir', dataDir, '--ttl', '2h'])
    assert.equal(tooLong.code, 1)
    assert.match(tooLong.stderr, /^dcis: --ttl/)
  })

  it('kv and apply refuse bad arguments before calling a peer', async function () {
    const kv = await runCli(['kv', 'put', 'svc', 'k', 'v', '--if-revision', '-1', '--api', 'http://127.0.0.1:9'])
    assert.equal(kv.code, 1)
    assert.match(kv.stderr, /^dcis: --if-revision/)
    const apply = await runCli(['apply', '-f', join(dir, 'missing.yaml'), '--api', 'http://127.0.0.1:9'])
    assert.equal(apply.code, 1)
    assert.match(apply.stderr, /^dcis: -f /)
  })
})
