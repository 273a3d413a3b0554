/**
 * `dcis sim compose`: the generated federation validates against the
 * Compose Specification and has no top-level `name` (docker-compose 1.29
 * rejects it); and, where dockerd runs, it really runs: build the image
 * (on a local base image when no registry is reachable), bring up the
 * 5-peer federation of smoke.yaml, wait until every peer's registry lists
 * all five, apply a manifest from the host with a token got by
 * `docker exec ... dcis token issue`, kill -9 a peer and let the restart
 * policy / `docker start` bring it back, then tear everything down.
 * Runs only with DCIS_DOCKER_TEST=1 (about 7 minutes); skipped with a
 * printed reason otherwise or when docker is not usable here.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { parse } from 'yaml'
import { loadScenario } from '../../src/sim/scenario.js'
import { composeFiles, containerName, writeCompose } from '../../src/sim/compose.js'
import { REPO_ROOT } from '../helpers/cli.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'

const COMPOSE_SCHEMA = join(REPO_ROOT, '..', 'shared', 'data', 'compose-spec.json')
const BASE_IMAGE = process.env.DCIS_BASE_IMAGE ?? 'dcis-base:bookworm-node24'
const IMAGE = 'dcis-mesh:sim'

async function run (argv: string[], timeoutMs = 600_000, cwd = REPO_ROOT): Promise<{ code: number | null, out: string }> {
  const child = spawn(argv[0], argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  const code = await new Promise<number | null>(resolve => { child.once('exit', c => { resolve(c) }) })
  clearTimeout(timer)
  return { code, out }
}

const ok = (argv: string[]): boolean => spawnSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: 30_000 }).status === 0

describe('sim compose', function () {
  this.timeout(1_200_000)
  const scenario = loadScenario(join(REPO_ROOT, 'simulations', 'smoke.yaml'))

  it('writes a compose file valid under the Compose Specification, without a top-level name', async function () {
    const files = composeFiles(scenario, join(REPO_ROOT, 'sim-out', 'x'), { image: IMAGE })
    const doc = parse(files['docker-compose.yml'], { merge: true }) as { name?: string, services: Record<string, { labels: Record<string, string>, restart: string, command: string[] }> }
    assert.equal(doc.name, undefined)
    assert.deepEqual(Object.keys(doc.services), scenario.peers.map(p => p.name))
    for (const p of scenario.peers) {
      const s = doc.services[p.name]
      assert.equal(s.restart, 'unless-stopped')
      assert.equal(s.labels['dcis.region'], p.region)
      assert.ok(s.command.includes('--link-faults') && s.command.includes('--rtt-matrix'))
    }
    assert.match(files['faults.sh'], /docker network disconnect dcis-smoke dcis-smoke-eu-0/)
    assert.match(files['faults.sh'], /docker kill -s KILL dcis-smoke-us-1/)
    if (!existsSync(COMPOSE_SCHEMA)) { console.log(`      (schema check skipped: no ${COMPOSE_SCHEMA})`); return }
    const schema = JSON.parse(readFileSync(COMPOSE_SCHEMA, 'utf8')) as Record<string, unknown>
    const ajv = new Ajv({ strict: false, allErrors: true })
    const draft7 = ajv.getSchema('http://json-schema.org/draft-07/schema')?.schema
    if (draft7 != null && typeof schema.$schema === 'string' && ajv.getSchema(schema.$schema) == null) ajv.addMetaSchema({ ...(draft7 as Record<string, unknown>), $id: schema.$schema })
    const validate = ajv.compile(schema)
    assert.ok(validate(doc), JSON.stringify(validate.errors?.slice(0, 3)))
    const broken = structuredClone(doc) as unknown as Record<string, unknown>
    broken.servics = {}
    assert.equal(validate(broken), false, 'the schema check can fail')
  })

  describe('the 5-peer federation under docker', () => {
    let dir: string | undefined
    let compose: string[] = []
    let project = ''

    before(async function () {
      const reason = process.env.DCIS_DOCKER_TEST !== '1' ? 'set DCIS_DOCKER_TEST=1 to run it (about 7 minutes; .ci/run then installs docker and starts dockerd)' : !ok(['docker', 'info']) ? 'dockerd is not running (start it: dockerd &)' : !ok(['docker-compose', 'version']) && !ok(['docker', 'compose', 'version']) ? 'no docker-compose / docker compose' : null
      if (reason != null) { console.log(`      skipped: ${reason}`); this.skip() }
      compose = ok(['docker-compose', 'version']) ? ['docker-compose'] : ['docker', 'compose']
      // the image: on node:24-slim when it is here, else on a local base image
      let base = 'node:24-slim'
      if (!ok(['docker', 'image', 'inspect', base])) {
        base = BASE_IMAGE
        if (!ok(['docker', 'image', 'inspect', base])) {
          const r = await run(['simulations/base-image.sh', base])
          assert.equal(r.code, 0, r.out.slice(-2000))
        }
      }
      const b = await run(['docker', 'build', '--build-arg', `BASE_IMAGE=${base}`, '-t', IMAGE, '.'])
      assert.equal(b.code, 0, b.out.slice(-3000))
      dir = await mkdtemp(join(tmpdir(), 'dcis-compose-'))
      await writeCompose(scenario, dir, { image: IMAGE, basePort: await freePortBlock(5) })
      project = `dcistest${process.pid}`
    })

    after(async () => {
      if (dir == null) return
      const down = await run([...compose, '-p', project, '-f', join(dir, 'docker-compose.yml'), 'down', '-v', '--timeout', '5'], 180_000)
      if (down.code !== 0) console.log(down.out)
      await rm(dir, { recursive: true, force: true })
    })

    it('comes up, every registry lists all five, a manifest applied from the host with a token, kill -9 and back', async () => {
      const file = join(dir!, 'docker-compose.yml')
      const up = await run([...compose, '-p', project, '-f', file, 'up', '-d', '--no-build'], 300_000)
      assert.equal(up.code, 0, up.out.slice(-3000))
      const doc = parse(readFileSync(file, 'utf8'), { merge: true }) as { services: Record<string, { ports: string[] }> }
      const api = (name: string): string => `http://${doc.services[name].ports[0].replace(/:8080$/, '')}`
      const token = (p: (typeof scenario.peers)[number]): string => {
        const r = spawnSync('docker', ['exec', containerName(scenario, p), 'node', 'dist/cli/main.js', 'token', 'issue', '--data-dir', '/data', '--ttl', '10m'], { encoding: 'utf8' })
        assert.equal(r.status, 0, r.stderr)
        return r.stdout.trim()
      }
      const listsAll = async (): Promise<boolean> => {
        for (const p of scenario.peers) {
          const res = await fetch(`${api(p.name)}/v1/registry/nodes`, { signal: AbortSignal.timeout(5000) })
          if (!res.ok) return false
          if (((await res.json()) as { nodes: unknown[] }).nodes.length < 5) return false
        }
        return true
      }
      await waitFor('every registry lists all five peers', listsAll, { timeoutMs: 240_000, intervalMs: 2000 })

      const first = scenario.peers[0]
      const manifest = JSON.stringify({ apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: 'compose-counters' }, spec: { replicas: 3, runtime: 'wasi', crdtEngine: 'delta-crdts', consistency: { mode: 'eventual' } } })
      const denied = await fetch(`${api(first.name)}/v1/manifests`, { method: 'POST', body: manifest, headers: { 'content-type': 'application/json' } })
      assert.equal(denied.status, 401, 'without a token the host is not trusted')
      const applied = await fetch(`${api(first.name)}/v1/manifests`, { method: 'POST', body: manifest, headers: { 'content-type': 'application/json', authorization: `Bearer ${token(first)}` } })
      assert.ok(applied.ok, `apply: ${applied.status} ${await applied.text()}`)
      const other = scenario.peers[3]
      await waitFor('the service is known on another peer', async () => {
        const r = await fetch(`${api(other.name)}/v1/services/compose-counters`, { headers: { authorization: `Bearer ${token(other)}` }, signal: AbortSignal.timeout(5000) })
        return r.ok
      }, { timeoutMs: 60_000, intervalMs: 2000 })

      // a fault step as faults.sh does it: kill -9, then start (unless-stopped may already have)
      const victim = scenario.peers[3]
      assert.ok(ok(['docker', 'kill', '-s', 'KILL', containerName(scenario, victim)]))
      await run(['docker', 'start', containerName(scenario, victim)], 60_000)
      await waitFor('the killed peer is back in every registry', listsAll, { timeoutMs: 180_000, intervalMs: 2000 })
    })
  })
})
