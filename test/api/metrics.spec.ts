import assert from 'node:assert/strict'
import { Counter, Histogram } from 'prom-client'
import { createMetricsRegistry } from '../../src/telemetry/index.js'
import { parsePrometheusText } from './prom-text.js'
import { FakeNode, memoryLogger, startHarness } from './fixtures.js'
import { createApiServer } from '../../src/api/index.js'

describe('api: GET /metrics', () => {
  it('serves the registry as Prometheus text with the right content type', async () => {
    const h = await startHarness()
    try {
      const requests = new Counter({ name: 'dcis_test_requests_total', help: 'requests "seen"\\n', labelNames: ['route', 'code'], registers: [h.metrics] })
      requests.inc({ route: '/v1/x', code: '200' }, 3)
      requests.inc({ route: 'quote"back\\slash\nnewline', code: '500' })
      const latency = new Histogram({ name: 'dcis_test_latency_seconds', help: 'latency', buckets: [0.1, 1], registers: [h.metrics] })
      latency.observe(0.05)
      latency.observe(5)

      const res = await fetch(h.url('/metrics'))
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('content-type'), h.metrics.contentType)
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
      const text = await res.text()

      const families = parsePrometheusText(text)
      const counter = families.get('dcis_test_requests_total')
      assert.equal(counter?.type, 'counter')
      assert.deepEqual(counter?.samples.map(s => [s.labels, s.value]), [
        [{ route: '/v1/x', code: '200' }, 3],
        [{ route: 'quote"back\\slash\nnewline', code: '500' }, 1]
      ])
      const hist = families.get('dcis_test_latency_seconds')
      assert.equal(hist?.type, 'histogram')
      const inf = hist?.samples.find(s => s.name === 'dcis_test_latency_seconds_bucket' && s.labels.le === '+Inf')
      assert.equal(inf?.value, 2)
      assert.equal(hist?.samples.find(s => s.name === 'dcis_test_latency_seconds_count')?.value, 2)
    } finally {
      await h.server.stop()
    }
  })

  it('serves the node registry with process metrics and parses', async () => {
    const registry = createMetricsRegistry()
    const server = createApiServer({ node: new FakeNode(), metrics: registry, logger: memoryLogger().logger }, { port: 0 })
    await server.start()
    try {
      const text = await (await fetch(`${server.url}/metrics`)).text()
      const families = parsePrometheusText(text)
      assert.ok(families.size > 5, 'process metrics present')
      assert.ok([...families.keys()].every(n => n.startsWith('dcis_')), 'all under dcis_')
    } finally {
      await server.stop()
    }
  })

  it('counts API requests by method, route pattern and status', async () => {
    const h = await startHarness()
    try {
      await (await fetch(h.url('/healthz'))).text()
      await (await fetch(h.url('/v1/test/items/abc'))).text()
      await (await fetch(h.url('/v1/test/items/xyz'))).text()
      await (await fetch(h.url('/v1/nope'))).text()
      const families = parsePrometheusText(await (await fetch(h.url('/metrics'))).text())
      const requests = families.get('dcis_api_requests_total')
      assert.equal(requests?.type, 'counter')
      const count = (labels: Record<string, string>): number | undefined => requests?.samples.find(s => JSON.stringify(s.labels) === JSON.stringify(labels))?.value
      assert.equal(count({ method: 'GET', route: '/healthz', status: '200' }), 1)
      assert.equal(count({ method: 'GET', route: '/v1/test/items/:id', status: '200' }), 2)
      assert.equal(count({ method: 'GET', route: 'unmatched', status: '404' }), 1)
      assert.equal(families.get('dcis_api_request_duration_seconds')?.type, 'histogram')
    } finally {
      await h.server.stop()
    }
  })

  it('a second server on the same registry reuses the metrics', async () => {
    const registry = createMetricsRegistry({ processMetrics: false })
    const a = createApiServer({ node: new FakeNode(), metrics: registry, logger: memoryLogger().logger }, { port: 0 })
    const b = createApiServer({ node: new FakeNode(), metrics: registry, logger: memoryLogger().logger }, { port: 0 })
    assert.ok(a != null && b != null)
    assert.equal(registry.getMetricsAsArray().filter(m => m.name === 'dcis_api_requests_total').length, 1)
  })

  it('the reader rejects malformed exposition text (so the check can fail)', () => {
    assert.throws(() => parsePrometheusText('# TYPE x counter\nx 1'), /newline/)
    assert.throws(() => parsePrometheusText('x 1\n'), /no TYPE/)
    assert.throws(() => parsePrometheusText('# TYPE x counter\nx one\n'), /bad value/)
    assert.throws(() => parsePrometheusText('# TYPE x counter\nx{a="1",a="2"} 1\n'), /duplicate label/)
    assert.throws(() => parsePrometheusText('# TYPE x counter\nx{a=1} 1\n'), /bad labels/)
    assert.throws(() => parsePrometheusText('# TYPE x bogus\n'), /malformed/)
    assert.throws(() => parsePrometheusText('# TYPE 1x counter\n'), /malformed/)
    assert.doesNotThrow(() => parsePrometheusText('# HELP x h\n# TYPE x gauge\nx{a="b\\"c"} -Inf 1700000000\nx NaN\n'))
  })
})
