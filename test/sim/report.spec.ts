/**
 * Reports: report.html renders in headless Chromium with every plot drawn
 * (DOM dumped by --dump-dom: each svg.plot has a real size and data marks),
 * and `dcis sim report DIR` prints the summary. Uses a report made from a
 * synthetic run record, so it needs no peers.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { renderHtml } from '../../src/sim/html.js'
import { summaryTable } from '../../src/sim/report.js'
import type { SimReport } from '../../src/sim/report.js'
import { runCli } from '../helpers/cli.js'
import { CHROMIUM, PLOTS, dumpDom, plotsIn } from './chromium.js'
import { createPrng } from '../../src/latency/prng.js'

export function syntheticReport (seed = 3): SimReport {
  const prng = createPrng(seed)
  const t = [...Array(60).keys()].map(i => i * 1000)
  const peers = ['a-0', 'a-1', 'b-0']
  return {
    format: 'dcis-sim-report/1',
    scenario: { name: 'synthetic', file: '/x.yaml', text: 'name: synthetic', seed, duration: 60 },
    versions: { dcis: '0', node: process.version, kernel: 'k' },
    network: { kind: 'loopback', limits: [], emulator: { linkFaults: true, rtt: false } },
    startedAt: new Date(0).toISOString(),
    readyMs: 1000,
    peers: peers.map(p => ({ name: p, site: p[0], region: 'r', zone: 'r-a', nat: false, peerId: `id-${p}`, joinAt: 0 })),
    events: [{ t: 20000, action: 'partition', detail: 'a | b' }, { t: 35000, action: 'heal', detail: '' }],
    windows: [{ kind: 'partition', label: 'partition a | b', from: 20000, to: 35000 }],
    endPropagation: { summary: { n: 6, p50: 1, p90: 1, p99: 1, max: 1, mean: 1 }, samplesMs: [...Array(6).keys()].map(() => 500 + prng.next() * 1000) },
    registry: t.map(x => ({ t: x, fraction: x > 20000 && x < 35000 ? 0.6 : 1, live: 3 })),
    counterFreshness: t.map(x => ({ t: x, fraction: prng.next() })),
    staleness: { summary: { n: 3, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 }, samplesMs: [0, 0, 120, 900] },
    strong: { service: 's', ops: 10, ok: 9, commitLatency: { n: 3, p50: 1, p90: 1, p99: 1, max: 1, mean: 1 }, commitSamples: t.map(x => ({ t: x, ms: 20 + prng.next() * 50 })), availability: t.filter(x => x % 5000 === 0).map(x => ({ t: x, ok: 4, total: 5 })), linearizable: true, problems: [], writes: { acked: 5, unknown: 0 }, reads: 5 },
    eventual: { counters: [{ key: 'e/c0', acked: 10, unknown: 0, values: { 'a-0': 10 }, exact: true }], settledMs: 100 },
    functions: { invocations: 5, ok: 5, latency: { n: 5, p50: 1, p90: 1, p99: 1, max: 1, mean: 1 }, errors: {}, samples: t.map(x => ({ t: x, ms: 5 + prng.next() * 10, ok: true })) },
    resources: { samples: t.flatMap(x => peers.map(p => ({ t: x, peer: p, cpuPct: prng.next() * 10, rssMb: 200 + prng.next() * 20 }))), perPeer: [], total: { cpuPctMedian: 4, rssMbMedian: 210 } },
    setupErrors: [],
    checks: [{ name: 'strong linearizable', ok: true, detail: '10 ops' }, { name: 'something', ok: false, detail: 'failed on purpose' }]
  }
}

describe('sim report', function () {
  this.timeout(300_000)
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'dcis-sim-report-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('report.html draws every plot in headless Chromium', async function () {
    if (CHROMIUM == null) { console.log('      skipped: no chromium (Debian: apt-get install chromium)'); this.skip() }
    const file = join(dir, 'report.html')
    await writeFile(file, renderHtml(syntheticReport()))
    const plots = plotsIn(await dumpDom(file))
    assert.deepEqual(plots.map(p => p.name), PLOTS)
    for (const p of plots) {
      assert.ok(p.width >= 300 && p.height >= 150, `${p.name} has a real size`)
      assert.ok(p.marks >= 1, `${p.name} draws data`)
    }
  })

  it('the plot check fails on a page whose plots have no data', async function () {
    if (CHROMIUM == null) this.skip()
    const empty = syntheticReport()
    empty.endPropagation.samplesMs = []
    const file = join(dir, 'empty.html')
    await writeFile(file, renderHtml(empty))
    const plot = plotsIn(await dumpDom(file)).find(p => p.name === 'end-cdf')
    assert.equal(plot?.marks, 0)
  })

  it('dcis sim report prints the summary and the checks; a directory without a report is an error', async () => {
    await writeFile(join(dir, 'report.json'), JSON.stringify(syntheticReport()))
    const r = await runCli(['sim', 'report', dir], { timeoutMs: 100_000 })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /END propagation p50/)
    assert.match(r.stdout, /something\s+FAIL\s+failed on purpose/)
    assert.equal(r.stdout, summaryTable(syntheticReport()))
    const bad = await runCli(['sim', 'report', join(dir, 'nope')], { timeoutMs: 100_000 })
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /no readable report.json/)
  })
})
