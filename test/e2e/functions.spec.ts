/**
 * Functions across two real peer processes (`dcis start`, as `dcis up` runs
 * them): `dcis fn deploy` on peer 0, `dcis fn invoke` by CID on peer 1
 * (which fetches the module over bitswap and runs it), `dcis fn ls`.
 *
 * Skipped, saying why, while MeshNode does not serve the function routes
 * (src/wasm/functions createFunctionService not wired in yet) or the CLI
 * lacks `dcis fn`.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import { cliCommand, REPO_ROOT, runCli } from '../helpers/cli.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'
import { buildExamples } from '../wasm/integration-mesh.js'

describe('e2e: functions on a 2-process mesh', function () {
  this.timeout(180_000)
  let dir: string
  let mesh: LocalMesh | undefined

  before(async function () {
    this.timeout(300_000)
    await buildExamples()
    dir = await mkdtemp(join(tmpdir(), 'dcis-e2e-fn-'))
    mesh = new LocalMesh({ nodes: 2, regions: ['eu-west', 'us-east'], basePort: await freePortBlock(2), dataDir: dir, logLevel: 'warn', command: cliCommand() })
    await mesh.start()
    const peers = mesh.peers
    await waitFor('both peer APIs to answer and see each other', async () => {
      for (const peer of peers) {
        assert.equal(peer.exited, false, `peer ${peer.index} exited; log: ${peer.logFile}`)
        const res = await fetch(`${peer.apiUrl}/v1/peers`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined)
        if (res?.status !== 200) return false
        const body = await res.json() as { peers: Array<{ peerId: string }> }
        if (!peers.every(o => o === peer || body.peers.some(p => p.peerId === o.peerId))) return false
      }
      return true
    }, { timeoutMs: 120_000 })
    const probe = await fetch(`${peers[0].apiUrl}/v1/functions`, { signal: AbortSignal.timeout(5000) })
    if (probe.status === 404) {
      console.warn('    skipped: MeshNode does not serve /v1/functions yet (createFunctionService not wired in)')
      this.skip()
    }
    const help = await runCli(['fn', '--help'])
    if (help.code !== 0) {
      console.warn('    skipped: src/cli/main.ts does not register `dcis fn` yet (registerFn)')
      this.skip()
    }
  })

  after(async function () {
    this.timeout(60_000)
    await mesh?.stop()
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it('deploy on peer 0, invoke on peer 1 (fetched by CID over bitswap, run there), ls', async function () {
    const [p0, p1] = (mesh as LocalMesh).peers
    const dep = await runCli(['fn', 'deploy', join(REPO_ROOT, 'examples/functions/build/echo.wasm'), '--name', 'echo', '--api', p0.apiUrl])
    assert.equal(dep.code, 0, dep.stderr)
    const id = dep.stdout.trim()
    assert.equal(id, 'bafkreid5cgnvs3lxdklh2tlwfxtpwoekz5k6rz22jhiainukegftp2wd44', 'the CID examples/manifests/echo.yaml carries')
    const inv = await runCli(['fn', 'invoke', id, '--data', 'across the mesh', '--json', '--api', p1.apiUrl])
    assert.equal(inv.code, 0, inv.stderr)
    const out = JSON.parse(inv.stdout) as { ranOn: string, body: string }
    assert.equal(out.body, 'across the mesh')
    assert.ok([p0.peerId, p1.peerId].includes(out.ranOn))
    const ls = await runCli(['fn', 'ls', '--json', '--api', p0.apiUrl])
    assert.equal(ls.code, 0, ls.stderr)
    assert.equal((JSON.parse(ls.stdout) as { functions: Array<{ name: string, id: string }> }).functions[0].id, id)
    const bad = await runCli(['fn', 'invoke', 'no-such-fn', '--api', p1.apiUrl])
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /FUNCTION_NOT_FOUND/)
  })
})
