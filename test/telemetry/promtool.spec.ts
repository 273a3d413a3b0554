/**
 * `promtool check metrics` on a live peer's /metrics (issue 14): no finding
 * on any `dcis_*` name, and the telemetry contract's `cpu_usage` and
 * `latency_p95` are there. Skipped, saying so, where promtool is not
 * installed (Debian package `prometheus`).
 *
 * A metric family with no sample yet (a labelled counter nothing has
 * counted) is skipped by promtool's linter, so the test also lints every
 * family the peer declared with one synthetic sample: names are what is
 * checked, and a name only used later must pass too.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { startMesh, which } from './mesh.js'
import type { TelemetryMesh } from './mesh.js'

/** promtool's findings (one per line), for the text given */
function promtool (bin: string, text: string): string[] {
  const r = spawnSync(bin, ['check', 'metrics'], { input: text, encoding: 'utf8' })
  return `${r.stdout}\n${r.stderr}`.split('\n').map(l => l.trim()).filter(l => l !== '')
}

/** every `# TYPE` family of an exposition, with a sample each, for linting the names */
export function withSamples (text: string): string {
  const out: string[] = []
  const help = new Map<string, string>()
  for (const line of text.split('\n')) {
    const h = /^# HELP (\S+) (.*)$/.exec(line)
    if (h != null) help.set(h[1], h[2])
    const t = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (t == null) continue
    const [, name, type] = t
    out.push(`# HELP ${name} ${help.get(name) ?? ''}`, `# TYPE ${name} ${type}`)
    if (type === 'histogram') out.push(`${name}_bucket{le="+Inf"} 0`, `${name}_sum 0`, `${name}_count 0`)
    else if (type === 'summary') out.push(`${name}_sum 0`, `${name}_count 0`)
    else out.push(`${name} 0`)
  }
  return out.join('\n') + '\n'
}

describe('telemetry: promtool check metrics on a live peer', function () {
  this.timeout(180_000)
  const bin = which('promtool')
  let tm: TelemetryMesh | undefined

  before(async function () {
    if (bin == null) {
      console.warn('    skipped: promtool not installed (apt-get install prometheus)')
      this.skip()
    }
    this.timeout(180_000)
    tm = await startMesh(2)
  })

  after(async function () {
    this.timeout(60_000)
    await tm?.stop()
  })

  it('no finding on dcis_* names; cpu_usage and latency_p95 are exported', async function () {
    const peer = (tm as TelemetryMesh).mesh.peers[0]
    // some API traffic, so the api latency window has samples
    for (let i = 0; i < 5; i++) await (await fetch(`${peer.apiUrl}/v1/peers`)).arrayBuffer()
    const text = await (await fetch(`${peer.apiUrl}/metrics`)).text()
    const families = [...text.matchAll(/^# TYPE (dcis_\S+)/gm)].map(m => m[1])
    assert.ok(families.length > 40, `expected the node's dcis_* families, got ${families.length}`)

    const live = promtool(bin as string, text).filter(l => l.startsWith('dcis_'))
    assert.deepEqual(live, [], 'promtool findings on the live exposition')
    const declared = promtool(bin as string, withSamples(text)).filter(l => l.startsWith('dcis_'))
    assert.deepEqual(declared, [], 'promtool findings on the declared names')

    assert.match(text, /^dcis_cpu_usage_ratio (0|0?\.\d+|1)(e-\d+)?$/m)
    const p95 = /^dcis_latency_p95_seconds\{operation="api"\} (\S+)$/m.exec(text)
    assert.ok(p95 != null, 'dcis_latency_p95_seconds{operation="api"} present')
    assert.ok(Number(p95[1]) > 0)
  })

  it('the checker can fail: a name in MiB is flagged', function () {
    const bad = '# HELP dcis_x_memory_mb x\n# TYPE dcis_x_memory_mb gauge\ndcis_x_memory_mb 1\n'
    assert.ok(promtool(bin as string, bad).some(l => l.startsWith('dcis_x_memory_mb')))
  })
})
