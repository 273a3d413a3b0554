/**
 * Allocation constraints: parsing and validation (a trust boundary: HTTP
 * bodies and protocol frames). Pure. Every failure is an
 * InvalidConstraintsError naming the field.
 */
import { normaliseArch } from '../registry/descriptor.js'
import { InvalidConstraintsError } from './errors.js'

export type Runtime = 'wasi' | 'reactor'
export const RUNTIMES: readonly Runtime[] = ['wasi', 'reactor']
/** names accepted for a runtime and what they mean: `wasm` (the article's) is the default Wasm runtime */
export const RUNTIME_ALIASES: Readonly<Record<string, Runtime>> = Object.freeze({ wasi: 'wasi', reactor: 'reactor', wasm: 'wasi' })

/** Constraints as a caller writes them. */
export interface Constraints {
  runtime?: Runtime
  /** cores (> 0, fractions allowed); callers may write a quantity string ("2", "500m"), parsed to cores */
  cpu?: number
  /** bytes, or a quantity with a unit: '256Mi', '1Gi', '512M' (Ki Mi Gi Ti K M G T) */
  memory?: string | number
  /** hard limit on the RTT from `from` to the chosen peer (ms) */
  latencyMs?: number
  region?: string
  tee?: boolean
  /** minimum trust level */
  trust?: number
  arch?: string
  /** peer id or region where latency is measured from; default the requesting peer */
  from?: string
}

/** Validated constraints with memory resolved. */
export interface ParsedConstraints extends Constraints {
  /** memory in bytes, when `memory` was given */
  memoryBytes?: number
  /** memory in MiB, rounded up, when `memory` was given */
  memoryMb?: number
}

export interface AllocationRequest {
  constraints: ParsedConstraints
  /** 1..MAX_REPLICAS, default 1 */
  replicas: number
  /** lease asked for, ms (the service clamps it to its own bounds) */
  leaseMs?: number
}

export const MAX_REPLICAS = 16
export const MAX_CPU = 4096
export const MAX_LATENCY_MS = 600_000
export const MAX_TRUST = 1000
/** 1 PiB */
export const MAX_MEMORY_BYTES = 2 ** 50
export const MIN_LEASE_MS = 1_000
export const MAX_LEASE_MS = 30 * 24 * 3600 * 1000

const UNITS: Readonly<Record<string, number>> = Object.freeze({
  '': 1,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12
})

const QUANTITY = /^([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)$/
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/
const FROM = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

const CONSTRAINT_FIELDS = new Set(['runtime', 'cpu', 'memory', 'latencyMs', 'region', 'tee', 'trust', 'arch', 'from'])

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function finiteNumber (v: unknown, field: string): number {
  if (typeof v !== 'number') throw new InvalidConstraintsError(field, `must be a number, got ${typeof v}`)
  if (!Number.isFinite(v)) throw new InvalidConstraintsError(field, `must be a finite number, got ${String(v)}`)
  return v
}

function label (v: unknown, field: string, pattern = LABEL): string {
  if (typeof v !== 'string') throw new InvalidConstraintsError(field, `must be a string, got ${typeof v}`)
  if (!pattern.test(v)) throw new InvalidConstraintsError(field, `must match ${pattern.source}, got ${JSON.stringify(v.slice(0, 80))}`)
  return v
}

const CPU_QUANTITY = /^([0-9]+(?:\.[0-9]+)?)(m?)$/

/** A cpu quantity in cores: a number, or a string like "2", "0.5" or "500m" (millicores, as Kubernetes writes them). */
export function parseCpu (value: unknown, field = 'cpu'): number {
  let cores: number
  if (typeof value === 'number') {
    cores = finiteNumber(value, field)
  } else if (typeof value === 'string') {
    const m = CPU_QUANTITY.exec(value.trim())
    if (m == null || value.length > 32) throw new InvalidConstraintsError(field, `must be a number of cores or a quantity like "2", "0.5", "500m", got ${JSON.stringify(value.slice(0, 40))}`)
    cores = Number(m[1]) / (m[2] === 'm' ? 1000 : 1)
  } else {
    throw new InvalidConstraintsError(field, `must be a number or a quantity string, got ${value === null ? 'null' : typeof value}`)
  }
  if (cores <= 0) throw new InvalidConstraintsError(field, `must be > 0, got ${cores}`)
  if (cores > MAX_CPU) throw new InvalidConstraintsError(field, `must be at most ${MAX_CPU}`)
  return cores
}

/** A memory quantity in bytes: a non-negative integer, or a string like '256Mi', '1Gi', '512M', '1048576'. */
export function parseMemory (value: unknown, field = 'memory'): number {
  let bytes: number
  if (typeof value === 'number') {
    bytes = finiteNumber(value, field)
    if (!Number.isInteger(bytes)) throw new InvalidConstraintsError(field, `a number of bytes must be an integer, got ${bytes}`)
  } else if (typeof value === 'string') {
    const m = QUANTITY.exec(value.trim())
    if (m == null || value.length > 32) {
      throw new InvalidConstraintsError(field, `must be a quantity like 256Mi, 1Gi, 512M or a byte count, got ${JSON.stringify(value.slice(0, 40))}`)
    }
    const unit = UNITS[m[2]]
    if (unit == null) {
      throw new InvalidConstraintsError(field, `unknown unit ${JSON.stringify(m[2])} (use Ki Mi Gi Ti K M G T, or none for bytes)`)
    }
    bytes = Math.ceil(Number(m[1]) * unit)
  } else {
    throw new InvalidConstraintsError(field, `must be a string quantity or a number of bytes, got ${value === null ? 'null' : typeof value}`)
  }
  if (bytes <= 0) throw new InvalidConstraintsError(field, 'must be > 0')
  if (bytes > MAX_MEMORY_BYTES) throw new InvalidConstraintsError(field, 'must be at most 1 PiB')
  return bytes
}

/** Validates constraints; unknown fields, wrong types, negatives, NaN and unknown units are rejected. */
export function parseConstraints (input: unknown, prefix = 'constraints'): ParsedConstraints {
  if (input === undefined) return {}
  if (!isRecord(input)) throw new InvalidConstraintsError(prefix === '' ? 'constraints' : prefix, 'must be an object')
  const f = (name: string): string => prefix === '' ? name : `${prefix}.${name}`
  for (const key of Object.keys(input)) {
    if (!CONSTRAINT_FIELDS.has(key)) throw new InvalidConstraintsError(f(key), 'is not a known constraint')
  }
  const out: ParsedConstraints = {}
  if (input.runtime !== undefined) {
    const rt = typeof input.runtime === 'string' && Object.hasOwn(RUNTIME_ALIASES, input.runtime) ? RUNTIME_ALIASES[input.runtime] : undefined
    if (rt === undefined) throw new InvalidConstraintsError(f('runtime'), `must be one of ${Object.keys(RUNTIME_ALIASES).join(', ')}`)
    out.runtime = rt
  }
  if (input.cpu !== undefined) out.cpu = parseCpu(input.cpu, f('cpu'))
  if (input.memory !== undefined) {
    const bytes = parseMemory(input.memory, f('memory'))
    out.memory = input.memory as string | number
    out.memoryBytes = bytes
    out.memoryMb = Math.ceil(bytes / 2 ** 20)
  }
  if (input.latencyMs !== undefined) {
    const ms = finiteNumber(input.latencyMs, f('latencyMs'))
    if (ms <= 0) throw new InvalidConstraintsError(f('latencyMs'), `must be > 0, got ${ms}`)
    if (ms > MAX_LATENCY_MS) throw new InvalidConstraintsError(f('latencyMs'), `must be at most ${MAX_LATENCY_MS}`)
    out.latencyMs = ms
  }
  if (input.region !== undefined) out.region = label(input.region, f('region'))
  if (input.tee !== undefined) {
    if (typeof input.tee !== 'boolean') throw new InvalidConstraintsError(f('tee'), `must be a boolean, got ${typeof input.tee}`)
    out.tee = input.tee
  }
  if (input.trust !== undefined) {
    const t = finiteNumber(input.trust, f('trust'))
    if (t < 0) throw new InvalidConstraintsError(f('trust'), `must be >= 0, got ${t}`)
    if (t > MAX_TRUST) throw new InvalidConstraintsError(f('trust'), `must be at most ${MAX_TRUST}`)
    out.trust = t
  }
  // OCI/GOARCH names, as ENDs carry them (x64, x86_64 -> amd64; aarch64 -> arm64)
  if (input.arch !== undefined) out.arch = normaliseArch(label(input.arch, f('arch')))
  if (input.from !== undefined) out.from = label(input.from, f('from'), FROM)
  return out
}

/**
 * An allocation request body: `{ constraints?, runtime?, replicas?, leaseMs? }`.
 * A top-level `runtime` (as in DESIGN.md) is the same as `constraints.runtime`.
 */
export function parseAllocationRequest (body: unknown): AllocationRequest {
  if (!isRecord(body)) throw new InvalidConstraintsError('body', 'must be a JSON object')
  for (const key of Object.keys(body)) {
    if (!['constraints', 'runtime', 'replicas', 'leaseMs'].includes(key)) {
      throw new InvalidConstraintsError(key, 'is not a known field (constraints, runtime, replicas, leaseMs)')
    }
  }
  const constraints = parseConstraints(body.constraints)
  if (body.runtime !== undefined) {
    const top = parseConstraints({ runtime: body.runtime }, '')
    if (constraints.runtime != null && constraints.runtime !== top.runtime) {
      throw new InvalidConstraintsError('runtime', 'disagrees with constraints.runtime')
    }
    constraints.runtime = top.runtime
  }
  let replicas = 1
  if (body.replicas !== undefined) {
    replicas = finiteNumber(body.replicas, 'replicas')
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
      throw new InvalidConstraintsError('replicas', `must be an integer in 1..${MAX_REPLICAS}, got ${replicas}`)
    }
  }
  const out: AllocationRequest = { constraints, replicas }
  if (body.leaseMs !== undefined) {
    const lease = finiteNumber(body.leaseMs, 'leaseMs')
    if (!Number.isInteger(lease) || lease < MIN_LEASE_MS || lease > MAX_LEASE_MS) {
      throw new InvalidConstraintsError('leaseMs', `must be an integer in ${MIN_LEASE_MS}..${MAX_LEASE_MS}, got ${lease}`)
    }
    out.leaseMs = lease
  }
  return out
}

/** The constraints as echoed back to callers (no derived fields). */
export function publicConstraints (c: ParsedConstraints): Constraints {
  const { memoryBytes: _b, memoryMb: _m, ...rest } = c
  return rest
}
