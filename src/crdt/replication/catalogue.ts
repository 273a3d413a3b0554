/**
 * Catalogue entries (pure): the catalogue is a replicated ORMap of CLWW
 * registers, service name -> JSON of the spec and its placement. Concurrent
 * applies converge on the entry with the greatest (HLC, applier peer id).
 * Entries arrive from the network, so they are validated field by field.
 */
import type { ServiceSpec } from '../../services/types.js'
import { CatalogueEntryError } from './errors.js'

export interface CatalogueEntry {
  spec: ServiceSpec
  /** peer ids holding a replica, in placement order */
  replicas: string[]
  /** the peer that decided the placement */
  placedBy: string
  /**
   * replicas replaced by a repair (newest last, at most MAX_RETIRED): such a
   * peer may still sync with the replicas once, to hand over writes it
   * acknowledged before it was cut off, then closes its replica
   */
  retired?: string[]
}

export const MAX_RETIRED = 16

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
export const MAX_REPLICAS = 64

function fail (field: string, message: string): never {
  throw new CatalogueEntryError(field, message)
}

function str (v: unknown, field: string, max = 256): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) fail(field, `must be a non-empty string of at most ${max} characters`)
  return v
}

function int (v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(field, `must be an integer in [${min}, ${max}]`)
  return v
}

function publicFlag (v: unknown, field: string): boolean {
  if (v !== undefined && typeof v !== 'boolean') fail(field, 'must be a boolean')
  return v === true
}

/** Validates a spec (eventual services only). */
export function checkSpec (v: unknown, field = 'spec'): ServiceSpec {
  if (v == null || typeof v !== 'object' || Array.isArray(v)) fail(field, 'must be an object')
  const s = v as Record<string, unknown>
  const name = str(s.name, `${field}.name`, 63)
  if (!NAME.test(name)) fail(`${field}.name`, 'must be a DNS label')
  if (s.mode !== 'eventual') fail(`${field}.mode`, 'must be eventual')
  if (s.crdtEngine !== 'delta-crdts' && s.crdtEngine !== 'automerge') fail(`${field}.crdtEngine`, 'must be delta-crdts or automerge')
  if (!Array.isArray(s.zones) || s.zones.length > MAX_REPLICAS) fail(`${field}.zones`, `must be an array of at most ${MAX_REPLICAS} zones`)
  const zones = s.zones.map((z, i) => str(z, `${field}.zones[${i}]`, 128))
  let logRetention: ServiceSpec['logRetention']
  if (s.logRetention !== undefined) {
    const lr = s.logRetention as Record<string, unknown>
    if (lr == null || typeof lr !== 'object' || Array.isArray(lr)) fail(`${field}.logRetention`, 'must be an object')
    logRetention = {
      ...(lr.maxAgeMs !== undefined ? { maxAgeMs: int(lr.maxAgeMs, `${field}.logRetention.maxAgeMs`, 1, 10 * 365 * 86_400_000) } : {}),
      ...(lr.maxEntries !== undefined ? { maxEntries: int(lr.maxEntries, `${field}.logRetention.maxEntries`, 1, 10_000_000) } : {})
    }
  }
  return {
    name,
    replicas: int(s.replicas, `${field}.replicas`, 1, MAX_REPLICAS),
    runtime: str(s.runtime, `${field}.runtime`, 64),
    mode: 'eventual',
    crdtEngine: s.crdtEngine,
    zones,
    maxStalenessMs: int(s.maxStalenessMs, `${field}.maxStalenessMs`, 0, 86_400_000),
    latencyRadiusMs: int(s.latencyRadiusMs, `${field}.latencyRadiusMs`, 0, 86_400_000),
    ...(logRetention != null ? { logRetention } : {}),
    ...(publicFlag(s.public, `${field}.public`) ? { public: true } : {})
  }
}

export function encodeEntry (e: CatalogueEntry): string {
  return JSON.stringify({ spec: e.spec, replicas: e.replicas, placedBy: e.placedBy, ...(e.retired != null && e.retired.length > 0 ? { retired: e.retired.slice(-MAX_RETIRED) } : {}) })
}

/** Parses and validates an entry; the key it is stored under must be its service name. */
export function parseEntry (json: unknown, key: string): CatalogueEntry {
  if (typeof json !== 'string') fail('entry', 'must be a JSON string')
  let v: unknown
  try {
    v = JSON.parse(json)
  } catch {
    fail('entry', 'is not JSON')
  }
  if (v == null || typeof v !== 'object' || Array.isArray(v)) fail('entry', 'must be an object')
  const o = v as Record<string, unknown>
  const spec = checkSpec(o.spec)
  if (spec.name !== key) fail('spec.name', `is ${spec.name} but the entry is stored under ${key}`)
  if (!Array.isArray(o.replicas) || o.replicas.length === 0 || o.replicas.length > MAX_REPLICAS) fail('replicas', `must list 1..${MAX_REPLICAS} peer ids`)
  const replicas = o.replicas.map((r, i) => str(r, `replicas[${i}]`, 128))
  if (new Set(replicas).size !== replicas.length) fail('replicas', 'lists a peer twice')
  let retired: string[] | undefined
  if (o.retired !== undefined) {
    if (!Array.isArray(o.retired) || o.retired.length > MAX_RETIRED) fail('retired', `must list at most ${MAX_RETIRED} peer ids`)
    retired = o.retired.map((r, i) => str(r, `retired[${i}]`, 128))
  }
  return { spec, replicas, placedBy: str(o.placedBy, 'placedBy', 128), ...(retired != null ? { retired } : {}) }
}

export function sameSpec (a: ServiceSpec, b: ServiceSpec): boolean {
  return a.name === b.name && a.replicas === b.replicas && a.runtime === b.runtime && a.mode === b.mode &&
    a.crdtEngine === b.crdtEngine && a.maxStalenessMs === b.maxStalenessMs && a.latencyRadiusMs === b.latencyRadiusMs &&
    a.zones.length === b.zones.length && a.zones.every((z, i) => z === b.zones[i]) &&
    a.logRetention?.maxAgeMs === b.logRetention?.maxAgeMs && a.logRetention?.maxEntries === b.logRetention?.maxEntries
}
