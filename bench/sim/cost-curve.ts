/**
 * The idle cost of a peer as the mesh grows: runs simulations/scale-50.yaml
 * cut to 5, 10, 20 and 50 peers (5 per site; idle, no faults) and prints
 * {sizes: [{peers, readyS, endPropagationMs, cpuPctPerPeer, rssMbPerPeer}]}.
 * Sizes from SIM_SIZES (default "5,10", a few minutes; the documented curve
 * is SIM_SIZES=5,10,20,50, about 25 minutes on 2 cores); duration from
 * SIM_DURATION (s, default 60).
 * Needs dist/ (npm run build); as root it uses the namespace lab.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { existsSync } from 'node:fs'
import { loadScenario } from '../../src/sim/scenario.js'
import { runScenario } from '../../src/sim/runner.js'
import type { Scenario } from '../../src/sim/scenario.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const cli = join(root, 'dist', 'cli', 'main.js')
const node = Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : join(root, 'node_modules', 'node', 'bin', 'node')
const sizes = (process.env.SIM_SIZES ?? '5,10').split(',').map(Number)
const duration = Number(process.env.SIM_DURATION ?? 60)

function cut (base: Scenario, n: number): Scenario {
  const spec = { ...base.spec, name: `scale-${n}`, duration, settle: 30, sites: base.spec.sites.slice(0, Math.ceil(n / 5)) }
  const peers = base.peers.filter(p => spec.sites.includes(p.site)).slice(0, n)
  return { ...base, spec, peers }
}

if (!existsSync(cli)) throw new Error('dist/ is not built: npm run build')
const base = loadScenario(join(root, 'simulations', 'scale-50.yaml'))
const out = []
for (const n of sizes) {
  const dir = await mkdtemp(join(tmpdir(), `dcis-cost-${n}-`))
  try {
    const r = await runScenario(cut(base, n), { outDir: dir, command: [node, cli], log: (l) => { process.stderr.write(`[${n}] ${l}\n`) } })
    // idle figures: the second half of the run (start-up work is over)
    const late = r.resources.samples.filter(s => s.t >= duration * 500)
    const med = (xs: number[]): number | null => { const s = xs.sort((a, b) => a - b); return s.length === 0 ? null : Math.round(s[Math.floor(s.length / 2)] * 10) / 10 }
    out.push({
      peers: n,
      network: r.network.kind,
      readyS: Math.round(r.readyMs / 100) / 10,
      endPropagationMs: r.endPropagation.summary,
      cpuPctPerPeer: med(late.map(s => s.cpuPct).filter((v): v is number => v != null)),
      rssMbPerPeer: med(late.map(s => s.rssMb)),
      machineCpuPct: med([...new Set(late.map(s => s.t))].map(t => late.filter(s => s.t === t).reduce((a, s) => a + (s.cpuPct ?? 0), 0))),
      checks: r.checks.map(c => `${c.ok ? 'ok' : 'FAIL'} ${c.name}: ${c.detail}`)
    })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
console.log(JSON.stringify({ sizes: out }))
