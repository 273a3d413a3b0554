/**
 * Tracing in one process: settings from OTEL_* and the config file, the SDK
 * exporting over OTLP/HTTP protobuf to a receiver that decodes with the
 * official protos, trace fields in and out, the domain boundary, and
 * nothing at all while off.
 */
import assert from 'node:assert/strict'
import { defaultConfig } from '../../src/config/index.js'
import { resolveTracingSettings, startTracing, TracingSettingsError } from '../../src/telemetry/tracing/index.js'
import { anonymise, checkTraceFields, domainTag, incomingTrace, inSpan, startSpan, traceFields, traceHeaders, tracingEnabled, SpanKind } from '../../src/telemetry/tracing/spans.js'
import { waitFor } from '../helpers/wait.js'
import { REPO_ROOT } from '../helpers/cli.js'
import { Registry } from 'prom-client'
import { telemetryContract } from '../../src/telemetry/contract.js'
import { OtlpReceiver } from './otlp-receiver.js'
import type { TracingHandle } from '../../src/telemetry/tracing/index.js'

const telemetry = (over: Partial<ReturnType<typeof defaultConfig>['telemetry']> = {}): ReturnType<typeof defaultConfig>['telemetry'] => ({ ...defaultConfig().telemetry, ...over })

describe('telemetry: tracing settings', function () {
  it('off by default; on by config, OTEL_TRACES_EXPORTER=otlp or an endpoint; off again by OTEL_SDK_DISABLED', function () {
    assert.equal(resolveTracingSettings(telemetry(), 'local', {}), null)
    assert.equal(resolveTracingSettings(telemetry({ tracing: true }), 'local', {})?.url, 'http://localhost:4318/v1/traces')
    assert.equal(resolveTracingSettings(telemetry(), 'local', { OTEL_TRACES_EXPORTER: 'otlp' })?.protocol, 'http/protobuf')
    assert.equal(resolveTracingSettings(telemetry(), 'local', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })?.url, 'http://c:4318/v1/traces')
    assert.equal(resolveTracingSettings(telemetry(), 'local', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:9/x' })?.url, 'http://c:9/x')
    assert.equal(resolveTracingSettings(telemetry({ tracing: true }), 'local', { OTEL_SDK_DISABLED: 'true' }), null)
    assert.equal(resolveTracingSettings(telemetry({ tracing: true }), 'local', { OTEL_TRACES_EXPORTER: 'none' }), null)
  })

  it('reads protocol, service name, sampler and resource attributes; env wins over the file', function () {
    const s = resolveTracingSettings(telemetry({ tracing: true, otlpEndpoint: 'http://file:4318', sampleRatio: 0.5, serviceName: 'from-file' }), 'fed-a', {
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4317',
      OTEL_SERVICE_NAME: 'edge',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=lab,team=a%20b'
    })
    assert.ok(s != null)
    assert.equal(s.protocol, 'grpc')
    assert.equal(s.url, 'http://env:4317/')
    assert.equal(s.serviceName, 'edge')
    assert.deepEqual(s.sampler, { parentBased: true, ratio: 0.1 })
    assert.deepEqual(s.resourceAttributes, { 'deployment.environment': 'lab', team: 'a b' })
    assert.equal(s.domain, 'fed-a')
    const f = resolveTracingSettings(telemetry({ tracing: true, sampleRatio: 0.25, traceDomain: 'operator-x' }), 'fed-a', { OTEL_TRACES_SAMPLER: 'always_on' })
    assert.deepEqual(f?.sampler, { parentBased: false, ratio: 1 })
    assert.equal(f?.domain, 'operator-x')
    assert.deepEqual(resolveTracingSettings(telemetry({ tracing: true, sampleRatio: 0.25 }), 'x', {})?.sampler, { parentBased: true, ratio: 0.25 })
    // the contract's OTLP metrics go to the same collector unless turned off
    assert.deepEqual(resolveTracingSettings(telemetry(), 'x', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' })?.metrics, { url: 'http://c:4318/v1/metrics', intervalMs: 60_000 })
    assert.deepEqual(resolveTracingSettings(telemetry(), 'x', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_METRIC_EXPORT_INTERVAL: '5000' })?.metrics, { url: 'http://c:4317/', intervalMs: 5000 })
    assert.equal(resolveTracingSettings(telemetry({ tracing: true }), 'x', { OTEL_METRICS_EXPORTER: 'none' })?.metrics, null)
  })

  it('bad variables are errors naming the variable', function () {
    const bad: Array<[Record<string, string>, string]> = [
      [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, 'OTEL_EXPORTER_OTLP_PROTOCOL'],
      [{ OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER'],
      [{ OTEL_TRACES_SAMPLER_ARG: '2' }, 'OTEL_TRACES_SAMPLER_ARG'],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
      [{ OTEL_RESOURCE_ATTRIBUTES: 'novalue' }, 'OTEL_RESOURCE_ATTRIBUTES'],
      [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER'],
      [{ OTEL_METRICS_EXPORTER: 'prometheus' }, 'OTEL_METRICS_EXPORTER'],
      [{ OTEL_METRIC_EXPORT_INTERVAL: 'soon' }, 'OTEL_METRIC_EXPORT_INTERVAL']
    ]
    for (const [env, variable] of bad) {
      assert.throws(() => resolveTracingSettings(telemetry({ tracing: true }), 'x', env), (err: unknown) => err instanceof TracingSettingsError && err.variable === variable && err.code === 'CONFIG_INVALID')
    }
  })
})

describe('telemetry: trace fields in frames', function () {
  it('absent fields are fine; bad ones are refused naming the field', function () {
    const fail = (field: string, reason: string): Error => new Error(`${field}: ${reason}`)
    assert.deepEqual(checkTraceFields({}, fail), {})
    const ok = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'dcis=0123456789abcdef,x=y' }
    assert.deepEqual(checkTraceFields(ok, fail), ok)
    assert.throws(() => checkTraceFields({ traceparent: 'nope' }, fail), /traceparent/)
    assert.throws(() => checkTraceFields({ traceparent: 7 }, fail), /traceparent/)
    assert.throws(() => checkTraceFields({ tracestate: 'a'.repeat(600) }, fail), /tracestate/)
    assert.throws(() => checkTraceFields({ tracestate: 'a=\u0000' }, fail), /tracestate/)
  })

  it('only src/telemetry/tracing/sdk.ts imports the SDK, and only a dynamic import reaches it', async function () {
    const { readdir, readFile } = await import('node:fs/promises')
    const { join } = await import('node:path')
    const root = join(REPO_ROOT, 'src')
    const files = (await readdir(root, { recursive: true })).filter(f => f.endsWith('.ts')).map(f => join(root, f))
    const heavy = /from '@opentelemetry\/(sdk-|exporter-|context-async-hooks|resources|core)|from '\.\/sdk\.js'/
    const offenders: string[] = []
    for (const f of files) {
      if (f.endsWith(join('telemetry', 'tracing', 'sdk.ts'))) continue
      if (heavy.test(await readFile(f, 'utf8'))) offenders.push(f)
    }
    assert.deepEqual(offenders, [], 'static imports of the OpenTelemetry SDK outside sdk.ts')
    assert.match(await readFile(join(root, 'telemetry/tracing/index.ts'), 'utf8'), /await import\('\.\/sdk\.js'\)/)
  })

  it('tracing off: no fields, no span, no SDK', async function () {
    assert.equal(tracingEnabled(), false)
    assert.deepEqual(traceFields(), {})
    assert.deepEqual(traceHeaders(), {})
    assert.equal(startSpan('x'), null)
    assert.equal(await inSpan('x', {}, async (span) => span.isRecording()), false)
    assert.equal(incomingTrace({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }).crossed, false)
    assert.equal(await startTracing(telemetry(), 'local', { peerId: 'p', region: 'r', zone: 'z', version: '0' }, {}), undefined)
  })
})

describe('telemetry: tracing on, exported over OTLP/HTTP protobuf', function () {
  this.timeout(30_000)
  const receiver = new OtlpReceiver()
  const contract = telemetryContract(new Registry())
  let handle: TracingHandle | undefined

  before(async function () {
    await receiver.start()
    contract.latency.record('api', 0.004)
    contract.latency.record('invoke', 0.02, 'echo')
    handle = await startTracing(telemetry({ traceDomain: 'fed-a', traceSalt: 'salt-of-fed-a' }), 'fed-a', { peerId: '12D3KooWSelf', region: 'eu-west', zone: 'eu-west-a', version: '9.9.9' }, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
      OTEL_METRIC_EXPORT_INTERVAL: '60000'
    }, contract)
  })

  after(async function () {
    await handle?.stop()
    await receiver.stop()
  })

  it('spans nest, fields carry the context with our domain tag, and the receiver decodes them with the official protos', async function () {
    assert.ok(handle != null)
    assert.equal(tracingEnabled(), true)
    let fields: ReturnType<typeof traceFields> = {}
    let outerId = ''
    await inSpan('outer', { kind: SpanKind.SERVER, attributes: { a: 1 } }, async (outer) => {
      outerId = outer.spanContext().spanId
      await inSpan('inner', {}, async () => {
        fields = traceFields()
      })
      await assert.rejects(inSpan('failing', {}, async () => { throw new RangeError('boom') }), RangeError)
    })
    assert.match(fields.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    assert.equal(fields.tracestate, `dcis=${domainTag('fed-a')}`)
    await handle.flush()
    await waitFor('three spans exported', () => receiver.spans.length >= 3)
    const byName = new Map(receiver.spans.map(s => [s.name, s]))
    const outer = byName.get('outer')
    const inner = byName.get('inner')
    const failing = byName.get('failing')
    assert.ok(outer != null && inner != null && failing != null)
    assert.equal(outer.spanId, outerId)
    assert.equal(outer.parentSpanId, '')
    assert.equal(inner.parentSpanId, outer.spanId)
    assert.equal(inner.traceId, outer.traceId)
    assert.equal(failing.parentSpanId, outer.spanId)
    assert.equal(outer.kind, 2) // SPAN_KIND_SERVER in the proto enum
    assert.equal(outer.attributes.a, 1)
    assert.equal(outer.resource['service.name'], 'dcis-mesh')
    assert.equal(outer.resource['service.version'], '9.9.9')
    assert.equal(outer.resource['dcis.peer.id'], '12D3KooWSelf')
    assert.equal(outer.resource['cloud.region'], 'eu-west')
    assert.equal(outer.resource['cloud.availability_zone'], 'eu-west-a')
    assert.equal(outer.resource['deployment.environment'], 'test')
    assert.equal(receiver.errors.length, 0)
  })

  it('same domain (or no tag): the caller\'s trace continues; another domain: a new trace linked to it', async function () {
    const remote = '00-11111111111111111111111111111111-2222222222222222-01'
    const same = incomingTrace({ traceparent: remote, tracestate: `dcis=${domainTag('fed-a')}` })
    const untagged = incomingTrace({ traceparent: remote })
    const other = incomingTrace({ traceparent: remote, tracestate: `dcis=${domainTag('fed-b')},vendor=1` })
    assert.equal(same.crossed, false)
    assert.equal(untagged.crossed, false)
    assert.equal(other.crossed, true)
    assert.equal(other.links.length, 1)
    const before = receiver.spans.length
    await inSpan('served-same', { parent: same.parent }, async () => {})
    await inSpan('served-other', { parent: other.parent, links: other.links }, async () => {})
    await handle?.flush()
    await waitFor('two more spans', () => receiver.spans.length >= before + 2)
    const s = receiver.spans.find(x => x.name === 'served-same')
    const o = receiver.spans.find(x => x.name === 'served-other')
    assert.ok(s != null && o != null)
    assert.equal(s.traceId, '11111111111111111111111111111111')
    assert.equal(s.parentSpanId, '2222222222222222')
    assert.notEqual(o.traceId, '11111111111111111111111111111111')
    assert.equal(o.parentSpanId, '')
    assert.deepEqual(o.links.map(l => [l.traceId, l.spanId]), [['11111111111111111111111111111111', '2222222222222222']])
  })

  it('the telemetry contract goes out as OTLP gauges cpu_usage and latency_p95', async function () {
    await handle?.flush()
    await waitFor('metrics exported', () => receiver.metrics.some(m => m.name === 'latency_p95'))
    const cpu = receiver.metrics.find(m => m.name === 'cpu_usage')
    const p95 = receiver.metrics.find(m => m.name === 'latency_p95')
    assert.ok(cpu != null && p95 != null)
    assert.equal(cpu.unit, '1')
    assert.ok(cpu.points[0].value >= 0 && cpu.points[0].value <= 1)
    assert.equal(p95.unit, 's')
    assert.deepEqual(p95.points.map(p => [p.attributes, p.value]).sort(), [[{ operation: 'api' }, 0.004], [{ operation: 'invoke', function: 'echo' }, 0.02]].sort())
    assert.equal(p95.resource['dcis.peer.id'], '12D3KooWSelf')
  })

  it('anonymise: salted, stable, not the input', function () {
    const h = anonymise('12D3KooWOther')
    assert.match(h, /^h:[0-9a-f]{16}$/)
    assert.equal(anonymise('12D3KooWOther'), h)
    assert.notEqual(anonymise('12D3KooWOther2'), h)
  })
})
