/**
 * What instrumented code calls: spans, W3C trace context in and out of our
 * frames and HTTP headers, and the domain boundary (docs/observability.md).
 *
 * Only `@opentelemetry/api` is imported here, never the SDK. Tracing follows
 * the OpenTelemetry model: the peer that turns tracing on (`dcis start`)
 * registers the SDK's provider, propagator and context manager with the API
 * (src/telemetry/tracing/sdk.ts, loaded by a dynamic import), and
 * instrumented code only uses the API. While tracing is off, every helper
 * here is one flag check: no span object, no context switch, no header.
 * One traced peer per process (the API's registrations are per process).
 */
import { createHash } from 'node:crypto'
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import type { Attributes, Context, Link, Span, Tracer } from '@opentelemetry/api'

export { SpanKind }
export type { Span, Attributes, Context }

/** W3C trace context fields, as they travel in our request frames (optional, additive) */
export interface TraceFields {
  traceparent?: string
  tracestate?: string
}

/** what the peer's own spans need to know about the boundary of its domain */
export interface TraceBoundary {
  /** the administrative domain (federation or operator) */
  domain: string
  salt: string
  hashFunctionNames: boolean
}

interface TracingState {
  tracer: Tracer
  boundary: TraceBoundary
  /** our `dcis` tracestate entry: a hash of the domain, so peers compare domains without naming them */
  domainTag: string
}

let state: TracingState | undefined

/** key of our entry in `tracestate` */
export const TRACESTATE_KEY = 'dcis'
export const TRACEPARENT_RE = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/
const TRACESTATE_MAX = 512

const NOOP_SPAN: Span = trace.wrapSpanContext({ traceId: '00000000000000000000000000000000', spanId: '0000000000000000', traceFlags: 0 })

export function domainTag (domain: string): string {
  return createHash('sha256').update(`dcis-domain:${domain}`).digest('hex').slice(0, 16)
}

/** Called by the SDK loader once the provider is registered; `undefined` turns the helpers off again. */
export function setTracingState (tracer: Tracer | undefined, boundary?: TraceBoundary): void {
  state = tracer != null && boundary != null ? { tracer, boundary, domainTag: domainTag(boundary.domain) } : undefined
}

export function tracingEnabled (): boolean {
  return state != null
}

/**
 * Checks the optional trace fields of a decoded frame (`fail(field, reason)`
 * makes the frame's own error). Absent fields are fine; present ones must be
 * well-formed, so a bad frame is refused like any other bad field.
 */
export function checkTraceFields (v: Record<string, unknown>, fail: (field: string, reason: string) => Error): TraceFields {
  const out: TraceFields = {}
  if (v.traceparent !== undefined) {
    if (typeof v.traceparent !== 'string' || !TRACEPARENT_RE.test(v.traceparent)) throw fail('traceparent', 'must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)')
    out.traceparent = v.traceparent
  }
  if (v.tracestate !== undefined) {
    if (typeof v.tracestate !== 'string' || v.tracestate.length > TRACESTATE_MAX || /[^\x20-\x7e]/.test(v.tracestate)) throw fail('tracestate', `must be printable ASCII of at most ${TRACESTATE_MAX} characters`)
    out.tracestate = v.tracestate
  }
  return out
}

/** The active trace context as frame fields (with our domain tag); `{}` when tracing is off or nothing is active. */
export function traceFields (ctx?: Context): TraceFields {
  if (state == null) return {}
  const carrier: Record<string, string> = {}
  propagation.inject(ctx ?? context.active(), carrier)
  if (carrier.traceparent == null) return {}
  const others = (carrier.tracestate ?? '').split(',').map(s => s.trim()).filter(s => s !== '' && !s.startsWith(`${TRACESTATE_KEY}=`))
  // ours first; others kept while the header stays within 32 entries and TRACESTATE_MAX characters
  let tracestate = `${TRACESTATE_KEY}=${state.domainTag}`
  for (const entry of others.slice(0, 31)) {
    if (tracestate.length + 1 + entry.length > TRACESTATE_MAX) break
    tracestate += `,${entry}`
  }
  return { traceparent: carrier.traceparent, tracestate }
}

/** same fields as HTTP headers */
export function traceHeaders (ctx?: Context): Record<string, string> {
  const f = traceFields(ctx)
  return { ...(f.traceparent != null ? { traceparent: f.traceparent } : {}), ...(f.tracestate != null ? { tracestate: f.tracestate } : {}) }
}

/** the domain tag a caller put in its tracestate, if any */
export function callerDomainTag (fields: TraceFields): string | undefined {
  for (const entry of (fields.tracestate ?? '').split(',')) {
    const [k, v] = entry.trim().split('=')
    if (k === TRACESTATE_KEY && v != null && /^[0-9a-f]{16}$/.test(v)) return v
  }
  return undefined
}

/**
 * Where a served request's span belongs. Inside our domain (the caller's
 * tag is ours, or it sent none, e.g. a plain OTel HTTP client): the
 * caller's trace continues. From another domain: a new trace, linked to the
 * caller's span (`crossed`), and the other side's identifiers are hashed
 * (`anonymise`).
 */
export interface IncomingTrace {
  parent: Context
  links: Link[]
  crossed: boolean
}

export function incomingTrace (fields: TraceFields): IncomingTrace {
  if (state == null || fields.traceparent == null) return { parent: ROOT_CONTEXT, links: [], crossed: false }
  const extracted = propagation.extract(ROOT_CONTEXT, fields)
  const tag = callerDomainTag(fields)
  if (tag == null || tag === state.domainTag) return { parent: extracted, links: [], crossed: false }
  const remote = trace.getSpanContext(extracted)
  return { parent: ROOT_CONTEXT, links: remote != null ? [{ context: remote, attributes: { 'dcis.link': 'caller-outside-domain' } }] : [], crossed: true }
}

/** `h:` + 16 hex of sha256(salt, value): what crosses a domain boundary instead of an identifier */
export function anonymise (value: string): string {
  const salt = state?.boundary.salt ?? ''
  return `h:${createHash('sha256').update(salt).update('\0').update(value).digest('hex').slice(0, 16)}`
}

/** a peer id, or its hash when it is on the other side of a boundary */
export function peerAttr (peerId: string, crossed: boolean): string {
  return crossed ? anonymise(peerId) : peerId
}

/** a function name, hashed across a boundary when so configured */
export function functionAttr (name: string, crossed: boolean): string {
  return crossed && state?.boundary.hashFunctionNames === true ? anonymise(name) : name
}

export interface SpanOptions {
  kind?: SpanKind
  attributes?: Attributes
  links?: Link[]
  /** parent context (default: the active one) */
  parent?: Context
}

/**
 * Runs `fn` inside a new span (active for everything `fn` starts), records
 * a thrown error on it and ends it. Tracing off: calls `fn` with a
 * non-recording span, nothing else.
 */
export async function inSpan<T> (name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const s = state
  if (s == null) return await fn(NOOP_SPAN)
  const parent = options.parent ?? context.active()
  const span = s.tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, links: options.links }, parent)
  try {
    return await context.with(trace.setSpan(parent, span), async () => await fn(span))
  } catch (err) {
    span.recordException(err as Error)
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.name ?? 'error' })
    throw err
  } finally {
    span.end()
  }
}

/** A span started now and ended by the caller (HTTP requests: started and ended in different hooks); null when off. */
export function startSpan (name: string, options: SpanOptions = {}): { span: Span, context: Context } | null {
  const s = state
  if (s == null) return null
  const parent = options.parent ?? context.active()
  const span = s.tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, links: options.links }, parent)
  return { span, context: trace.setSpan(parent, span) }
}

/** runs `fn` with `ctx` active (for callback-style code, e.g. Fastify hooks) */
export function withContext<T> (ctx: Context, fn: () => T): T {
  return context.with(ctx, fn)
}

export function markError (span: Span, err: unknown): void {
  span.recordException(err as Error)
  span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.name ?? 'error' })
}

/** this peer's domain tag while tracing is on (sent back in responses, so a caller can tell a boundary) */
export function ownDomainTag (): string | undefined {
  return state?.domainTag
}

/** whether a peer that answered with `tag` is on the other side of a domain boundary */
export function isOtherDomain (tag: string | undefined): boolean {
  return state != null && tag != null && tag !== state.domainTag
}
