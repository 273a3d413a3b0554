import assert from 'node:assert/strict'
import { Counter, Registry } from 'prom-client'
import { TrafficMeter } from '../../src/telemetry/index.js'

describe('telemetry: traffic meter', () => {
  it('turns libp2p\'s byte counters into bytes/s over a sliding window', async () => {
    const registry = new Registry()
    const bytes = new Counter({ name: 'libp2p_data_transfer_bytes_total', help: 'x', labelNames: ['protocol'], registers: [registry] })
    const meter = new TrafficMeter(registry, { windowMs: 30_000 })
    assert.equal(meter.rates(), null)
    await meter.sample(0)
    assert.equal(meter.rates(), null)
    bytes.inc({ protocol: 'global received' }, 10_000)
    bytes.inc({ protocol: 'global sent' }, 5_000)
    bytes.inc({ protocol: '/meshsub/1.2.0 received' }, 999_999) // per-protocol series are not added again
    await meter.sample(10_000)
    assert.deepEqual(meter.rates(), { in: 1000, out: 500 })
    assert.match(await registry.metrics(), /dcis_traffic_bytes_per_second\{direction="in"\} 1000/)
    // past the window, old samples leave: the rate follows the recent traffic
    await meter.sample(40_000)
    await meter.sample(50_000)
    assert.deepEqual(meter.rates(), { in: 0, out: 0 })
  })

  it('without libp2p\'s counters it reports nothing (and does not throw)', async () => {
    const meter = new TrafficMeter(new Registry())
    await meter.sample(0)
    await meter.sample(1000)
    assert.equal(meter.rates(), null)
    meter.start()
    meter.stop()
  })
})
