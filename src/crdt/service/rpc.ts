/**
 * `/dcis/crdt-rpc/1.0.0`: a non-replica forwards a data API call to a
 * replica. One JSON request, one JSON response per stream; both validated.
 */
import { ReplicationFrameError } from '../replication/index.js'

export const RPC_PROTOCOL = '/dcis/crdt-rpc/1.0.0'
export const MAX_RPC_BYTES = 1024 * 1024 + 4096

export const RPC_OPS = ['status', 'get', 'put', 'delete', 'counter', 'addCounter', 'members', 'setAdd', 'setRemove'] as const
export type RpcOp = typeof RPC_OPS[number]

export interface RpcRequest {
  v: 1
  op: RpcOp
  service: string
  key?: string
  value?: string
  delta?: number
  member?: string
  ifRevision?: number
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
  const needsKey = o.op !== 'status'
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
  const token = optString(o, 'token', MAX_TOKEN_CHARS)
  if (token != null) req.token = token
  return req
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
