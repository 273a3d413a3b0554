/**
 * e2e (issue 10): a peer that dies without cleaning up (SIGKILL, or exit 70
 * after an uncaught exception) and is restarted by a supervisor as PID 1, as
 * Docker's `--restart unless-stopped` does, comes back with its Raft
 * replicas. Its LOCK files say "1", and the restarted peer is PID 1 again:
 * before the fix it took its own stale lock for a live owner and skipped its
 * replicas.
 *
 * Peer 2 runs in its own PID namespace (`unshare --pid --fork
 * --mount-proc --kill-child`, as a container does), the others as usual.
 * Needs dist/ and unshare(1) with PID namespaces (root or user namespaces);
 * skipped where they are missing.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'
import { REPO_ROOT } from '../helpers/cli.js'
import { tryHttp } from '../helpers/http.js'
import type { Json } from '../helpers/http.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'

const DIST_CLI = join(REPO_ROOT, 'dist/cli/main.js')
const SERVICE = 'ledger'
const MANIFEST = JSON.stringify({ apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: SERVICE }, spec: { replicas: 3, runtime: 'wasi', consistency: { mode: 'strong' } } })
// not root: a user namespace makes the PID namespace possible where the kernel allows it
const UNSHARE = ['unshare', ...(process.getuid?.() === 0 ? [] : ['--map-root-user']), '--pid', '--fork', '--mount-proc', '--kill-child']

async function http (peer: LocalPeer, method: string, path: string, body?: string): Promise<{ status: number, json: Json }> {
  return tryHttp(peer.apiUrl, method, path, body, path.includes('/kv/') ? 'text/plain' : 'application/json', 10_000)
}

/**
 * Runs every peer through env(1), which execs its arguments: peers 0 and 1
 * are `node dist/cli/main.js start ...`, peer 2 is the same behind unshare,
 * so `dcis start` is PID 1 in its namespace.
 */
class Pid1Mesh extends LocalMesh {
  override argsFor (peer: LocalPeer): string[] {
    const args = [process.execPath, DIST_CLI, ...super.argsFor(peer)]
    return peer.index === 2 ? [...UNSHARE, '--', ...args] : args
  }
}

describe('e2e: a peer restarted as PID 1 after a crash gets its Raft replicas back', function () {
  this.timeout(180_000)
  let dir: string
  let mesh: LocalMesh | undefined

  before(async function () {
    if (!existsSync(DIST_CLI)) throw new Error('dist/ is missing: run `npm run build` first')
    const probe = spawnSync(UNSHARE[0], [...UNSHARE.slice(1), 'sh', '-c', 'echo $$'], { encoding: 'utf8' })
    if (probe.status !== 0 || probe.stdout.trim() !== '1') {
      console.log(`      skipped: no PID namespaces here (${probe.stderr?.trim() ?? probe.error?.message})`)
      this.skip()
    }
    dir = await mkdtemp(join(tmpdir(), 'dcis-pid1-'))
  })
  after(async () => {
    await mesh?.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('SIGKILL, restart as PID 1: the replica opens, catches up and serves strong reads and writes', async () => {
    mesh = new Pid1Mesh({ nodes: 3, regions: ['eu-west'], basePort: await freePortBlock(3), dataDir: dir, logLevel: 'info', command: ['env'] })
    await mesh.start()
    const [p0, p1, p2] = mesh.peers
    await waitFor('a connected mesh', async () => LocalMesh.fullyConnected(await mesh!.snapshots()), { timeoutMs: 60_000 })
    const pid1Line = await waitFor('peer 2 started', async () => /"pid":(\d+),"unhandledRejections"/.exec(await readFile(p2.logFile, 'utf8'))?.[1], { timeoutMs: 10_000 })
    assert.equal(pid1Line, '1', 'peer 2 runs as PID 1 in its namespace')

    await waitFor('manifest applied', async () => { const r = await http(p0, 'POST', '/v1/manifests', MANIFEST); return r.status === 201 || r.status === 200 }, { timeoutMs: 30_000 })
    await waitFor('peer 2 holds a replica', async () => (await http(p2, 'GET', `/v1/services/${SERVICE}`)).json?.local === true, { timeoutMs: 30_000 })
    await waitFor('a write through peer 2', async () => (await http(p2, 'PUT', `/v1/services/${SERVICE}/kv/a`, 'one')).status === 200, { timeoutMs: 30_000 })

    // crash: no cleanup runs, the LOCK of its Raft group stays behind saying "1 ..."
    const exited = new Promise<void>(resolve => p2.process!.once('exit', () => { resolve() }))
    p2.process!.kill('SIGKILL')
    await exited
    const raftDir = join(p2.dataDir, 'raft')
    const groups = await readdir(raftDir)
    assert.equal(groups.length, 1)
    const lock = await readFile(join(raftDir, groups[0], 'LOCK'), 'utf8')
    assert.match(lock, /^1( \d+)?$/, 'the crashed PID 1 left its LOCK')

    // the others write on meanwhile
    const w = await waitFor('a write while peer 2 is down', async () => { const r = await http(p0, 'PUT', `/v1/services/${SERVICE}/kv/a`, 'two'); return r.status === 200 ? r.json : undefined }, { timeoutMs: 30_000 })

    // the supervisor restarts it: PID 1 again, same data dir
    const logBefore = (await readFile(p2.logFile, 'utf8')).length
    await mesh.spawnPeer(p2)
    await waitFor('peer 2 ready again', async () => (await http(p2, 'GET', '/readyz')).status === 200, { timeoutMs: 60_000 })
    await waitFor('peer 2 holds its replica again', async () => (await http(p2, 'GET', `/v1/services/${SERVICE}`)).json?.local === true, { timeoutMs: 30_000 })
    const read = await waitFor('a strong read at peer 2', async () => { const r = await http(p2, 'GET', `/v1/services/${SERVICE}/kv/a`); return r.status === 200 ? r.json : undefined }, { timeoutMs: 30_000 })
    assert.deepEqual({ value: read.value, revision: read.revision }, { value: 'two', revision: w.revision })
    const after = (await readFile(p2.logFile, 'utf8')).slice(logBefore)
    assert.doesNotMatch(after, /stored raft descriptor unusable/, 'the restarted peer opened its replica')
    // and it is a voter that counts: with peer 1 gone, peers 0 and 2 still commit
    p1.process!.kill('SIGKILL')
    await waitFor('peer 1 exited', () => p1.exited, { timeoutMs: 10_000 })
    await waitFor('a write with peers 0 and 2 only', async () => (await http(p2, 'PUT', `/v1/services/${SERVICE}/kv/b`, 'quorum')).status === 200, { timeoutMs: 30_000 })
  })
})
