/**
 * The latency service's Prometheus metrics, created once per registry:
 *
 * - `dcis_latency_rtt_seconds{peer,stat}` gauge: p50 (stat="p50") and p95 (stat="p95")
 *   of the last samples of each probed peer (seconds); a peer's two
 *   series are removed when it is forgotten (disconnect, or evicted from the
 *   bounded window).
 * - `dcis_latency_probes_total{result}` counter: ok | error.
 * - `dcis_latency_gossip_published_total` counter.
 * - `dcis_latency_gossip_accepted_total` counter.
 * - `dcis_latency_gossip_rejected_total{reason}` counter: unsigned, oversized,
 *   rate-limited, not-json, or the estimator's validation code (NOT_FINITE,
 *   OUT_OF_RANGE, WRONG_DIMENSIONS, ...).
 * - `dcis_latency_coordinate_error` gauge: this peer's Vivaldi error estimate.
 */
import { Counter, Gauge } from 'prom-client'
import type { Registry } from 'prom-client'
import { reuseMetric } from '../../telemetry/metrics.js'

export interface LatencyMetrics {
  rtt: Gauge<'peer' | 'stat'>
  probes: Counter<'result'>
  published: Counter
  accepted: Counter
  rejected: Counter<'reason'>
  coordinateError: Gauge
}

export function createLatencyMetrics (registry: Registry): LatencyMetrics {
  const registers = [registry]
  return {
    rtt: reuseMetric(registry, 'dcis_latency_rtt_seconds', () => new Gauge({
      name: 'dcis_latency_rtt_seconds',
      help: 'ping RTT to a peer over its recent samples (seconds), stat p50 or p95',
      labelNames: ['peer', 'stat'] as const,
      registers
    })),
    probes: reuseMetric(registry, 'dcis_latency_probes_total', () => new Counter({
      name: 'dcis_latency_probes_total',
      help: 'latency probes (libp2p ping) by result',
      labelNames: ['result'] as const,
      registers
    })),
    published: reuseMetric(registry, 'dcis_latency_gossip_published_total', () => new Counter({
      name: 'dcis_latency_gossip_published_total',
      help: 'latency states this peer published on dcis/latency/1',
      registers
    })),
    accepted: reuseMetric(registry, 'dcis_latency_gossip_accepted_total', () => new Counter({
      name: 'dcis_latency_gossip_accepted_total',
      help: 'latency states accepted from gossip',
      registers
    })),
    rejected: reuseMetric(registry, 'dcis_latency_gossip_rejected_total', () => new Counter({
      name: 'dcis_latency_gossip_rejected_total',
      help: 'latency gossip messages dropped, by reason',
      labelNames: ['reason'] as const,
      registers
    })),
    coordinateError: reuseMetric(registry, 'dcis_latency_coordinate_error', () => new Gauge({
      name: 'dcis_latency_coordinate_error',
      help: 'this peer\'s Vivaldi coordinate error estimate (relative)',
      registers
    }))
  }
}
