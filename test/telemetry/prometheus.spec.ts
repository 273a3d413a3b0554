/**
 * A real Prometheus (Debian package `prometheus`) scraping every peer of a
 * local 3-peer mesh, and a PromQL query for per-peer `latency_p95` (issue
 * 14). Opt-in by installation: skipped, saying so, where the `prometheus`
 * binary is absent.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'
import { startMesh, which } from './mesh.js'
import type { ChildProcess } from 'node:child_process'
import type { TelemetryMesh } from './mesh.js'

interface PromVector { status: string, data: { resultType: string, result: Array<{ metric: Record<string, string>, value: [number, string] }> } }

describe('telemetry: a real Prometheus scrapes the mesh', function () {
  this.timeout(300_000)
  const bin = which('prometheus')
  let tm: TelemetryMesh | undefined
  let prom: ChildProcess | undefined
  let promUrl = ''
  let promLog = ''

  before(async function () {
    if (bin == null) {
      console.warn('    skipped: prometheus not installed (apt-get install prometheus)')
      this.skip()
    }
    this.timeout(300_000)
    tm = await startMesh(3)
    const targets = tm.mesh.peers.map(p => new URL(p.apiUrl).host)
    const dir = join(tm.dir, 'prometheus')
    await mkdir(dir, { recursive: true })
    const config = join(dir, 'prometheus.yml')
    await writeFile(config, [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: dcis',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: [${targets.map(t => `'${t}'`).join(', ')}]`,
      ''
    ].join('\n'))
    const port = await freePortBlock(1)
    promUrl = `http://127.0.0.1:${port}`
    prom = spawn(bin as string, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] })
    prom.stderr?.on('data', (d: Buffer) => { promLog = (promLog + d.toString()).slice(-4000) })
    await waitFor('prometheus ready', async () => {
      if (prom?.exitCode != null) throw new Error(`prometheus exited ${prom.exitCode}: ${promLog}`)
      return (await fetch(`${promUrl}/-/ready`).catch(() => null))?.ok === true
    }, { timeoutMs: 60_000, intervalMs: 250 })
  })

  after(async function () {
    this.timeout(60_000)
    if (prom != null && prom.exitCode == null) {
      const exited = new Promise<void>(resolve => { prom?.once('exit', () => { resolve() }) })
      prom.kill('SIGTERM')
      const timer = setTimeout(() => { prom?.kill('SIGKILL') }, 10_000)
      await exited
      clearTimeout(timer)
    }
    await tm?.stop()
  })

  async function query (q: string): Promise<PromVector> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`)
    assert.equal(res.status, 200, await res.clone().text())
    return await res.json() as PromVector
  }

  it('every peer is up, and PromQL answers latency_p95 and cpu_usage per peer', async function () {
    const peers = (tm as TelemetryMesh).mesh.peers
    const instances = peers.map(p => new URL(p.apiUrl).host).sort()
    await waitFor('all three targets up', async () => {
      const up = await query('up{job="dcis"} == 1')
      return up.data.result.length === 3
    }, { timeoutMs: 60_000, intervalMs: 500 })
    // latency_p95 of each peer's API: the scrapes themselves are requests it served
    const p95 = await waitFor('dcis_latency_p95_seconds for every peer', async () => {
      const r = await query('max by (instance) (dcis_latency_p95_seconds{job="dcis",operation="api"})')
      return r.data.result.length === 3 ? r : null
    }, { timeoutMs: 60_000, intervalMs: 500 })
    assert.deepEqual(p95.data.result.map(s => s.metric.instance).sort(), instances)
    for (const s of p95.data.result) {
      const v = Number(s.value[1])
      assert.ok(Number.isFinite(v) && v > 0 && v < 30, `p95 of ${s.metric.instance}: ${s.value[1]}`)
    }
    const cpu = await query('dcis_cpu_usage_ratio{job="dcis"}')
    assert.equal(cpu.data.result.length, 3)
    for (const s of cpu.data.result) assert.ok(Number(s.value[1]) >= 0 && Number(s.value[1]) <= 1)
    // and a query over time: the worst p95 of the last 30 s per peer
    const overTime = await query('max by (instance) (max_over_time(dcis_latency_p95_seconds{operation="api"}[30s]))')
    assert.equal(overTime.data.result.length, 3)
  })
})
