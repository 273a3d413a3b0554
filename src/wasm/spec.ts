/**
 * FunctionSpec checking and defaults. A spec may come from an HTTP body or
 * a manifest, so every field is checked and a bad one is named.
 */
import { ABIS } from './abi.js'
import { InvalidSpecError } from './errors.js'
import { DEFAULT_MEMORY_MB, MAX_MEMORY_MB } from './validate.js'
import type { Abi } from './abi.js'

export interface FunctionLimits {
  /** memory ceiling of one instance, MiB (default 64, max 4096) */
  memoryMb?: number
  /** wall-clock limit of one invocation, ms (default 5000) */
  timeoutMs?: number
  /** output (stdout + dcis.write_output) ceiling, bytes (default 1 MiB) */
  maxOutputBytes?: number
  /** invocations of this function running at once (default: the worker count) */
  maxConcurrency?: number
  /** invocations of this function waiting beyond maxConcurrency (default 64) */
  maxQueue?: number
}

export interface FunctionGrants {
  /** WASI clock_time_get / clock_res_get (default false: ENOTCAPABLE) */
  clock?: boolean
  /** WASI random_get (default false: ENOTCAPABLE) */
  random?: boolean
  /** expose `env` through environ_get (default false: the environment is empty) */
  env?: boolean
  /**
   * stateful services the host interface may use (docs/wasm-abi.md):
   * service name -> `read` (kv_get, counter_get), `write` (kv_put,
   * counter_add, log_append) or `read-write`; a service not listed is denied
   */
  services?: Record<string, ServiceAccess>
  /** edge caches the function may read through (cache_get) */
  caches?: string[]
  /** sinks the function may emit records to (sink_emit) */
  sinks?: string[]
}

export type ServiceAccess = 'read' | 'write' | 'read-write'
export const SERVICE_ACCESS: readonly ServiceAccess[] = ['read', 'write', 'read-write']

/** What the host interface lets a function touch: least privilege, nothing unless granted. */
export interface DataGrants {
  services: Record<string, ServiceAccess>
  caches: string[]
  sinks: string[]
}

const RESOURCE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
export const MAX_GRANTED = 64

/** Checks the data grants of a spec (services, caches, sinks); names the bad field. */
export function normalizeDataGrants (grants: Record<string, unknown>): DataGrants {
  const services: Record<string, ServiceAccess> = {}
  if (grants.services !== undefined) {
    if (!isRecord(grants.services)) throw new InvalidSpecError('grants.services', 'must map service names to read, write or read-write')
    const entries = Object.entries(grants.services)
    if (entries.length > MAX_GRANTED) throw new InvalidSpecError('grants.services', `at most ${MAX_GRANTED} services`)
    for (const [name, access] of entries) {
      if (!RESOURCE_NAME.test(name)) throw new InvalidSpecError(`grants.services.${name}`, 'must be a service name')
      if (!(SERVICE_ACCESS as readonly unknown[]).includes(access)) throw new InvalidSpecError(`grants.services.${name}`, `must be one of ${SERVICE_ACCESS.join(', ')}`)
      services[name] = access as ServiceAccess
    }
  }
  const names = (field: 'caches' | 'sinks'): string[] => {
    const v = grants[field]
    if (v === undefined) return []
    if (!Array.isArray(v) || v.length > MAX_GRANTED) throw new InvalidSpecError(`grants.${field}`, `must list at most ${MAX_GRANTED} names`)
    return v.map((n, i) => {
      if (typeof n !== 'string' || !RESOURCE_NAME.test(n)) throw new InvalidSpecError(`grants.${field}[${i}]`, 'must be a name of [a-z0-9-]')
      return n
    })
  }
  return { services, caches: names('caches'), sinks: names('sinks') }
}

export interface FunctionSpec {
  /** the CID of `bytes`, computed by the caller */
  id: string
  name: string
  abi: Abi
  bytes: Uint8Array
  limits?: FunctionLimits
  env?: Record<string, string>
  grants?: FunctionGrants
  /** warm instances kept per worker (default 1, max 16) */
  warmPoolSize?: number
}

export interface NormalizedSpec {
  id: string
  name: string
  abi: Abi
  bytes: Uint8Array
  memoryMb: number
  timeoutMs: number
  maxOutputBytes: number
  maxConcurrency: number
  maxQueue: number
  /** the environment the function sees (empty unless granted) */
  env: Record<string, string>
  clock: boolean
  random: boolean
  warmPoolSize: number
  /** services, caches and sinks the host interface may use */
  data: DataGrants
}

export const DEFAULT_TIMEOUT_MS = 5000
export const MAX_TIMEOUT_MS = 10 * 60 * 1000
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024
export const MAX_OUTPUT_BYTES = 64 * 1024 * 1024
export const DEFAULT_FUNCTION_QUEUE = 64
export const DEFAULT_WARM_POOL_SIZE = 1
export const MAX_WARM_POOL_SIZE = 16

function num (field: string, v: unknown, def: number, min: number, max: number, integer: boolean): number {
  if (v === undefined) return def
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidSpecError(field, 'must be a finite number')
  if (integer && !Number.isInteger(v)) throw new InvalidSpecError(field, 'must be an integer')
  if (v < min || v > max) throw new InvalidSpecError(field, `must be between ${min} and ${max}`)
  return v
}

function bool (field: string, v: unknown): boolean {
  if (v === undefined) return false
  if (typeof v !== 'boolean') throw new InvalidSpecError(field, 'must be a boolean')
  return v
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function normalizeSpec (spec: unknown, defaults: { maxConcurrency: number }): NormalizedSpec {
  if (!isRecord(spec)) throw new InvalidSpecError('spec', 'must be an object')
  const { id, name, abi, bytes } = spec
  if (typeof id !== 'string' || id.length === 0 || id.length > 256 || !/^[A-Za-z0-9._-]+$/.test(id)) {
    throw new InvalidSpecError('id', 'must be a CID string (1-256 characters of [A-Za-z0-9._-])')
  }
  if (typeof name !== 'string' || name.length === 0 || name.length > 128) {
    throw new InvalidSpecError('name', 'must be a string of 1-128 characters')
  }
  if (typeof abi !== 'string' || !ABIS.includes(abi as Abi)) throw new InvalidSpecError('abi', `must be one of ${ABIS.join(', ')}`)
  if (!(bytes instanceof Uint8Array)) throw new InvalidSpecError('bytes', 'must be a Uint8Array')
  const limits = spec.limits ?? {}
  if (!isRecord(limits)) throw new InvalidSpecError('limits', 'must be an object')
  const grants = spec.grants ?? {}
  if (!isRecord(grants)) throw new InvalidSpecError('grants', 'must be an object')
  const envIn = spec.env ?? {}
  if (!isRecord(envIn)) throw new InvalidSpecError('env', 'must be an object of strings')
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(envIn)) {
    if (k.length === 0 || k.includes('=') || k.includes('\0')) throw new InvalidSpecError(`env.${k}`, 'name must be non-empty without "=" or NUL')
    if (typeof v !== 'string' || v.includes('\0')) throw new InvalidSpecError(`env.${k}`, 'must be a string without NUL')
    env[k] = v
  }
  const envGranted = bool('grants.env', grants.env)
  return {
    id,
    name,
    abi: abi as Abi,
    bytes,
    memoryMb: num('limits.memoryMb', limits.memoryMb, DEFAULT_MEMORY_MB, 0.0625, MAX_MEMORY_MB, false),
    timeoutMs: num('limits.timeoutMs', limits.timeoutMs, DEFAULT_TIMEOUT_MS, 1, MAX_TIMEOUT_MS, true),
    maxOutputBytes: num('limits.maxOutputBytes', limits.maxOutputBytes, DEFAULT_MAX_OUTPUT_BYTES, 0, MAX_OUTPUT_BYTES, true),
    maxConcurrency: num('limits.maxConcurrency', limits.maxConcurrency, defaults.maxConcurrency, 1, 1024, true),
    maxQueue: num('limits.maxQueue', limits.maxQueue, DEFAULT_FUNCTION_QUEUE, 0, 100_000, true),
    env: envGranted ? env : {},
    clock: bool('grants.clock', grants.clock),
    random: bool('grants.random', grants.random),
    warmPoolSize: num('warmPoolSize', spec.warmPoolSize, DEFAULT_WARM_POOL_SIZE, 0, MAX_WARM_POOL_SIZE, true),
    data: normalizeDataGrants(grants)
  }
}
