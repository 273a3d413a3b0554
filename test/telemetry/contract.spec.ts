import assert from 'node:assert/strict'
import { Registry } from 'prom-client'
import { CpuUsage, LatencyWindow, p95, telemetryContract } from '../../src/telemetry/contract.js'
import { createMetricsRegistry } from '../../src/telemetry/metrics.js'

describe('telemetry contract: cpu_usage and latency_p95', function () {
  it('p95 is the nearest-rank 95th percentile', function () {
    assert.equal(p95([1]), 1)
    assert.equal(p95([...Array(100).keys()].map(i => i + 1)), 95)
    assert.equal(p95([5, 1, 3, 2, 4]), 5)
  })

  it('latency window: per operation and function, forgets samples older than the window', async function () {
    const registry = new Registry()
    let now = 1_000_000
    const w = new LatencyWindow(registry, { windowMs: 60_000, now: () => now })
    for (let i = 1; i <= 100; i++) w.record('api', i / 1000)
    w.record('invoke', 0.5, 'echo')
    w.record('api', -1) // ignored
    assert.equal(w.current('api'), 0.095)
    let text = await registry.metrics()
    assert.match(text, /^dcis_latency_p95_seconds\{operation="api"\} 0\.095$/m)
    assert.match(text, /^dcis_latency_p95_seconds\{operation="invoke",function="echo"\} 0\.5$/m)
    now += 61_000
    w.record('api', 0.002)
    text = await registry.metrics()
    assert.match(text, /^dcis_latency_p95_seconds\{operation="api"\} 0\.002$/m)
    assert.doesNotMatch(text, /function="echo"/)
  })

  it('latency window keeps at most maxSamples per series', function () {
    const w = new LatencyWindow(new Registry(), { maxSamples: 10 })
    for (let i = 0; i < 100; i++) w.record('api', i)
    assert.equal(w.current('api'), 99)
    for (let i = 0; i < 10; i++) w.record('api', 1)
    assert.equal(w.current('api'), 1)
  })

  it('cpu usage: CPU time over wall time over cores, between scrapes', async function () {
    const registry = new Registry()
    let cpu = 0
    let now = 0
    const c = new CpuUsage(registry, { cores: 4, cpuMicros: () => cpu, now: () => now })
    c.sample()
    cpu += 2_000_000 // 2 s of CPU
    now += 1000 // in 1 s of wall time on 4 cores
    assert.equal(c.sample(), 0.5)
    cpu += 8_000_000
    now += 1000
    assert.equal(c.sample(), 1) // capped
    now += 1000
    assert.match(await registry.metrics(), /^dcis_cpu_usage_ratio 0$/m)
  })

  it('a node registry has both from the start, once', async function () {
    const registry = createMetricsRegistry()
    assert.equal(telemetryContract(registry), telemetryContract(registry))
    const text = await registry.metrics()
    assert.match(text, /^# TYPE dcis_cpu_usage_ratio gauge$/m)
    assert.match(text, /^# TYPE dcis_latency_p95_seconds gauge$/m)
    assert.doesNotMatch(text, /dcis_nodejs_active_handles_total/)
  })
})
