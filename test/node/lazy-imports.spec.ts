import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** in a fresh Node process: import `module` and list every module URL it resolved */
async function resolvedBy (module: string): Promise<string[]> {
  const script = `
    import { registerHooks } from 'node:module'
    const seen = []
    registerHooks({ resolve (s, c, next) { const r = next(s, c); seen.push(r.url); return r } })
    await import(process.argv[1])
    process.stdout.write(JSON.stringify(seen))
  `
  const path = fileURLToPath(new URL(module, import.meta.url))
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, path], { maxBuffer: 64 * 1024 * 1024 })
  return JSON.parse(stdout) as string[]
}

describe('node: capabilities an idle peer does not use are not loaded with it', function () {
  this.timeout(120_000)

  it('the whole peer (mesh-node) does not load automerge; its engine module does', async () => {
    const peer = await resolvedBy('../../src/node/mesh-node.ts')
    assert.ok(peer.length > 100, `only ${peer.length} modules: the probe is broken`)
    assert.deepEqual(peer.filter(u => u.includes('@automerge/')), [])
    // the check can fail: the lazily loaded engine does resolve automerge
    const engine = await resolvedBy('../../src/crdt/automerge/engine.ts')
    assert.ok(engine.some(u => u.includes('@automerge/')))
  })

  it('the whole peer does not load did-jwt (signing only) nor UPnP (off by default); the modules that use them do', async () => {
    const peer = await resolvedBy('../../src/node/mesh-node.ts')
    assert.deepEqual(peer.filter(u => u.includes('/did-jwt/') || u.includes('@libp2p/upnp-nat') || u.includes('nat-port-mapper')), [])
    // the check can fail: did-jwt itself is found by the same probe
    const jwt = await resolvedBy('../../node_modules/did-jwt/lib.esm/index.js')
    assert.ok(jwt.some(u => u.includes('/did-jwt/')))
  })

  it('starting a peer (the CLI\'s start command, config loading included) does not load TypeBox; the schema source does', async () => {
    const start = await resolvedBy('../../src/cli/commands/start-run.ts')
    assert.ok(start.some(u => u.includes('/src/config/load.ts')), 'the probe did not reach config loading')
    assert.deepEqual(start.filter(u => u.includes('@sinclair/typebox')), [])
    // the check can fail: the TypeBox source of the schemas resolves it
    const source = await resolvedBy('../../src/config/schema-source.ts')
    assert.ok(source.some(u => u.includes('@sinclair/typebox')))
  })
})
