/**
 * An OTLP/HTTP (protobuf) trace receiver for tests: POST /v1/traces bodies
 * are decoded with the official opentelemetry-proto definitions (the
 * protobufjs code @opentelemetry/otlp-transformer 0.203 generated from
 * them, installed as the dev dependency `otlp-transformer-protos`), never
 * with our own encoder. Listens on 127.0.0.1, port 0.
 */
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'

interface ProtoType {
  decode: (bytes: Uint8Array) => unknown
  encode: (message: unknown) => { finish: () => Uint8Array }
  fromObject: (o: unknown) => unknown
}
interface OtlpRoot { opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: ProtoType, ExportTraceServiceResponse: ProtoType } }, metrics: { v1: { ExportMetricsServiceRequest: ProtoType, ExportMetricsServiceResponse: ProtoType } } } } } }

const root = createRequire(import.meta.url)('otlp-transformer-protos/build/src/generated/root.js') as OtlpRoot
const { ExportTraceServiceRequest, ExportTraceServiceResponse } = root.opentelemetry.proto.collector.trace.v1
const { ExportMetricsServiceRequest, ExportMetricsServiceResponse } = root.opentelemetry.proto.collector.metrics.v1

type AnyValue = { stringValue?: string, boolValue?: boolean, intValue?: number | { toNumber: () => number }, doubleValue?: number }
interface KeyValue { key: string, value?: AnyValue }
interface RawSpan { traceId: Uint8Array, spanId: Uint8Array, parentSpanId?: Uint8Array, name: string, kind: number, attributes?: KeyValue[], links?: Array<{ traceId: Uint8Array, spanId: Uint8Array, attributes?: KeyValue[] }> }
interface RawRequest { resourceSpans?: Array<{ resource?: { attributes?: KeyValue[] }, scopeSpans?: Array<{ spans?: RawSpan[] }> }> }

export interface ReceivedSpan {
  traceId: string
  spanId: string
  /** '' for a root span */
  parentSpanId: string
  name: string
  kind: number
  attributes: Record<string, unknown>
  links: Array<{ traceId: string, spanId: string, attributes: Record<string, unknown> }>
  resource: Record<string, unknown>
}

const hex = (b: Uint8Array | undefined): string => b == null ? '' : Buffer.from(b).toString('hex')

function value (v: AnyValue | undefined): unknown {
  if (v == null) return undefined
  if (v.stringValue != null) return v.stringValue
  if (v.boolValue != null) return v.boolValue
  if (v.doubleValue != null) return v.doubleValue
  if (v.intValue != null) return typeof v.intValue === 'number' ? v.intValue : v.intValue.toNumber()
  return undefined
}

function attrs (list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(kv => [kv.key, value(kv.value)]))
}

export interface ReceivedMetric {
  name: string
  unit: string
  /** gauge points */
  points: Array<{ attributes: Record<string, unknown>, value: number }>
  resource: Record<string, unknown>
}

interface RawPoint { asDouble?: number, asInt?: number | { toNumber: () => number }, attributes?: KeyValue[] }
interface RawMetrics { resourceMetrics?: Array<{ resource?: { attributes?: KeyValue[] }, scopeMetrics?: Array<{ metrics?: Array<{ name: string, unit?: string, gauge?: { dataPoints?: RawPoint[] } }> }> }> }

/** decodes one ExportMetricsServiceRequest body (gauges) */
export function decodeMetrics (body: Uint8Array): ReceivedMetric[] {
  const req = ExportMetricsServiceRequest.decode(body) as RawMetrics
  const out: ReceivedMetric[] = []
  for (const rm of req.resourceMetrics ?? []) {
    const resource = attrs(rm.resource?.attributes)
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const points = (m.gauge?.dataPoints ?? []).map(p => ({ attributes: attrs(p.attributes), value: p.asDouble ?? (typeof p.asInt === 'object' && p.asInt != null ? p.asInt.toNumber() : Number(p.asInt ?? 0)) }))
        out.push({ name: m.name, unit: m.unit ?? '', points, resource })
      }
    }
  }
  return out
}

/** decodes one ExportTraceServiceRequest body */
export function decodeTraces (body: Uint8Array): ReceivedSpan[] {
  const req = ExportTraceServiceRequest.decode(body) as RawRequest
  const out: ReceivedSpan[] = []
  for (const rs of req.resourceSpans ?? []) {
    const resource = attrs(rs.resource?.attributes)
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: s.name,
          kind: s.kind,
          attributes: attrs(s.attributes),
          links: (s.links ?? []).map(l => ({ traceId: hex(l.traceId), spanId: hex(l.spanId), attributes: attrs(l.attributes) })),
          resource
        })
      }
    }
  }
  return out
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = []
  readonly metrics: ReceivedMetric[] = []
  /** every raw body, for "no raw id anywhere" checks */
  readonly bodies: Buffer[] = []
  errors: string[] = []
  private server?: Server
  url = ''

  async start (): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks)
        if (req.method === 'POST' && req.url === '/v1/metrics') {
          try {
            this.metrics.push(...decodeMetrics(body))
            const reply = ExportMetricsServiceResponse.encode(ExportMetricsServiceResponse.fromObject({})).finish()
            res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(reply))
          } catch (err) {
            this.errors.push((err as Error).message)
            res.writeHead(400).end()
          }
          return
        }
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end()
          return
        }
        try {
          this.spans.push(...decodeTraces(body))
          this.bodies.push(body)
          const reply = ExportTraceServiceResponse.encode(ExportTraceServiceResponse.fromObject({})).finish()
          res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(reply))
        } catch (err) {
          this.errors.push((err as Error).message)
          res.writeHead(400).end()
        }
      })
    })
    await new Promise<void>(resolve => { (this.server as Server).listen(0, '127.0.0.1', resolve) })
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async stop (): Promise<void> {
    const s = this.server
    if (s == null) return
    s.closeAllConnections()
    await new Promise<void>(resolve => { s.close(() => { resolve() }) })
  }

  trace (traceId: string): ReceivedSpan[] {
    return this.spans.filter(s => s.traceId === traceId)
  }
}
