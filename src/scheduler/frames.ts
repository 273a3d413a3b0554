/**
 * Frames of `/dcis/alloc/1.0.0`: one length-prefixed JSON request and one
 * response per stream. Every frame is validated here (a trust boundary):
 * size, shape, types and bounds; anything else is an InvalidAllocFrameError
 * naming the field.
 */
import { InvalidAllocFrameError, InvalidConstraintsError } from './errors.js'
import { isAllocationId } from './ids.js'
import { MAX_CPU, MAX_LEASE_MS, MAX_MEMORY_BYTES, MIN_LEASE_MS, parseConstraints, publicConstraints } from './constraints.js'
import type { Constraints } from './constraints.js'
import type { AllocationNode, Capacity, Reservation } from './ledger.js'
import { checkTraceFields } from '../telemetry/tracing/spans.js'
import type { TraceFields } from '../telemetry/tracing/spans.js'

export const ALLOC_PROTOCOL = '/dcis/alloc/1.0.0'
export const FRAME_VERSION = 1
/** largest frame either way (bytes) */
export const MAX_FRAME_BYTES = 16 * 1024
export const MAX_NODES = 16
const MAX_MEMORY_MB = MAX_MEMORY_BYTES / 2 ** 20

/**
 * every request may carry the caller's W3C trace context (optional
 * `traceparent`, `tracestate`) and the original caller's bearer token
 * (optional `token`: the serving peer re-authorises the call itself)
 */
export type AllocRequest = TraceFields & { token?: string } & (
  | { v: 1, op: 'reserve', id: string, cpu: number, memoryMb: number, leaseMs: number, constraints: Constraints, nodes?: AllocationNode[] }
  | { v: 1, op: 'commit', id: string, nodes: AllocationNode[] }
  | { v: 1, op: 'get', id: string }
  | { v: 1, op: 'release', id: string }
  | { v: 1, op: 'renew', id: string, leaseMs?: number })

export type RefusalReason = 'capacity' | 'duplicate' | 'full' | 'not-found' | 'bad-request' | 'forbidden' | 'internal'

export type AllocResponse =
  | { v: 1, ok: true, reservation: Reservation }
  | { v: 1, ok: false, error: RefusalReason, message: string, free?: Capacity }

const REASONS = new Set<RefusalReason>(['capacity', 'duplicate', 'full', 'not-found', 'bad-request', 'forbidden', 'internal'])
const PEER = /^[1-9A-HJ-NP-Za-km-z]{16,128}$/
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/
/** longest token a frame carries (a compact JWT) */
export const MAX_TOKEN_CHARS = 8 * 1024
const JWT_CHARS = /^[A-Za-z0-9_.-]+$/

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function onlyKeys (o: Record<string, unknown>, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new InvalidAllocFrameError(`${where}${k}`, 'is not allowed')
  }
}

function num (v: unknown, field: string, min: number, max: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidAllocFrameError(field, 'must be a finite number')
  if (v < min || v > max) throw new InvalidAllocFrameError(field, `must be in ${min}..${max}`)
  if (integer && !Number.isInteger(v)) throw new InvalidAllocFrameError(field, 'must be an integer')
  return v
}

function id (v: unknown, field = 'id'): string {
  if (!isAllocationId(v)) throw new InvalidAllocFrameError(field, 'must be an allocation id <ownerPeerId>.<suffix>')
  return v
}

function str (v: unknown, field: string, pattern: RegExp): string {
  if (typeof v !== 'string' || !pattern.test(v)) throw new InvalidAllocFrameError(field, `must match ${pattern.source}`)
  return v
}

function constraints (v: unknown, field: string): Constraints {
  try {
    return publicConstraints(parseConstraints(v, field))
  } catch (err) {
    if (err instanceof InvalidConstraintsError) throw new InvalidAllocFrameError(err.field, err.message)
    throw err
  }
}

function nodes (v: unknown, field: string): AllocationNode[] {
  if (!Array.isArray(v) || v.length > MAX_NODES) throw new InvalidAllocFrameError(field, `must be an array of at most ${MAX_NODES}`)
  return v.map((n, i) => {
    if (!isRecord(n)) throw new InvalidAllocFrameError(`${field}[${i}]`, 'must be an object')
    onlyKeys(n, ['peerId', 'region', 'zone'], `${field}[${i}].`)
    return {
      peerId: str(n.peerId, `${field}[${i}].peerId`, PEER),
      region: str(n.region, `${field}[${i}].region`, LABEL),
      zone: str(n.zone, `${field}[${i}].zone`, LABEL)
    }
  })
}

function parseJson (bytes: Uint8Array): unknown {
  if (bytes.byteLength > MAX_FRAME_BYTES) throw new InvalidAllocFrameError('frame', `larger than ${MAX_FRAME_BYTES} bytes`)
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw new InvalidAllocFrameError('frame', 'is not UTF-8 JSON')
  }
}

export function encodeFrame (frame: AllocRequest | AllocResponse): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify(frame))
  if (bytes.byteLength > MAX_FRAME_BYTES) throw new InvalidAllocFrameError('frame', `larger than ${MAX_FRAME_BYTES} bytes`)
  return bytes
}

export function decodeRequest (bytes: Uint8Array): AllocRequest {
  const frame = parseJson(bytes)
  if (!isRecord(frame)) throw new InvalidAllocFrameError('frame', 'must be an object')
  const { traceparent, tracestate, token, ...f } = frame
  const trace = checkTraceFields({ traceparent, tracestate }, (field, reason) => new InvalidAllocFrameError(field, reason))
  if (token !== undefined && (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS || !JWT_CHARS.test(token))) {
    throw new InvalidAllocFrameError('token', `must be a compact JWT of at most ${MAX_TOKEN_CHARS} characters`)
  }
  return { ...decodeOp(f), ...trace, ...(token !== undefined ? { token } : {}) }
}

function decodeOp (f: Record<string, unknown>): AllocRequest {
  if (f.v !== FRAME_VERSION) throw new InvalidAllocFrameError('v', `must be ${FRAME_VERSION}`)
  switch (f.op) {
    case 'reserve': {
      onlyKeys(f, ['v', 'op', 'id', 'cpu', 'memoryMb', 'leaseMs', 'constraints', 'nodes'], '')
      const out: AllocRequest = {
        v: 1,
        op: 'reserve',
        id: id(f.id),
        cpu: num(f.cpu, 'cpu', 0, MAX_CPU),
        memoryMb: num(f.memoryMb, 'memoryMb', 0, MAX_MEMORY_MB, true),
        leaseMs: num(f.leaseMs, 'leaseMs', MIN_LEASE_MS, MAX_LEASE_MS, true),
        constraints: constraints(f.constraints ?? {}, 'constraints')
      }
      if (f.nodes !== undefined) out.nodes = nodes(f.nodes, 'nodes')
      return out
    }
    case 'commit':
      onlyKeys(f, ['v', 'op', 'id', 'nodes'], '')
      return { v: 1, op: 'commit', id: id(f.id), nodes: nodes(f.nodes, 'nodes') }
    case 'get':
    case 'release':
      onlyKeys(f, ['v', 'op', 'id'], '')
      return { v: 1, op: f.op, id: id(f.id) }
    case 'renew': {
      onlyKeys(f, ['v', 'op', 'id', 'leaseMs'], '')
      const out: AllocRequest = { v: 1, op: 'renew', id: id(f.id) }
      if (f.leaseMs !== undefined) out.leaseMs = num(f.leaseMs, 'leaseMs', MIN_LEASE_MS, MAX_LEASE_MS, true)
      return out
    }
    default:
      throw new InvalidAllocFrameError('op', 'must be reserve, commit, get, release or renew')
  }
}

function reservation (v: unknown): Reservation {
  if (!isRecord(v)) throw new InvalidAllocFrameError('reservation', 'must be an object')
  onlyKeys(v, ['id', 'cpu', 'memoryMb', 'leaseMs', 'createdAt', 'expiresAt', 'placer', 'constraints', 'nodes'], 'reservation.')
  return {
    id: id(v.id, 'reservation.id'),
    cpu: num(v.cpu, 'reservation.cpu', 0, MAX_CPU),
    memoryMb: num(v.memoryMb, 'reservation.memoryMb', 0, MAX_MEMORY_MB, true),
    leaseMs: num(v.leaseMs, 'reservation.leaseMs', MIN_LEASE_MS, MAX_LEASE_MS, true),
    createdAt: num(v.createdAt, 'reservation.createdAt', 0, 8.64e15, true),
    expiresAt: num(v.expiresAt, 'reservation.expiresAt', 0, 8.64e15, true),
    placer: str(v.placer, 'reservation.placer', PEER),
    constraints: constraints(v.constraints, 'reservation.constraints'),
    nodes: nodes(v.nodes, 'reservation.nodes')
  }
}

export function decodeResponse (bytes: Uint8Array): AllocResponse {
  const f = parseJson(bytes)
  if (!isRecord(f)) throw new InvalidAllocFrameError('frame', 'must be an object')
  if (f.v !== FRAME_VERSION) throw new InvalidAllocFrameError('v', `must be ${FRAME_VERSION}`)
  if (f.ok === true) {
    onlyKeys(f, ['v', 'ok', 'reservation'], '')
    return { v: 1, ok: true, reservation: reservation(f.reservation) }
  }
  if (f.ok !== false) throw new InvalidAllocFrameError('ok', 'must be a boolean')
  onlyKeys(f, ['v', 'ok', 'error', 'message', 'free'], '')
  if (typeof f.error !== 'string' || !REASONS.has(f.error as RefusalReason)) throw new InvalidAllocFrameError('error', `must be one of ${[...REASONS].join(', ')}`)
  if (typeof f.message !== 'string' || f.message.length > 1024) throw new InvalidAllocFrameError('message', 'must be a string of at most 1024 characters')
  const out: AllocResponse = { v: 1, ok: false, error: f.error as RefusalReason, message: f.message }
  if (f.free !== undefined) {
    if (!isRecord(f.free)) throw new InvalidAllocFrameError('free', 'must be an object')
    onlyKeys(f.free, ['cpu', 'memoryMb'], 'free.')
    out.free = { cpu: num(f.free.cpu, 'free.cpu', -MAX_CPU, MAX_CPU), memoryMb: num(f.free.memoryMb, 'free.memoryMb', -MAX_MEMORY_MB, MAX_MEMORY_MB) }
  }
  return out
}
