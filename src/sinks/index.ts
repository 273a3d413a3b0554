/**
 * Core sinks (manifest kind `Sink`): snapshots of an eventual service's
 * counters and log segments every interval, and records functions emit,
 * shipped at-least-once (idempotency keys) to an HTTP endpoint (NDJSON,
 * gzip, batched) or a directory of NDJSON files, through a bounded on-disk
 * buffer with back-off. See docs/sinks.md.
 */
export { SinkService, MAX_RECORD_BYTES } from './service.js'
export type { SinkServiceComponents, SinkServiceInit, SinkSourceBackend } from './service.js'
export { sinkSpecOf, checkRegionPolicy, DEFAULT_INTERVAL_MS } from './spec.js'
export type { SinkSpec } from './spec.js'
export { SinkNotFoundError, RegionConsentError, SinkRecordError, SinkMarkError, SINK_ERROR_STATUS } from './errors.js'
export { advanceMark, covers, emptyMark, joinMarks, parseMarkDoc, MAX_EXCEPTION_RANGES } from './marks.js'
export type { LogMark, MarkDoc } from './marks.js'
export { Spool } from './spool.js'
export { deliver, DeliveryError } from './deliver.js'
export { sinkManifestHandler } from './manifest.js'
export { sinkRoutes } from './routes.js'
