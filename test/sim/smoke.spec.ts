/**
 * e2e: `dcis sim run simulations/smoke.yaml` end to end (5 real peers, one
 * minute, partition + heal + kill -9 + restart, every workload): exits 0
 * (every check passed), writes report.json and a report.html whose plots
 * Chromium draws, and leaves no namespace, bridge or peer process behind.
 * As root with namespaces it runs the netns lab, elsewhere loopback.
 * A second, shorter run forces the loopback fallback (link-fault cuts).
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from '../helpers/cli.js'
import { CHROMIUM, PLOTS, dumpDom, plotsIn } from './chromium.js'
import type { SimReport } from '../../src/sim/report.js'

const DIST_CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js')
const NODE = process.execPath

async function sim (args: string[], timeoutMs: number): Promise<{ code: number | null, out: string }> {
  const child = spawn(NODE, [DIST_CLI, 'sim', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const timer = setTimeout(() => { child.kill('SIGINT') }, timeoutMs)
  const code = await new Promise<number | null>(resolve => { child.once('exit', c => { resolve(c) }) })
  clearTimeout(timer)
  return { code, out }
}

function leftovers (runLog: string): string[] {
  const run = /\(run (\w+)\)/.exec(runLog)?.[1]
  if (run == null || process.getuid?.() !== 0) return []
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter(l => l.includes(`dcis-${run}`))
  const br = spawnSync('ip', ['link', 'show'], { encoding: 'utf8' }).stdout.split('\n').filter(l => l.includes(`dcisb${run}`))
  return [...ns, ...br]
}

describe('e2e: dcis sim run', function () {
  this.timeout(300_000)
  let dir: string
  before(async function () {
    if (!existsSync(DIST_CLI)) { console.log('      skipped: dist/ not built (npm run build)'); this.skip() }
    dir = await mkdtemp(join(tmpdir(), 'dcis-sim-smoke-'))
  })
  after(async () => { if (dir != null) await rm(dir, { recursive: true, force: true }) })

  it('smoke.yaml: every check passes, the report draws every plot, nothing is left behind', async () => {
    const out = join(dir, 'smoke')
    const started = Date.now()
    const r = await sim(['run', 'simulations/smoke.yaml', '--out', out], 240_000)
    console.log(`      smoke ran ${Math.round((Date.now() - started) / 1000)} s`)
    assert.equal(r.code, 0, r.out.slice(-3000))
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as SimReport
    assert.equal(report.scenario.seed, 7)
    assert.ok(report.checks.length >= 6 && report.checks.every(c => c.ok), JSON.stringify(report.checks))
    assert.equal(report.strong?.linearizable, true)
    assert.ok(report.eventual?.counters.every(c => c.exact))
    assert.ok(report.endPropagation.samplesMs.length >= 20)
    assert.ok(report.resources.samples.length > 0)
    assert.deepEqual(leftovers(r.out), [])
    if (CHROMIUM != null) {
      const plots = plotsIn(await dumpDom(join(out, 'report.html')))
      assert.deepEqual(plots.map(p => p.name), PLOTS)
      for (const p of plots) assert.ok(p.marks > 0, `plot ${p.name} draws data`)
    }
  })

  it('the loopback fallback: link-fault partition and heal, counters converge exactly', async () => {
    const file = join(dir, 'lo.yaml')
    await writeFile(file, [
      'name: lo', 'seed: 3', 'duration: 25', 'settle: 30', 'network: loopback',
      'sites:', '  - { name: a, region: eu-west, peers: 2 }', '  - { name: b, region: us-east, peers: 1 }',
      'faults:', '  - { at: 5, action: partition, groups: [[a], [b]] }', '  - { at: 15, action: heal }',
      'workload:', '  eventual: { replicas: 3, ratePerS: 3, keys: 1 }', ''
    ].join('\n'))
    const out = join(dir, 'lo')
    const r = await sim(['run', file, '--out', out], 200_000)
    assert.equal(r.code, 0, r.out.slice(-3000))
    assert.match(r.out, /loopback network \(asked for\)/)
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as SimReport
    assert.equal(report.network.kind, 'loopback')
    assert.deepEqual(report.windows.map(w => w.kind), ['partition'])
    assert.ok(report.eventual?.counters.every(c => c.exact && c.acked > 0), JSON.stringify(report.eventual))
    // the cut was real: some pair stopped seeing fresh counter values during the partition
    const during = report.counterFreshness.filter(s => s.t > 7000 && s.t < 15000)
    assert.ok(during.some(s => s.fraction < 1), `fresh fractions during the partition: ${during.map(s => s.fraction).join(',')}`)
  })

  it('a bad scenario is one clear error naming the field', async () => {
    const file = join(dir, 'bad.yaml')
    await writeFile(file, 'name: bad\nseed: 1\nduration: 10\nsites:\n  - { name: a, region: eu-west, peers: 1 }\nfaults:\n  - { at: 1, action: kill, peers: [zz] }\n')
    const r = await sim(['run', file], 30_000)
    assert.equal(r.code, 1)
    assert.match(r.out, /^dcis: .*bad\.yaml: faults\[0\]\.peers\[0\]: no site or peer named "zz"\n$/m)
  })
})
