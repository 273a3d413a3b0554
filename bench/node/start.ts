/**
 * Start-up of one peer, measured on real processes: spawn `dcis start` on a
 * fresh data dir (the key exists, as `dcis up` leaves it), poll `/readyz`
 * every 10 ms, and at the first 200 read the process's CPU time
 * (utime+stime of all its threads, /proc/<pid>/stat) and RSS. Then a
 * restart on the same data dir. Prints JSON with the load average before
 * and after (wall time depends on the load; CPU time much less).
 *
 *   node --import tsx bench/node/start.ts [--runs 5] [--cli dist/cli/main.js] [--modules 1]
 *
 * `--cli` compares another build (e.g. a checkout of main); `--modules 1`
 * adds one run that counts the modules loaded up to ready (a preloaded
 * module.registerHooks hook, bench/node/_count-modules.mjs; not timed).
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import { freePortBlock } from '../../test/helpers/ports.js'
import { arg, cpuSeconds, load, rssMiB, summary, until } from '../scale/_mesh.js'

const cli = resolve(arg('cli', fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))))
const runs = Number(arg('runs', '5'))
const countModules = arg('modules', '1') !== '0'

interface Sample { wallMs: number, cpuS: number, rssMiB: number }

async function once (dir: string, fresh: boolean, env: NodeJS.ProcessEnv = {}): Promise<{ sample: Sample, mesh: LocalMesh }> {
  const basePort = await freePortBlock(1)
  if (fresh) await rm(join(dir, 'peer-0'), { recursive: true, force: true })
  const mesh = new LocalMesh({ nodes: 1, regions: ['bench'], basePort, dataDir: dir, logLevel: 'warn', command: [process.execPath, cli] })
  await mesh.prepare()
  const saved = { ...process.env }
  Object.assign(process.env, env)
  const t0 = performance.now()
  try {
    await mesh.start()
  } finally {
    for (const k of Object.keys(env)) { if (saved[k] === undefined) Reflect.deleteProperty(process.env, k); else process.env[k] = saved[k] }
  }
  const url = `${mesh.peers[0].apiUrl}/readyz`
  await until('readyz', async () => (await fetch(url)).ok, 60_000, 10)
  const wallMs = performance.now() - t0
  const pid = mesh.peers[0].process!.pid!
  const sample = { wallMs, cpuS: await cpuSeconds(pid), rssMiB: await rssMiB(pid) }
  return { sample, mesh }
}

const loadBefore = load()
const fresh: Sample[] = []
const restart: Sample[] = []
for (let r = 0; r < runs; r++) {
  const dir = await mkdtemp(join(tmpdir(), 'dcis-start-'))
  try {
    for (const isFresh of [true, false]) {
      const { sample, mesh } = await once(dir, isFresh)
      ;(isFresh ? fresh : restart).push(sample)
      await mesh.stop()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

let modules: { files: number, builtins: number, packages: number, topPackages: Array<[string, number]> } | undefined
if (countModules) {
  const dir = await mkdtemp(join(tmpdir(), 'dcis-start-mod-'))
  const out = join(dir, 'modules.json')
  const hook = fileURLToPath(new URL('./_count-modules.mjs', import.meta.url))
  try {
    const prev = process.env.NODE_OPTIONS ?? ''
    const { mesh } = await once(dir, true, { NODE_OPTIONS: `${prev} --import=${hook}`.trim(), DCIS_BENCH_MODULES_OUT: out })
    mesh.peers[0].process!.kill('SIGUSR2')
    await until('module list', async () => (await readFile(out, 'utf8')).length > 0, 10_000, 20)
    await mesh.stop()
    const urls = JSON.parse(await readFile(out, 'utf8')) as string[]
    const files = urls.filter(u => u.startsWith('file:'))
    const perPackage = new Map<string, number>()
    for (const u of files) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)
      const name = m?.[1] ?? '(project)'
      perPackage.set(name, (perPackage.get(name) ?? 0) + 1)
    }
    modules = {
      files: files.length,
      builtins: urls.length - files.length,
      packages: perPackage.size,
      topPackages: [...perPackage].sort((a, b) => b[1] - a[1]).slice(0, 15)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const pick = (xs: Sample[], k: keyof Sample): ReturnType<typeof summary> => summary(xs.map(s => s[k]))
process.stdout.write(JSON.stringify({
  cli,
  runs,
  freshDataDir: { wallMs: pick(fresh, 'wallMs'), cpuS: pick(fresh, 'cpuS'), rssMiBAtReady: pick(fresh, 'rssMiB') },
  existingDataDir: { wallMs: pick(restart, 'wallMs'), cpuS: pick(restart, 'cpuS'), rssMiBAtReady: pick(restart, 'rssMiB') },
  modulesAtReady: modules,
  load: { before: loadBefore, after: load() }
}) + '\n')
