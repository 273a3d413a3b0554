import { Counter } from 'prom-client'
import type { Registry } from 'prom-client'

export interface TransportMetrics {
  frames: Counter<'dir' | 'result'>
}

/** Registers the transport's counters on `registry` (once per registry). */
export function createTransportMetrics (registry: Registry): TransportMetrics {
  const existing = registry.getSingleMetric('dcis_raft_frames_total')
  const frames = existing !== undefined
    ? existing as Counter<'dir' | 'result'>
    : new Counter({ name: 'dcis_raft_frames_total', help: 'Raft transport frames by direction and result (sent, dropped, accepted, rejected, bad-frame)', labelNames: ['dir', 'result'], registers: [registry] })
  return { frames }
}
