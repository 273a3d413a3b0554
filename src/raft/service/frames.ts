/**
 * Frames of /dcis/raft-kv/1.0.0 (one JSON request, one JSON response per
 * stream, length-prefixed). Requests are validated field by field.
 */
import { checkTraceFields } from '../../telemetry/tracing/spans.js'
import type { KvEntry } from '../../services/types.js'
import type { TraceFields } from '../../telemetry/tracing/spans.js'

export const MAX_KV_FRAME_BYTES = 4 * 1024 * 1024
const MAX_KEY = 1024
const MAX_VALUE = 1024 * 1024

/** any request may carry the caller's W3C trace context (optional traceparent, tracestate) */
export type KvRequest = TraceFields & (
  | { t: 'announce', d: unknown }
  | { t: 'status', name: string }
  | { t: 'get', name: string, key: string, token?: string }
  | { t: 'put', name: string, key: string, value: string, ifRevision?: number, token?: string }
  | { t: 'del', name: string, key: string, ifRevision?: number, token?: string })

export interface KvResponse {
  ok: boolean
  error?: string
  message?: string
  actual?: number
  revision?: number
  entry?: KvEntry
  leader?: string | null
  status?: { leader: string | null, term: number, commitIndex: number }
}

export class InvalidKvFrameError extends Error {
  static readonly code = 'INVALID_RAFT_KV_FRAME'
  readonly code = InvalidKvFrameError.code
  readonly field: string
  constructor (field: string, reason: string) {
    super(`invalid raft-kv frame: ${field} ${reason}`)
    this.name = 'InvalidKvFrameError'
    this.field = field
  }
}

export function encodeFrame (o: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(o))
}

function parse (buf: Uint8Array): Record<string, unknown> {
  let o: unknown
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf))
  } catch {
    throw new InvalidKvFrameError('frame', 'is not UTF-8 JSON')
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new InvalidKvFrameError('frame', 'must be an object')
  return o as Record<string, unknown>
}

function str (o: Record<string, unknown>, f: string, max: number, optional = false): void {
  if (optional && o[f] === undefined) return
  if (typeof o[f] !== 'string' || (o[f] as string).length > max) throw new InvalidKvFrameError(f, `must be a string of at most ${max} characters`)
}

export function decodeKvRequest (buf: Uint8Array): KvRequest {
  const o = parse(buf)
  checkTraceFields(o, (field, reason) => new InvalidKvFrameError(field, reason))
  if (o.t === 'announce') {
    if (typeof o.d !== 'object' || o.d === null) throw new InvalidKvFrameError('d', 'must be a descriptor object')
    return o as unknown as KvRequest
  }
  if (o.t !== 'status' && o.t !== 'get' && o.t !== 'put' && o.t !== 'del') throw new InvalidKvFrameError('t', 'must be announce, status, get, put or del')
  str(o, 'name', 63)
  if (o.t === 'status') return { t: 'status', name: o.name as string }
  str(o, 'key', MAX_KEY)
  if ((o.key as string).length === 0) throw new InvalidKvFrameError('key', 'must not be empty')
  str(o, 'token', 16 * 1024, true)
  if (o.t === 'put') str(o, 'value', MAX_VALUE)
  if (o.ifRevision !== undefined && (typeof o.ifRevision !== 'number' || !Number.isSafeInteger(o.ifRevision) || o.ifRevision < 0)) {
    throw new InvalidKvFrameError('ifRevision', 'must be a non-negative integer')
  }
  return o as unknown as KvRequest
}

export function decodeKvResponse (buf: Uint8Array): KvResponse {
  const o = parse(buf)
  if (typeof o.ok !== 'boolean') throw new InvalidKvFrameError('ok', 'must be a boolean')
  if (o.revision !== undefined && !Number.isSafeInteger(o.revision)) throw new InvalidKvFrameError('revision', 'must be an integer')
  if (o.entry !== undefined) {
    const e = o.entry as Record<string, unknown>
    if (typeof e !== 'object' || e === null || typeof e.key !== 'string' || typeof e.value !== 'string' || !Number.isSafeInteger(e.revision)) throw new InvalidKvFrameError('entry', 'must be {key, value, revision}')
  }
  if (o.leader != null && typeof o.leader !== 'string') throw new InvalidKvFrameError('leader', 'must be a peer id')
  if (o.error !== undefined && typeof o.error !== 'string') throw new InvalidKvFrameError('error', 'must be a string')
  return o as unknown as KvResponse
}

export function errorResponse (err: unknown): KvResponse {
  const e = err as Error & { actual?: number }
  const known = ['KeyNotFoundError', 'RevisionMismatchError', 'ServiceNotFoundError', 'ServiceUnavailableError', 'InvalidKvFrameError', 'InvalidDescriptorError']
  const error = known.includes(e?.name) ? e.name : 'ServiceUnavailableError'
  return { ok: false, error, message: String(e?.message ?? err).slice(0, 1000), actual: e?.actual }
}
