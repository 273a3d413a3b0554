/**
 * Server spans for the HTTP API (Fastify hooks), installed only when tracing
 * is on. The incoming `traceparent`/`tracestate` headers decide the parent
 * (./spans.ts `incomingTrace`: the caller's trace continues inside our
 * domain, a linked new trace from another one); the span is active for the
 * route handler, so the calls it makes (invocations, forwards, proposals)
 * become its children.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { incomingTrace, startSpan, tracingEnabled, withContext } from './spans.js'
import type { Context, Span } from '@opentelemetry/api'
import type { FastifyInstance, FastifyRequest } from 'fastify'

const spans = new WeakMap<FastifyRequest, { span: Span, context: Context }>()

function header (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}

export function installHttpTracing (app: FastifyInstance): void {
  if (!tracingEnabled()) return
  app.addHook('onRequest', (request, _reply, done) => {
    const traceparent = header(request.headers.traceparent)
    const tracestate = header(request.headers.tracestate)
    // the propagator ignores a malformed traceparent (W3C: start a new trace)
    const incoming = incomingTrace({ ...(traceparent != null ? { traceparent } : {}), ...(tracestate != null ? { tracestate } : {}) })
    const started = startSpan(`HTTP ${request.method}`, {
      kind: SpanKind.SERVER,
      parent: incoming.parent,
      links: incoming.links,
      attributes: { 'http.request.method': request.method, 'url.path': request.url.split('?')[0].slice(0, 512), ...(incoming.crossed ? { 'dcis.trace.crossed_domain': true } : {}) }
    })
    if (started == null) { done(); return }
    spans.set(request, started)
    withContext(started.context, done)
  })
  // the body is read in the socket's async context: enter the span's again before the handler
  app.addHook('preHandler', (request, _reply, done) => {
    const s = spans.get(request)
    if (s == null) { done(); return }
    withContext(s.context, done)
  })
  app.addHook('onResponse', async (request, reply) => {
    const s = spans.get(request)
    if (s == null) return
    spans.delete(request)
    const route = request.routeOptions.url ?? 'unmatched'
    s.span.updateName(`${request.method} ${route}`)
    s.span.setAttributes({ 'http.route': route, 'http.response.status_code': reply.statusCode })
    if (reply.statusCode >= 500) s.span.setStatus({ code: SpanStatusCode.ERROR })
    s.span.end()
  })
  // a request that never got a response (client gone) still ends its span
  app.addHook('onRequestAbort', async (request) => {
    const s = spans.get(request)
    if (s == null) return
    spans.delete(request)
    s.span.setAttribute('dcis.aborted', true)
    s.span.end()
  })
}
