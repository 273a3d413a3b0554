/**
 * The `Sink` manifest kind's spec (JSON Schema:
 * protocols/manifests/sink.schema.json), normalised, and the region policy.
 */
import { RegionConsentError } from './errors.js'

export interface SinkSpec {
  name: string
  /** the eventual service whose counters and log segments are snapshotted (none: emitted records only) */
  service?: string
  /** counters to snapshot: all, or these keys */
  counters: 'all' | 'none' | string[]
  /** log keys whose new entries ship with each snapshot */
  logs: string[]
  intervalMs: number
  destination: { kind: 'http', url: string, gzip: boolean, headers: Record<string, string>, timeoutMs: number } | { kind: 'directory', path: string }
  maxBatchRecords: number
  maxBufferBytes: number
  /** where the core is; absent = unknown (outside every region) */
  region?: string
  crossRegionConsent: boolean
}

interface RawSpec {
  source?: { service: string, counters?: boolean | string[], logs?: string[] }
  intervalMs?: number
  destination: { http?: { url: string, gzip?: boolean, headers?: Record<string, string>, timeoutMs?: number }, directory?: { path: string } }
  batch?: { maxRecords?: number }
  buffer?: { maxBytes?: number }
  region?: string
  consent?: { crossRegion?: boolean }
}

export const DEFAULT_INTERVAL_MS = 60_000
export const DEFAULT_BATCH_RECORDS = 1000
export const DEFAULT_BUFFER_BYTES = 64 * 1024 * 1024

/** Normalises a schema-valid Sink spec. */
export function sinkSpecOf (name: string, raw: Record<string, unknown>): SinkSpec {
  const s = raw as unknown as RawSpec
  const d = s.destination
  const destination: SinkSpec['destination'] = d.http != null
    ? { kind: 'http', url: d.http.url, gzip: d.http.gzip ?? true, headers: d.http.headers ?? {}, timeoutMs: d.http.timeoutMs ?? 10_000 }
    : { kind: 'directory', path: (d.directory as { path: string }).path }
  const c = s.source?.counters
  return {
    name,
    ...(s.source != null ? { service: s.source.service } : {}),
    counters: s.source == null ? 'none' : c === undefined || c === true ? 'all' : c === false ? 'none' : c,
    logs: s.source?.logs ?? [],
    intervalMs: s.intervalMs ?? DEFAULT_INTERVAL_MS,
    destination,
    maxBatchRecords: s.batch?.maxRecords ?? DEFAULT_BATCH_RECORDS,
    maxBufferBytes: s.buffer?.maxBytes ?? DEFAULT_BUFFER_BYTES,
    ...(s.region != null ? { region: s.region } : {}),
    crossRegionConsent: s.consent?.crossRegion === true
  }
}

/**
 * Region policy: data lives in its service's zones (regions or zones). A
 * sink whose region is not among them (or is unknown) needs
 * `consent.crossRegion: true`. A service without zones may live anywhere.
 */
export function checkRegionPolicy (spec: SinkSpec, serviceZones: readonly string[]): void {
  if (serviceZones.length === 0 || spec.crossRegionConsent) return
  const inside = spec.region != null && serviceZones.some(z => z === spec.region || z.startsWith(`${spec.region}-`))
  if (!inside) {
    throw new RegionConsentError(`sink ${spec.name} ships data of service ${spec.service ?? ''} (regions ${serviceZones.join(', ')}) to ${spec.region ?? 'an unknown region'}: set spec.consent.crossRegion: true to allow it`)
  }
}
