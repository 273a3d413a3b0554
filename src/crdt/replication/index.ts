/**
 * Pure building blocks of CRDT replication: the sectioned state of a
 * service or of the catalogue, the data model (counters, kv with revisions,
 * sets), strict wire formats (gossip deltas/heartbeats, anti-entropy frames,
 * snapshots), staleness accounting and replica placement. The networked
 * backend that uses them is in ../service/.
 */
export * from './state.js'
export * from './data.js'
export * from './wire.js'
export * from './snapshot.js'
export * from './staleness.js'
export * from './placement.js'
export * from './catalogue.js'
export * from './errors.js'
export { createCrdtMetrics, REJECT_REASONS } from './metrics.js'
export type { CrdtMetrics, RejectReason } from './metrics.js'
