import { Counter, Gauge } from 'prom-client'
import type { Registry } from 'prom-client'

export const REJECT_REASONS = ['unsigned', 'oversized', 'malformed', 'not-replica', 'unknown-service', 'clock-drift', 'not-local', 'unverified-peer', 'forbidden'] as const
export type RejectReason = typeof REJECT_REASONS[number]

export interface CrdtMetrics {
  rejected: Counter<'reason'>
  messages: Counter<'kind' | 'direction'>
  bytes: Counter<'channel' | 'direction'>
  syncs: Counter<'result'>
  syncParts: Counter<'mode'>
  staleness: Gauge<'service'>
  forwarded: Counter<'op'>
  /** log retention passes that removed entries */
  logTrimmed: Counter<'service'>
}

export function createCrdtMetrics (registry: Registry): CrdtMetrics {
  const rejected = new Counter({
    name: 'dcis_crdt_messages_rejected_total',
    help: 'CRDT gossip messages and sync frames dropped, by reason',
    labelNames: ['reason'] as const,
    registers: [registry]
  })
  for (const reason of REJECT_REASONS) rejected.inc({ reason }, 0)
  return {
    rejected,
    messages: new Counter({ name: 'dcis_crdt_messages_total', help: 'CRDT gossip messages (delta, heartbeat) sent and accepted', labelNames: ['kind', 'direction'] as const, registers: [registry] }),
    bytes: new Counter({ name: 'dcis_crdt_bytes_total', help: 'CRDT replication payload bytes, by channel (gossip, sync) and direction', labelNames: ['channel', 'direction'] as const, registers: [registry] }),
    syncs: new Counter({ name: 'dcis_crdt_sync_rounds_total', help: 'Anti-entropy rounds initiated, by result', labelNames: ['result'] as const, registers: [registry] }),
    syncParts: new Counter({ name: 'dcis_crdt_sync_parts_total', help: 'Anti-entropy sections shipped, by mode (delta, full)', labelNames: ['mode'] as const, registers: [registry] }),
    staleness: new Gauge({ name: 'dcis_crdt_staleness_seconds', help: 'How far behind this peer\'s replica is (seconds): age of the oldest update it knows of and has not seen', labelNames: ['service'] as const, registers: [registry] }),
    forwarded: new Counter({ name: 'dcis_crdt_forwarded_total', help: 'Data API calls forwarded to a replica by this non-replica peer', labelNames: ['op'] as const, registers: [registry] }),
    logTrimmed: new Counter({ name: 'dcis_crdt_log_trims_total', help: 'Append-only log retention passes (age or size) that removed entries on this replica', labelNames: ['service'] as const, registers: [registry] })
  }
}
