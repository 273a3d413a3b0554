import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { parse } from 'yaml'
import { parseStartArgs } from './cli-flags.js'
import { parseDockerfile } from './dockerfile.js'
import { runNodeScript } from './node-script.js'
import { startHarness } from '../api/fixtures.js'

const COMPOSE = new URL('../../simulations/docker-compose.yml', import.meta.url)
// relative to the repo root: the shared data folder sits next to the checkout
const COMPOSE_SCHEMA = new URL('../../../shared/data/compose-spec.json', import.meta.url)

interface Service {
  image?: string
  build?: { context: string, dockerfile?: string }
  command?: string[]
  volumes?: string[]
  ports?: string[]
  networks?: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
}

interface ComposeFile {
  services: Record<string, Service>
  volumes?: Record<string, unknown>
  networks?: Record<string, unknown>
}

async function loadCompose (): Promise<ComposeFile> {
  // compose files use YAML 1.1 merge keys (<<: *peer)
  return parse(await readFile(COMPOSE, 'utf8'), { merge: true }) as ComposeFile
}

async function composeValidator (): Promise<((doc: unknown) => string[]) | null> {
  if (!existsSync(COMPOSE_SCHEMA)) return null
  const schema = JSON.parse(await readFile(COMPOSE_SCHEMA, 'utf8')) as Record<string, unknown>
  const ajv = new Ajv({ strict: false, allErrors: true })
  // the spec names its meta-schema https://json-schema.org/draft-07/schema (no #): alias it to Ajv's draft-07
  const draft7 = ajv.getSchema('http://json-schema.org/draft-07/schema')?.schema
  if (draft7 != null && typeof schema.$schema === 'string' && ajv.getSchema(schema.$schema) == null) {
    ajv.addMetaSchema({ ...(draft7 as Record<string, unknown>), $id: schema.$schema })
  }
  const validate = ajv.compile(schema)
  return (doc) => validate(doc) ? [] : (validate.errors ?? []).map(e => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
}

interface Mount { source: string, target: string, readOnly: boolean }

function mounts (service: Service): Mount[] {
  return (service.volumes ?? []).map(v => {
    const [source, target, mode] = v.split(':')
    return { source, target, readOnly: mode === 'ro' }
  })
}

/** `dcis start` options of a service, parsed by the real CLI definition. */
function startOptions (name: string, service: Service): Record<string, unknown> {
  assert.ok(Array.isArray(service.command), `${name}: command in list form`)
  return parseStartArgs(service.command)
}

/** Which mount holds `path` (longest target prefix). */
function mountOf (service: Service, path: string): Mount | undefined {
  return mounts(service)
    .filter(m => path === m.target || path.startsWith(m.target + '/'))
    .sort((a, b) => b.target.length - a.target.length)[0]
}

describe('packaging: simulations/docker-compose.yml', () => {
  let compose: ComposeFile

  before(async () => {
    compose = await loadCompose()
  })

  it('validates against the Compose Specification schema', async function () {
    const validate = await composeValidator()
    if (validate == null) {
      console.log(`      skipped: the Compose Specification schema is not at ${COMPOSE_SCHEMA.pathname} (../shared/data/compose-spec.json)`)
      this.skip()
    }
    assert.deepEqual(validate(compose), [])
  })

  it('the schema check rejects broken compose files (so it can fail)', async function () {
    const validate = await composeValidator()
    if (validate == null) {
      console.log('      skipped: no ../shared/data/compose-spec.json')
      this.skip()
    }
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> }
    broken.services['peer-1'].depends_on = { bootstrap: { condition: 'service_sleepy' } }
    assert.notDeepEqual(validate(broken), [])
    const typo = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> }
    typo.services['peer-2'].volume = ['x:/data']
    assert.notDeepEqual(validate(typo), [])
  })

  it('has a bootstrap peer and at least four peers in three regions', () => {
    const names = Object.keys(compose.services)
    assert.ok(names.includes('bootstrap'))
    const peers = names.filter(n => n !== 'bootstrap')
    assert.ok(peers.length >= 4, `${peers.length} peers`)
    const regions = new Set<string>()
    for (const name of names) {
      const opts = startOptions(name, compose.services[name])
      assert.equal(typeof opts.region, 'string', `${name} has --region`)
      assert.ok((opts.region as string).length > 0)
      assert.equal(typeof opts.zone, 'string', `${name} has --zone`)
      regions.add(opts.region as string)
    }
    assert.ok(regions.size >= 3, `regions: ${[...regions].join(', ')}`)
  })

  it('services reference only declared volumes and networks; each peer has its own /data volume', () => {
    const declared = new Set(Object.keys(compose.volumes ?? {}))
    const used = new Set<string>()
    const dataVolumes = new Map<string, string>()
    for (const [name, service] of Object.entries(compose.services)) {
      for (const m of mounts(service)) {
        assert.ok(!m.source.startsWith('.') && !m.source.startsWith('/'), `${name}: ${m.source} is a named volume, not a host path`)
        assert.ok(declared.has(m.source), `${name}: volume ${m.source} is declared`)
        used.add(m.source)
      }
      const data = mounts(service).find(m => m.target === '/data')
      assert.ok(data != null, `${name} mounts a volume at /data`)
      assert.equal(data.readOnly, false)
      assert.ok(!dataVolumes.has(data.source), `${name} and ${dataVolumes.get(data.source)} share ${data.source}`)
      dataVolumes.set(data.source, name)
      for (const net of service.networks ?? []) {
        assert.ok(compose.networks?.[net] !== undefined, `${name}: network ${net} is declared`)
      }
    }
    assert.deepEqual([...declared].filter(v => !used.has(v)), [], 'every declared volume is used')
  })

  it('every service runs the repo image as a valid `dcis start` announcing its own DNS name', async () => {
    const cmdPorts = parseDockerfile(await readFile(new URL('../../Dockerfile', import.meta.url), 'utf8')).stages.at(-1)
      ?.instructions.find(i => i.keyword === 'EXPOSE')?.rest.split(/\s+/) ?? []
    const images = new Set<string>()
    for (const [name, service] of Object.entries(compose.services)) {
      assert.equal(service.build?.context, '..', `${name} builds from the repo root`)
      assert.equal(service.build?.dockerfile ?? 'Dockerfile', 'Dockerfile')
      if (service.image != null) images.add(service.image)
      const opts = startOptions(name, service)
      const listen = opts.listen as string[]
      assert.deepEqual(listen, ['/ip4/0.0.0.0/tcp/4001'], `${name} listens on all interfaces`)
      assert.deepEqual(opts.announce, [`/dns4/${name}/tcp/4001`], `${name} announces its service name`)
      assert.equal(opts.api, '0.0.0.0:8080')
      assert.ok(cmdPorts.includes('4001') && cmdPorts.includes('8080'))
      for (const p of service.ports ?? []) {
        assert.match(p, /^127\.0\.0\.1:\d+:8080$/, `${name}: API published on host loopback only`)
      }
    }
    assert.ok(images.size <= 1, 'one image for all services')
    const hostPorts = Object.values(compose.services).flatMap(s => s.ports ?? []).map(p => p.split(':')[1])
    assert.equal(new Set(hostPorts).size, hostPorts.length, 'host ports are distinct')
  })

  it('the bootstrap peer writes its list to a shared volume; the others wait for it healthy and read that file', () => {
    const boot = compose.services.bootstrap
    const bootOpts = startOptions('bootstrap', boot)
    const file = bootOpts.writeBootstrap as string
    assert.equal(typeof file, 'string', 'bootstrap has --write-bootstrap')
    const written = mountOf(boot, file)
    assert.ok(written != null && written.target !== '/data' && !written.readOnly, 'the file is on a writable shared volume')
    assert.equal(bootOpts.bootstrap, undefined, 'the bootstrap peer bootstraps from nobody')
    assert.ok(boot.healthcheck?.test.join(' ').includes(file), 'bootstrap is healthy only once the file exists')
    assert.ok(boot.healthcheck?.test.join(' ').includes('/healthz'))

    for (const [name, service] of Object.entries(compose.services)) {
      if (name === 'bootstrap') continue
      assert.deepEqual(service.depends_on, { bootstrap: { condition: 'service_healthy' } }, `${name} waits for a healthy bootstrap`)
      const opts = startOptions(name, service)
      assert.deepEqual(opts.bootstrap, [file], `${name} bootstraps from ${file}`)
      assert.equal(opts.writeBootstrap, undefined)
      const m = mountOf(service, file)
      assert.equal(m?.source, written.source, `${name} mounts ${written.source}`)
      assert.equal(m?.readOnly, true, `${name} mounts it read-only`)
    }
  })

  it('the bootstrap health check script really checks the file and /healthz', async () => {
    const test = compose.services.bootstrap.healthcheck?.test ?? []
    assert.deepEqual(test.slice(0, 3), ['CMD', 'node', '-e'])
    const file = startOptions('bootstrap', compose.services.bootstrap).writeBootstrap as string
    const dir = await mkdtemp(join(tmpdir(), 'dcis-compose-'))
    const h = await startHarness()
    try {
      const local = join(dir, 'bootstrap.json')
      const script = test[3].replace(file, local).replace('127.0.0.1:8080', `127.0.0.1:${h.server.port}`)
      assert.notEqual(await runNodeScript(script), 0, 'no file yet -> unhealthy')
      await writeFile(local, '{"peers":[]}')
      assert.equal(await runNodeScript(script), 0, 'file + live API -> healthy')
      await h.server.stop()
      assert.notEqual(await runNodeScript(script), 0, 'file but no API -> unhealthy')
    } finally {
      await h.server.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('simulations/README.md documents how to run it and that it is not run here', async () => {
    const readme = await readFile(new URL('../../simulations/README.md', import.meta.url), 'utf8')
    assert.ok(readme.includes('docker compose -f simulations/docker-compose.yml up'))
    assert.match(readme, /no Docker\s+Engine/)
    for (const name of Object.keys(compose.services)) {
      assert.ok(readme.includes(`\`${name}\``), `README names ${name}`)
    }
  })
})
