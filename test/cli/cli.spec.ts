/**
 * The `dcis` command's contract: --help everywhere, one-line errors with a
 * non-zero exit, --json output.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
})
