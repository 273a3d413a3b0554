import { Counter, Gauge } from 'prom-client'
import type { Registry } from 'prom-client'

export interface SchedulerMetrics {
  placements: Counter<'result'>
  reservations: Counter<'result'>
  probes: Counter<'result'>
  reservedCpu: Gauge
  reservedMemoryBytes: Gauge
  held: Gauge
}

/** The scheduler's metrics, registered once in the node's registry. */
export function createSchedulerMetrics (registry: Registry): SchedulerMetrics {
  const registers = [registry]
  return {
    placements: new Counter({ name: 'dcis_alloc_placements_total', help: 'allocations placed by this peer, by result', labelNames: ['result'], registers }),
    reservations: new Counter({ name: 'dcis_alloc_reservations_total', help: 'reservation requests answered by this peer\'s ledger, by result', labelNames: ['result'], registers }),
    probes: new Counter({ name: 'dcis_alloc_borderline_probes_total', help: 'direct probes of borderline candidates, by result', labelNames: ['result'], registers }),
    reservedCpu: new Gauge({ name: 'dcis_alloc_reserved_cpu_cores', help: 'cores reserved on this peer', registers }),
    reservedMemoryBytes: new Gauge({ name: 'dcis_alloc_reserved_memory_bytes', help: 'memory reserved on this peer (bytes)', registers }),
    held: new Gauge({ name: 'dcis_alloc_reservations', help: 'live reservations on this peer', registers })
  }
}
