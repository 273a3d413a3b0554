/**
 * The peer's own traffic budget: bytes per second in and out over all its
 * libp2p connections (what an idle peer costs its network), as a gauge
 * `dcis_traffic_bytes_per_second{direction="in"|"out"}` averaged over the
 * last `windowMs`. It reads libp2p's own per-protocol byte counters
 * (`libp2p_data_transfer_bytes_total{protocol="global received"|"global sent"}`)
 * every `sampleMs`: one timer, a few map reads, no per-message work.
 */
import { Gauge } from 'prom-client'
import type { Registry } from 'prom-client'

export interface TrafficMeterInit {
  /** sampling period, default 15 s */
  sampleMs?: number
  /** averaging window, default 60 s */
  windowMs?: number
}

const SOURCE = 'libp2p_data_transfer_bytes_total'
const LABEL = { in: 'global received', out: 'global sent' } as const

export class TrafficMeter {
  private readonly registry: Registry
  private readonly gauge: Gauge<'direction'>
  private readonly sampleMs: number
  private readonly windowMs: number
  private readonly samples: Array<{ at: number, in: number, out: number }> = []
  private timer?: ReturnType<typeof setInterval>

  constructor (registry: Registry, init: TrafficMeterInit = {}) {
    this.registry = registry
    this.sampleMs = init.sampleMs ?? 15_000
    this.windowMs = init.windowMs ?? 60_000
    this.gauge = new Gauge({
      name: 'dcis_traffic_bytes_per_second',
      help: 'Bytes per second over all libp2p connections of this peer, averaged over the last minute',
      labelNames: ['direction'] as const,
      registers: [registry]
    })
  }

  start (): void {
    if (this.timer != null) return
    this.sample().catch(() => {})
    this.timer = setInterval(() => { this.sample().catch(() => {}) }, this.sampleMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** the current rates (bytes/s), null before two samples */
  rates (): { in: number, out: number } | null {
    const first = this.samples[0]
    const last = this.samples[this.samples.length - 1]
    if (first == null || last == null || last.at <= first.at) return null
    const s = (last.at - first.at) / 1000
    return { in: (last.in - first.in) / s, out: (last.out - first.out) / s }
  }

  async sample (now = Date.now()): Promise<void> {
    const metric = this.registry.getSingleMetric(SOURCE)
    if (metric == null) return
    const { values } = await metric.get()
    let bytesIn = 0
    let bytesOut = 0
    for (const v of values) {
      const protocol = v.labels.protocol
      if (protocol === LABEL.in) bytesIn = v.value
      else if (protocol === LABEL.out) bytesOut = v.value
    }
    this.samples.push({ at: now, in: bytesIn, out: bytesOut })
    while (this.samples.length > 2 && now - this.samples[1].at >= this.windowMs) this.samples.shift()
    const r = this.rates()
    if (r != null) {
      this.gauge.set({ direction: 'in' }, Math.round(r.in))
      this.gauge.set({ direction: 'out' }, Math.round(r.out))
    }
  }
}
