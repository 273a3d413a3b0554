import { Counter, Gauge } from 'prom-client'
import type { MetricsRegistry } from '../telemetry/index.js'

export const CATALOGUE_REJECT_REASONS = ['unsigned', 'oversized', 'malformed', 'invalid-record', 'clock-drift', 'unverified-peer', 'too-many-entries'] as const
export type CatalogueRejectReason = typeof CATALOGUE_REJECT_REASONS[number]

export interface CatalogueMetrics {
  /** gossip messages and sync frames dropped, by reason */
  rejected: Counter<'reason'>
  /** deltas accepted, by channel (gossip, sync) */
  accepted: Counter<'channel'>
  /** anti-entropy rounds this peer started, by result */
  syncs: Counter<'result'>
  entries: Gauge
}

export function createCatalogueMetrics (registry: MetricsRegistry): CatalogueMetrics {
  const rejected = new Counter({ name: 'dcis_catalogue_rejected_total', help: 'Catalogue gossip messages and sync frames dropped, by reason', labelNames: ['reason'] as const, registers: [registry] })
  for (const reason of CATALOGUE_REJECT_REASONS) rejected.inc({ reason }, 0)
  return {
    rejected,
    accepted: new Counter({ name: 'dcis_catalogue_deltas_total', help: 'Catalogue deltas accepted from peers, by channel (gossip, sync)', labelNames: ['channel'] as const, registers: [registry] }),
    syncs: new Counter({ name: 'dcis_catalogue_sync_rounds_total', help: 'Catalogue anti-entropy rounds started by this peer, by result', labelNames: ['result'] as const, registers: [registry] }),
    entries: new Gauge({ name: 'dcis_catalogue_entries', help: 'Records (keys) in this peer\'s copy of the federation catalogue', registers: [registry] })
  }
}
