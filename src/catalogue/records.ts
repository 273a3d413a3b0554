/**
 * Catalogue records (pure): the key scheme of the federation-wide catalogue
 * and a strict check of every value. The catalogue is one ORMap of causal
 * LWW registers (src/crdt); each key holds one JSON text:
 *
 *   fn/<name>/v/<cid>        a version of function <name>: abi, size, limits, env, grants, who deployed it
 *   fn/<name>/current        the current pointer {id, at, by}
 *   fn/<name>/good/<cid>     a known-good mark (the version passed a health check)
 *   fn/<name>/ev/<event id>  an event (deployed, rollback, unhealthy, rollback-impossible)
 *   fn/<name>/rollout        the function's rollout (./rollout-records.ts)
 *   fn/<name>/rm/<peerId>    one peer's canary/baseline figures for that rollout
 *   m/<Kind>/<name>          an applied manifest (Function, HealthCheck, EdgeStatefulService)
 *
 * Records come from callers, gossip, anti-entropy and the disk, so every
 * one is decoded by `parseRecord`, which names what is wrong.
 */
import { CatalogueRecordError } from './errors.js'
import { checkRollout, checkRolloutReport, PEER_RE } from './rollout-records.js'
import type { RolloutRecord, RolloutReportRecord } from './rollout-records.js'

export const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
/** a CIDv1 in base32 (what moduleCid prints) */
export const CID_RE = /^b[a-z2-7]{20,120}$/
/** an event id: HLC wall, logical, a short writer tag */
const EVENT_ID_RE = /^[0-9]{1,16}-[0-9]{1,9}-[A-Za-z0-9]{1,64}$/
export const MANIFEST_KINDS = ['Function', 'HealthCheck', 'EdgeStatefulService', 'Sink', 'EdgeCache'] as const
export type CatalogueManifestKind = typeof MANIFEST_KINDS[number]
export const EVENT_TYPES = ['deployed', 'rollback', 'unhealthy', 'rollback-impossible', 'rollout-started', 'rollout-step', 'rollout-promoted', 'rollout-reverted', 'rollout-failed'] as const
export type CatalogueEventType = typeof EVENT_TYPES[number]

/** the largest JSON text one record may hold */
export const MAX_VALUE_BYTES = 64 * 1024
const MAX_TEXT = 4096
const MAX_PEER = 128

export interface VersionRecord {
  cid: string
  abi: 'wasi' | 'reactor'
  size: number
  deployedAt: string
  deployedBy: string
  /** the HLC reading [wall, logical] of the first deploy: versions are numbered in this order */
  deployedHlc: [number, number]
  limits?: Record<string, number>
  env?: Record<string, string>
  /** booleans (clock, random, env) and the host interface's data grants (services: name -> access, caches, sinks: names) */
  grants?: Record<string, boolean | string[] | Record<string, string>>
  warmPoolSize?: number
}

export interface CurrentRecord {
  id: string
  at: string
  by: string
}

export interface KnownGoodRecord {
  at: string
  by: string
}

export interface EventRecord {
  at: string
  by: string
  type: CatalogueEventType
  version?: number
  id?: string
  from?: string
  reason?: string
}

export interface ManifestRecord {
  kind: CatalogueManifestKind
  name: string
  labels?: Record<string, string>
  spec: Record<string, unknown>
  appliedAt: string
  appliedBy: string
  /** the apply call this manifest came in with (manifests applied together share it) */
  applyId?: string
}

export type ParsedKey =
  | { type: 'version', name: string, cid: string }
  | { type: 'current', name: string }
  | { type: 'good', name: string, cid: string }
  | { type: 'event', name: string, eventId: string }
  | { type: 'manifest', kind: CatalogueManifestKind, name: string }
  | { type: 'rollout', name: string }
  | { type: 'report', name: string, peer: string }

export type ParsedRecord =
  | { key: ParsedKey & { type: 'version' }, value: VersionRecord }
  | { key: ParsedKey & { type: 'current' }, value: CurrentRecord }
  | { key: ParsedKey & { type: 'good' }, value: KnownGoodRecord }
  | { key: ParsedKey & { type: 'event' }, value: EventRecord }
  | { key: ParsedKey & { type: 'manifest' }, value: ManifestRecord }
  | { key: ParsedKey & { type: 'rollout' }, value: RolloutRecord }
  | { key: ParsedKey & { type: 'report' }, value: RolloutReportRecord }

export const keys = {
  version: (name: string, cid: string) => `fn/${name}/v/${cid}`,
  current: (name: string) => `fn/${name}/current`,
  good: (name: string, cid: string) => `fn/${name}/good/${cid}`,
  event: (name: string, eventId: string) => `fn/${name}/ev/${eventId}`,
  manifest: (kind: CatalogueManifestKind, name: string) => `m/${kind}/${name}`,
  rollout: (name: string) => `fn/${name}/rollout`,
  report: (name: string, peer: string) => `fn/${name}/rm/${peer}`,
  functionPrefix: (name: string) => `fn/${name}/`
}

function fail (field: string, message: string): never {
  throw new CatalogueRecordError(field, message)
}

/** Parses a catalogue key; throws CatalogueRecordError on anything else. */
export function parseKey (key: unknown): ParsedKey {
  if (typeof key !== 'string' || key.length > 512) fail('key', 'must be a string of at most 512 characters')
  const p = key.split('/')
  if (p[0] === 'fn' && p.length >= 3 && NAME_RE.test(p[1])) {
    const name = p[1]
    if (p.length === 3 && p[2] === 'current') return { type: 'current', name }
    if (p.length === 3 && p[2] === 'rollout') return { type: 'rollout', name }
    if (p.length === 4 && p[2] === 'rm' && PEER_RE.test(p[3])) return { type: 'report', name, peer: p[3] }
    if (p.length === 4 && p[2] === 'v' && CID_RE.test(p[3])) return { type: 'version', name, cid: p[3] }
    if (p.length === 4 && p[2] === 'good' && CID_RE.test(p[3])) return { type: 'good', name, cid: p[3] }
    if (p.length === 4 && p[2] === 'ev' && EVENT_ID_RE.test(p[3])) return { type: 'event', name, eventId: p[3] }
  }
  if (p[0] === 'm' && p.length === 3 && (MANIFEST_KINDS as readonly string[]).includes(p[1]) && NAME_RE.test(p[2])) {
    return { type: 'manifest', kind: p[1] as CatalogueManifestKind, name: p[2] }
  }
  fail('key', `${JSON.stringify(key.slice(0, 80))} is not a catalogue key`)
}

function obj (v: unknown, field: string): Record<string, unknown> {
  if (v == null || typeof v !== 'object' || Array.isArray(v)) fail(field, 'must be an object')
  return v as Record<string, unknown>
}

function text (v: unknown, field: string, max = MAX_TEXT): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) fail(field, `must be a non-empty string of at most ${max} characters`)
  return v
}

function time (v: unknown, field: string): string {
  const s = text(v, field, 40)
  if (Number.isNaN(Date.parse(s))) fail(field, 'must be an ISO 8601 time')
  return s
}

function int (v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(field, `must be an integer in [${min}, ${max}]`)
  return v
}

function only (o: Record<string, unknown>, allowed: readonly string[], field: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${field}.${k}`, 'unknown field')
}

function mapOf<T> (v: unknown, field: string, maxKeys: number, check: (x: unknown, f: string) => T): Record<string, T> {
  const o = obj(v, field)
  const entries = Object.entries(o)
  if (entries.length > maxKeys) fail(field, `at most ${maxKeys} entries`)
  const out: Record<string, T> = {}
  for (const [k, x] of entries) {
    if (k.length === 0 || k.length > 256) fail(field, 'keys must be 1-256 characters')
    out[k] = check(x, `${field}.${k}`)
  }
  return out
}

function num (v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(field, 'must be a finite non-negative number')
  return v
}


const GRANT_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

/** one grant: a boolean (clock, random, env), a list of names (caches, sinks) or name -> access (services) */
function grant (v: unknown, field: string): boolean | string[] | Record<string, string> {
  if (typeof v === 'boolean') return v
  const name = (x: unknown, f: string): string => {
    if (typeof x !== 'string' || !GRANT_NAME.test(x)) fail(f, 'must be a name of [a-z0-9-]')
    return x
  }
  if (Array.isArray(v)) {
    if (v.length > 64) fail(field, 'must list at most 64 names')
    return v.map((x, i) => name(x, `${field}[${i}]`))
  }
  const m = mapOf(v, field, 64, (x, f) => {
    if (x !== 'read' && x !== 'write' && x !== 'read-write') fail(f, 'must be read, write or read-write')
    return x
  })
  for (const k of Object.keys(m)) name(k, `${field}.${k}`)
  return m
}

function str (v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length > MAX_TEXT) fail(field, `must be a string of at most ${MAX_TEXT} characters`)
  return v
}

export function checkVersion (v: unknown, cid: string, field = 'version'): VersionRecord {
  const o = obj(v, field)
  only(o, ['cid', 'abi', 'size', 'deployedAt', 'deployedBy', 'deployedHlc', 'limits', 'env', 'grants', 'warmPoolSize'], field)
  if (!Array.isArray(o.deployedHlc) || o.deployedHlc.length !== 2) fail(`${field}.deployedHlc`, 'must be [wall, logical]')
  if (o.cid !== cid) fail(`${field}.cid`, `must be ${cid}, the cid in its key`)
  if (o.abi !== 'wasi' && o.abi !== 'reactor') fail(`${field}.abi`, 'must be wasi or reactor')
  return {
    cid,
    abi: o.abi,
    size: int(o.size, `${field}.size`, 1, 1 << 30),
    deployedAt: time(o.deployedAt, `${field}.deployedAt`),
    deployedBy: text(o.deployedBy, `${field}.deployedBy`, MAX_PEER),
    deployedHlc: [int(o.deployedHlc[0], `${field}.deployedHlc[0]`, 0, Number.MAX_SAFE_INTEGER), int(o.deployedHlc[1], `${field}.deployedHlc[1]`, 0, Number.MAX_SAFE_INTEGER)],
    ...(o.limits !== undefined ? { limits: mapOf(o.limits, `${field}.limits`, 16, num) } : {}),
    ...(o.env !== undefined ? { env: mapOf(o.env, `${field}.env`, 128, str) } : {}),
    ...(o.grants !== undefined ? { grants: mapOf(o.grants, `${field}.grants`, 16, grant) } : {}),
    ...(o.warmPoolSize !== undefined ? { warmPoolSize: int(o.warmPoolSize, `${field}.warmPoolSize`, 0, 16) } : {})
  }
}

export function checkCurrent (v: unknown, field = 'current'): CurrentRecord {
  const o = obj(v, field)
  only(o, ['id', 'at', 'by'], field)
  const id = text(o.id, `${field}.id`, 130)
  if (!CID_RE.test(id)) fail(`${field}.id`, 'must be a CIDv1 (base32)')
  return { id, at: time(o.at, `${field}.at`), by: text(o.by, `${field}.by`, MAX_PEER) }
}

export function checkKnownGood (v: unknown, field = 'good'): KnownGoodRecord {
  const o = obj(v, field)
  only(o, ['at', 'by'], field)
  return { at: time(o.at, `${field}.at`), by: text(o.by, `${field}.by`, MAX_PEER) }
}

export function checkEvent (v: unknown, field = 'event'): EventRecord {
  const o = obj(v, field)
  only(o, ['at', 'by', 'type', 'version', 'id', 'from', 'reason'], field)
  if (!(EVENT_TYPES as readonly unknown[]).includes(o.type)) fail(`${field}.type`, `must be one of ${EVENT_TYPES.join(', ')}`)
  return {
    at: time(o.at, `${field}.at`),
    by: text(o.by, `${field}.by`, MAX_PEER),
    type: o.type as CatalogueEventType,
    ...(o.version !== undefined ? { version: int(o.version, `${field}.version`, 1, 1_000_000) } : {}),
    ...(o.id !== undefined ? { id: text(o.id, `${field}.id`, 130) } : {}),
    ...(o.from !== undefined ? { from: text(o.from, `${field}.from`, 130) } : {}),
    ...(o.reason !== undefined ? { reason: text(o.reason, `${field}.reason`) } : {})
  }
}

/**
 * Checks a manifest record's envelope; `checkSpec` (the manifest JSON
 * Schemas, injected by the catalogue's owner) checks the spec itself.
 */
export function checkManifest (v: unknown, kind: CatalogueManifestKind, name: string, checkSpec?: (kind: CatalogueManifestKind, spec: Record<string, unknown>) => void, field = 'manifest'): ManifestRecord {
  const o = obj(v, field)
  only(o, ['kind', 'name', 'labels', 'spec', 'appliedAt', 'appliedBy', 'applyId'], field)
  if (o.kind !== kind) fail(`${field}.kind`, `must be ${kind}, the kind in its key`)
  if (o.name !== name) fail(`${field}.name`, `must be ${name}, the name in its key`)
  const spec = obj(o.spec, `${field}.spec`)
  checkSpec?.(kind, spec)
  return {
    kind,
    name,
    ...(o.labels !== undefined ? { labels: mapOf(o.labels, `${field}.labels`, 32, (x, f) => text(x, f, 63)) } : {}),
    spec,
    appliedAt: time(o.appliedAt, `${field}.appliedAt`),
    appliedBy: text(o.appliedBy, `${field}.appliedBy`, MAX_PEER),
    ...(o.applyId !== undefined ? { applyId: text(o.applyId, `${field}.applyId`, 128) } : {})
  }
}

/** Decodes one record: its key and its JSON text. */
export function parseRecord (key: unknown, value: unknown, checkSpec?: (kind: CatalogueManifestKind, spec: Record<string, unknown>) => void): ParsedRecord {
  const k = parseKey(key)
  if (typeof value !== 'string') fail(String(key), 'value must be JSON text')
  if (value.length > MAX_VALUE_BYTES) fail(String(key), `value larger than ${MAX_VALUE_BYTES} characters`)
  let v: unknown
  try {
    v = JSON.parse(value)
  } catch {
    fail(String(key), 'value is not JSON')
  }
  switch (k.type) {
    case 'version': return { key: k, value: checkVersion(v, k.cid, String(key)) }
    case 'current': return { key: k, value: checkCurrent(v, String(key)) }
    case 'good': return { key: k, value: checkKnownGood(v, String(key)) }
    case 'event': return { key: k, value: checkEvent(v, String(key)) }
    case 'manifest': return { key: k, value: checkManifest(v, k.kind, k.name, checkSpec, String(key)) }
    case 'rollout': return { key: k, value: checkRollout(v, String(key)) }
    case 'report': return { key: k, value: checkRolloutReport(v, k.peer, String(key)) }
  }
}
