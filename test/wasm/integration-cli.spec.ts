/**
 * `dcis fn deploy|invoke|ls` against a real peer's API (in-process peer,
 * the command's run functions called as the CLI calls them), plus the
 * commander wiring of registerFn.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { registerFn } from '../../src/cli/commands/fn.js'
import { runFnDeploy, runFnInvoke, runFnLs } from '../../src/cli/commands/fn-run.js'
import { cidOf, fixture } from './helpers.js'
import { removeDir, startFnPeer } from './integration-mesh.js'
import type { FnPeer } from './integration-mesh.js'

class Capture {
  chunks: Buffer[] = []
  write (s: string | Uint8Array): boolean {
    this.chunks.push(typeof s === 'string' ? Buffer.from(s) : Buffer.from(s))
    return true
  }

  get text (): string {
    return Buffer.concat(this.chunks).toString('utf8')
  }
}

describe('wasm integration: dcis fn', function () {
  this.timeout(30_000)
  let peer: FnPeer
  let dir: string
  let wasm: string

  before(async () => {
    peer = await startFnPeer({ name: 'cli', runtime: { workers: 1 } })
    dir = await mkdtemp(join(tmpdir(), 'dcis-fn-cli-'))
    wasm = join(dir, 'echo.wasm')
    await writeFile(wasm, await fixture('echo'))
  })

  after(async () => {
    await peer?.stop()
    if (peer != null) await removeDir(peer.dir)
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it('deploy prints the id (the CID of the file)', async () => {
    const out = new Capture()
    await runFnDeploy(wasm, { name: 'echo', api: peer.url }, out)
    assert.equal(out.text, `${await cidOf(await fixture('echo'))}\n`)
    const json = new Capture()
    await runFnDeploy(wasm, { name: 'echo', api: peer.url, json: true, timeoutMs: '500' }, json)
    assert.equal(JSON.parse(json.text).name, 'echo')
  })

  it('invoke prints the body; --data @FILE; --json says where it ran', async () => {
    const out = new Capture()
    await runFnInvoke('echo', { api: peer.url, data: 'hi there' }, out)
    assert.equal(out.text, 'hi there')
    const file = join(dir, 'input.txt')
    await writeFile(file, 'from a file')
    const f = new Capture()
    await runFnInvoke('echo', { api: peer.url, data: `@${file}` }, f)
    assert.equal(f.text, 'from a file')
    const j = new Capture()
    await runFnInvoke('echo', { api: peer.url, data: 'x', json: true }, j)
    const parsed = JSON.parse(j.text)
    assert.equal(parsed.ranOn, peer.id)
    assert.equal(parsed.body, 'x')
    assert.equal(typeof parsed.durationMs, 'number')
  })

  it('ls prints a table, --json the envelope', async () => {
    const t = new Capture()
    await runFnLs({ api: peer.url }, t)
    assert.match(t.text, /^NAME\s+VERSION\s+ABI\s+SIZE\s+ID\n/)
    assert.match(t.text, /echo\s+1\/1\s+wasi/)
    const j = new Capture()
    await runFnLs({ api: peer.url, json: true }, j)
    assert.equal(JSON.parse(j.text).functions[0].name, 'echo')
  })

  it('errors are one-line CliErrors with the API code', async () => {
    await assert.rejects(runFnInvoke('missing', { api: peer.url }, new Capture()), (err: Error & { code?: string }) => {
      assert.equal(err.name, 'CliError')
      assert.equal(err.code, 'FUNCTION_NOT_FOUND')
      assert.match(err.message, /404/)
      return true
    })
    await assert.rejects(runFnDeploy(join(dir, 'nope.wasm'), { name: 'x', api: peer.url }, new Capture()), { name: 'CliError', code: 'BAD_ARGUMENT' })
    await assert.rejects(runFnDeploy(wasm, { name: 'x', api: peer.url, abi: 'cobol' }, new Capture()), { name: 'CliError', code: 'BAD_ARGUMENT' })
    await assert.rejects(runFnDeploy(wasm, { name: 'x', api: peer.url, memoryMb: 'lots' }, new Capture()), { name: 'CliError', code: 'BAD_ARGUMENT' })
    await assert.rejects(runFnInvoke('echo', { api: peer.url, data: `@${join(dir, 'absent')}` }, new Capture()), { name: 'CliError', code: 'BAD_ARGUMENT' })
  })

  it('registerFn: the subcommands and their required options', async () => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} })
    registerFn(program)
    const fn = program.commands.find(c => c.name() === 'fn')
    assert.deepEqual(fn?.commands.map(c => c.name()).sort(), ['deploy', 'invoke', 'ls'])
    for (const c of fn?.commands ?? []) c.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} })
    await assert.rejects(program.parseAsync(['fn', 'deploy', wasm], { from: 'user' }), /--name/)
  })
})
