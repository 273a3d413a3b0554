/**
 * WAL metrics, created once per node registry and shared by every storage
 * instance (labelled by `group`).
 */
import { Counter, Histogram } from 'prom-client'
import type { MetricsRegistry } from '../../telemetry/index.js'

export interface WalMetrics {
  fsyncs: Counter<'group'>
  bytes: Counter<'group'>
  batchRecords: Histogram<'group'>
  syncSeconds: Histogram<'group'>
}

export function createWalMetrics (registry: MetricsRegistry): WalMetrics {
  return {
    fsyncs: new Counter({ name: 'dcis_raft_wal_fsyncs_total', help: 'fdatasync calls on WAL segments', labelNames: ['group'], registers: [registry] }),
    bytes: new Counter({ name: 'dcis_raft_wal_bytes_total', help: 'bytes written to WAL segments', labelNames: ['group'], registers: [registry] }),
    batchRecords: new Histogram({
      name: 'dcis_raft_wal_batch_records',
      help: 'records per group-commit batch',
      labelNames: ['group'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024],
      registers: [registry]
    }),
    syncSeconds: new Histogram({
      name: 'dcis_raft_wal_sync_seconds',
      help: 'duration of write + fdatasync per batch',
      labelNames: ['group'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
      registers: [registry]
    })
  }
}
