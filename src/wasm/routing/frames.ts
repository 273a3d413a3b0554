/**
 * Frames of /dcis/invoke/1.0.0 (each one length-prefixed, unsigned varint):
 *
 *   request:  header (JSON, <= 16 KiB) then body (raw bytes)
 *             header = { v: 1, id: CID, name, spec: { abi, limits?, env?, grants?, warmPoolSize? },
 *                        traceparent?, tracestate? }   (W3C trace context, optional)
 *   response: header (JSON, <= 16 KiB) then, when ok, body (raw bytes)
 *             header = { v: 1, ok: true, ranOn, durationMs, coldStart, traceDomain? }
 *                    | { v: 1, ok: false, error: { name, code, message } }
 *
 * Decoders check every field and throw InvalidInvokeFrameError naming it.
 */
import { normalizeDataGrants } from '../spec.js'
import type { FunctionGrants } from '../spec.js'
import { InvalidInvokeFrameError } from './errors.js'
import { checkTraceFields } from '../../telemetry/tracing/spans.js'
import type { RuntimeSpecFields } from '../store/index.js'
import type { TraceFields } from '../../telemetry/tracing/spans.js'

export const MAX_HEADER_BYTES = 16 * 1024

// one of each per process, not per frame (both are stateless between calls)
const UTF8_FATAL = new TextDecoder('utf-8', { fatal: true })
const UTF8 = new TextEncoder()

export interface InvokeRequestHeader extends TraceFields {
  v: 1
  id: string
  name: string
  spec: RuntimeSpecFields
  /** the original caller's bearer token: the serving peer re-authorises the call itself */
  token?: string
}

/** longest token a request header carries (the header itself is at most MAX_HEADER_BYTES) */
const MAX_TOKEN_CHARS = 8 * 1024

export type InvokeResponseHeader =
  /** traceDomain: the serving peer's trace domain tag, when it traces (the caller hashes its id across a boundary) */
  | { v: 1, ok: true, ranOn: string, durationMs: number, coldStart: boolean, traceDomain?: string }
  | { v: 1, ok: false, error: { name: string, code: string, message: string } }

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function parse (bytes: Uint8Array): Record<string, unknown> {
  if (bytes.byteLength > MAX_HEADER_BYTES) throw new InvalidInvokeFrameError('header', `larger than ${MAX_HEADER_BYTES} bytes`)
  let v: unknown
  try {
    v = JSON.parse(UTF8_FATAL.decode(bytes))
  } catch {
    throw new InvalidInvokeFrameError('header', 'is not UTF-8 JSON')
  }
  if (!isRecord(v)) throw new InvalidInvokeFrameError('header', 'must be an object')
  if (v.v !== 1) throw new InvalidInvokeFrameError('v', 'must be 1')
  return v
}

function optionalNumbers (field: string, v: unknown, keys: string[]): Record<string, number> | undefined {
  if (v === undefined) return undefined
  if (!isRecord(v)) throw new InvalidInvokeFrameError(field, 'must be an object')
  const out: Record<string, number> = {}
  for (const [k, x] of Object.entries(v)) {
    if (!keys.includes(k)) throw new InvalidInvokeFrameError(`${field}.${k}`, 'unknown field')
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new InvalidInvokeFrameError(`${field}.${k}`, 'must be a finite number')
    out[k] = x
  }
  return out
}

const LIMIT_KEYS = ['memoryMb', 'timeoutMs', 'maxOutputBytes', 'maxConcurrency', 'maxQueue', 'maxInputBytes']

export function decodeRequestHeader (bytes: Uint8Array): InvokeRequestHeader {
  const v = parse(bytes)
  if (typeof v.id !== 'string' || !/^[A-Za-z0-9]{20,128}$/.test(v.id)) throw new InvalidInvokeFrameError('id', 'must be a CID string')
  if (typeof v.name !== 'string' || v.name.length === 0 || v.name.length > 128) throw new InvalidInvokeFrameError('name', 'must be a string of 1-128 characters')
  const s = v.spec
  if (!isRecord(s)) throw new InvalidInvokeFrameError('spec', 'must be an object')
  if (s.abi !== 'wasi' && s.abi !== 'reactor') throw new InvalidInvokeFrameError('spec.abi', 'must be wasi or reactor')
  const limits = optionalNumbers('spec.limits', s.limits, LIMIT_KEYS)
  let env: Record<string, string> | undefined
  if (s.env !== undefined) {
    if (!isRecord(s.env)) throw new InvalidInvokeFrameError('spec.env', 'must be an object of strings')
    env = {}
    for (const [k, x] of Object.entries(s.env)) {
      if (typeof x !== 'string') throw new InvalidInvokeFrameError(`spec.env.${k}`, 'must be a string')
      env[k] = x
    }
  }
  let grants: FunctionGrants | undefined
  if (s.grants !== undefined) {
    if (!isRecord(s.grants)) throw new InvalidInvokeFrameError('spec.grants', 'must be an object')
    const g: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(s.grants)) {
      if (['clock', 'random', 'env'].includes(k)) {
        if (typeof x !== 'boolean') throw new InvalidInvokeFrameError(`spec.grants.${k}`, 'must be a boolean')
      } else if (!['services', 'caches', 'sinks'].includes(k)) {
        throw new InvalidInvokeFrameError(`spec.grants.${k}`, 'unknown grant')
      }
      g[k] = x
    }
    // the host interface's data grants: checked like a spec's (names the field)
    try {
      normalizeDataGrants(g)
    } catch (err) {
      throw new InvalidInvokeFrameError(`spec.${(err as { field?: string }).field ?? 'grants'}`, (err as Error).message)
    }
    grants = g as FunctionGrants
  }
  if (s.warmPoolSize !== undefined && (typeof s.warmPoolSize !== 'number' || !Number.isInteger(s.warmPoolSize))) {
    throw new InvalidInvokeFrameError('spec.warmPoolSize', 'must be an integer')
  }
  const trace = checkTraceFields(v, (field, reason) => new InvalidInvokeFrameError(field, reason))
  if (v.token !== undefined && (typeof v.token !== 'string' || v.token.length === 0 || v.token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_.-]+$/.test(v.token))) {
    throw new InvalidInvokeFrameError('token', `must be a compact JWT of at most ${MAX_TOKEN_CHARS} characters`)
  }
  return {
    v: 1,
    id: v.id,
    name: v.name,
    ...trace,
    ...(v.token !== undefined ? { token: v.token } : {}),
    spec: {
      abi: s.abi,
      ...(limits != null ? { limits } : {}),
      ...(env != null ? { env } : {}),
      ...(grants != null ? { grants } : {}),
      ...(s.warmPoolSize !== undefined ? { warmPoolSize: s.warmPoolSize as number } : {})
    }
  }
}

export function decodeResponseHeader (bytes: Uint8Array): InvokeResponseHeader {
  const v = parse(bytes)
  if (v.ok === true) {
    if (typeof v.ranOn !== 'string' || v.ranOn.length === 0 || v.ranOn.length > 128) throw new InvalidInvokeFrameError('ranOn', 'must be a peer id')
    if (typeof v.durationMs !== 'number' || !Number.isFinite(v.durationMs) || v.durationMs < 0) throw new InvalidInvokeFrameError('durationMs', 'must be a non-negative number')
    if (typeof v.coldStart !== 'boolean') throw new InvalidInvokeFrameError('coldStart', 'must be a boolean')
    if (v.traceDomain !== undefined && (typeof v.traceDomain !== 'string' || !/^[0-9a-f]{16}$/.test(v.traceDomain))) throw new InvalidInvokeFrameError('traceDomain', 'must be 16 hex characters')
    return { v: 1, ok: true, ranOn: v.ranOn, durationMs: v.durationMs, coldStart: v.coldStart, ...(v.traceDomain !== undefined ? { traceDomain: v.traceDomain } : {}) }
  }
  if (v.ok === false) {
    const e = v.error
    if (!isRecord(e) || typeof e.name !== 'string' || typeof e.code !== 'string' || typeof e.message !== 'string') {
      throw new InvalidInvokeFrameError('error', 'must be {name, code, message} strings')
    }
    return { v: 1, ok: false, error: { name: e.name.slice(0, 64), code: e.code.slice(0, 64), message: e.message.slice(0, 1000) } }
  }
  throw new InvalidInvokeFrameError('ok', 'must be a boolean')
}

export function encodeHeader (h: InvokeRequestHeader | InvokeResponseHeader): Uint8Array {
  return UTF8.encode(JSON.stringify(h))
}
