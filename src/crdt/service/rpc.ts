/**
 * `/dcis/crdt-rpc/1.0.0`: a non-replica forwards a data API call to a
 * replica. One JSON request, one JSON response per stream; both validated.
 */
import { ReplicationFrameError } from '../replication/index.js'
import { checkTraceFields } from '../../telemetry/tracing/spans.js'
import type { TraceFields } from '../../telemetry/tracing/spans.js'

export const RPC_PROTOCOL = '/dcis/crdt-rpc/1.0.0'
/** a log append of up to 10,000 entries or a read of as many can be large */
export const MAX_RPC_BYTES = 16 * 1024 * 1024

export const RPC_OPS = ['status', 'get', 'put', 'delete', 'counter', 'addCounter', 'members', 'setAdd', 'setRemove', 'logAppend', 'logRead', 'addCounters'] as const
export type RpcOp = typeof RPC_OPS[number]

/** may carry the caller's W3C trace context (optional traceparent, tracestate) */
export interface RpcRequest extends TraceFields {
  v: 1
  op: RpcOp
  service: string
  key?: string
  value?: string
  delta?: number
  member?: string
  ifRevision?: number
  /** logAppend: the entries, in order */
  values?: string[]
  /** addCounters: [key, delta] pairs */
  entries?: Array<[string, number]>
  /** logRead: the range */
  range?: { after?: { ts: { wall: number, logical: number }, replica: string, counter: number }, fromMs?: number, toMs?: number, limit?: number }
  /** the original caller's bearer token: the replica re-authorises the call itself */
  token?: string
}

/** a token longer than this is refused before any parsing (as MAX_JWT_LENGTH) */
const MAX_TOKEN_CHARS = 64 * 1024

export type RpcResponse =
  | { v: 1, ok: true, result: unknown }
  | { v: 1, ok: false, error: { name: string, message: string, actual?: number } }

// stateless (no streaming decode), so one of each serves every frame
const utf8 = new TextDecoder('utf-8', { fatal: true })
const encoder = new TextEncoder()

function fail (field: string, message: string): never {
  throw new ReplicationFrameError(field, message)
}

function parse (bytes: Uint8Array): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(utf8.decode(bytes))
  } catch {
    fail('frame', 'not UTF-8 JSON')
  }
  if (v == null || typeof v !== 'object' || Array.isArray(v)) fail('frame', 'must be an object')
  const o = v as Record<string, unknown>
  if (o.v !== 1) fail('v', 'must be 1')
  return o
}

function optString (o: Record<string, unknown>, field: string, max: number): string | undefined {
  const v = o[field]
  if (v === undefined) return undefined
  if (typeof v !== 'string' || v.length > max) fail(field, `must be a string of at most ${max} characters`)
  return v
}

function optInt (o: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const v = o[field]
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(field, `must be an integer in [${min}, ${max}]`)
  return v
}

export function decodeRpcRequest (bytes: Uint8Array): RpcRequest {
  const o = parse(bytes)
  if (!(RPC_OPS as readonly unknown[]).includes(o.op)) fail('op', `must be one of ${RPC_OPS.join(', ')}`)
  const service = optString(o, 'service', 63)
  if (service == null || service === '') fail('service', 'is required')
  const key = optString(o, 'key', 512)
  const needsKey = o.op !== 'status' && o.op !== 'addCounters'
  if (needsKey && (key == null || key === '')) fail('key', 'is required')
  const req: RpcRequest = { v: 1, op: o.op as RpcOp, service }
  if (key != null) req.key = key
  const value = optString(o, 'value', 1024 * 1024)
  if (o.op === 'put' && value == null) fail('value', 'is required')
  if (value != null) req.value = value
  const delta = optInt(o, 'delta', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
  if (o.op === 'addCounter' && delta == null) fail('delta', 'is required')
  if (delta != null) req.delta = delta
  const member = optString(o, 'member', 4096)
  if ((o.op === 'setAdd' || o.op === 'setRemove') && member == null) fail('member', 'is required')
  if (member != null) req.member = member
  const ifRevision = optInt(o, 'ifRevision', 0, Number.MAX_SAFE_INTEGER)
  if (ifRevision != null) req.ifRevision = ifRevision
  if (o.op === 'logAppend') {
    const vs = o.values
    if (!Array.isArray(vs) || vs.length === 0 || vs.length > 10_000) fail('values', 'must list 1..10000 entries')
    req.values = vs.map((v, i) => {
      if (typeof v !== 'string' || v.length > 65_536) fail(`values[${i}]`, 'must be a string of at most 65536 characters')
      return v
    })
  }
  if (o.op === 'logRead') req.range = parseRange(o.range)
  if (o.op === 'addCounters') {
    const es = o.entries
    if (!Array.isArray(es) || es.length === 0 || es.length > 10_000) fail('entries', 'must list 1..10000 [key, delta] pairs')
    req.entries = es.map((e, i) => {
      if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || e[0].length === 0 || e[0].length > 512 ||
        typeof e[1] !== 'number' || !Number.isSafeInteger(e[1])) fail(`entries[${i}]`, 'must be [key (1..512 characters), safe integer delta]')
      return [e[0], e[1]] as [string, number]
    })
  }
  const token = optString(o, 'token', MAX_TOKEN_CHARS)
  if (token != null) req.token = token
  return { ...req, ...checkTraceFields(o, (field, reason) => new ReplicationFrameError(field, reason)) }
}

function parseRange (v: unknown): NonNullable<RpcRequest['range']> {
  if (v === undefined) return {}
  if (v == null || typeof v !== 'object' || Array.isArray(v)) fail('range', 'must be an object')
  const o = v as Record<string, unknown>
  const out: NonNullable<RpcRequest['range']> = {}
  const fromMs = optInt(o, 'fromMs', 0, Number.MAX_SAFE_INTEGER)
  const toMs = optInt(o, 'toMs', 0, Number.MAX_SAFE_INTEGER)
  const limit = optInt(o, 'limit', 1, 10_000)
  if (fromMs != null) out.fromMs = fromMs
  if (toMs != null) out.toMs = toMs
  if (limit != null) out.limit = limit
  if (o.after !== undefined) {
    const a = o.after as Record<string, unknown>
    if (a == null || typeof a !== 'object' || Array.isArray(a)) fail('range.after', 'must be an object')
    const ts = a.ts as Record<string, unknown>
    if (ts == null || typeof ts !== 'object' || Array.isArray(ts)) fail('range.after.ts', 'must be an object')
    const wall = optInt(ts, 'wall', 0, Number.MAX_SAFE_INTEGER)
    const logical = optInt(ts, 'logical', 0, Number.MAX_SAFE_INTEGER)
    const counter = optInt(a, 'counter', 1, Number.MAX_SAFE_INTEGER)
    const replica = optString(a, 'replica', 256)
    if (wall == null || logical == null || counter == null || replica == null || replica === '') fail('range.after', 'needs ts.wall, ts.logical, counter and replica')
    out.after = { ts: { wall, logical }, replica, counter }
  }
  return out
}

export function decodeRpcResponse (bytes: Uint8Array): RpcResponse {
  const o = parse(bytes)
  if (o.ok === true) return { v: 1, ok: true, result: o.result }
  if (o.ok !== false) fail('ok', 'must be a boolean')
  const e = o.error as Record<string, unknown> | undefined
  if (e == null || typeof e !== 'object') fail('error', 'must be an object')
  const name = optString(e, 'name', 128) ?? 'Error'
  const message = optString(e, 'message', 4096) ?? ''
  const actual = optInt(e, 'actual', 0, Number.MAX_SAFE_INTEGER)
  return { v: 1, ok: false, error: { name, message, ...(actual != null ? { actual } : {}) } }
}

export function encodeJson (v: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(v))
}
