/**
 * Traces across real peer processes (issue 14): two `dcis start` peers
 * export over OTLP/HTTP protobuf to a receiver in the test that decodes with
 * the official protos.
 *
 * 1. Same domain: an invocation sent to peer A (with the test's own
 *    traceparent) and executed on peer B is one trace: A's HTTP span is the
 *    child of the test's span, A's forward span its descendant, and B's
 *    serve span the child of A's forward span.
 * 2. B restarted in another trace domain (`telemetry.traceDomain`): B's
 *    serve span starts a new trace linked to A's forward span; no span of B
 *    names A's peer id and A's spans name B only by a salted hash.
 *
 * A is made to forward by a function limited to one invocation at a time
 * with no queue (`maxConcurrency=1&maxQueue=0`): of two concurrent calls,
 * one runs on A and the other is forwarded to the nearest capable peer, B.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import { REPO_ROOT } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'
import { buildExamples } from '../wasm/integration-mesh.js'
import { startMesh } from './mesh.js'
import { OtlpReceiver } from './otlp-receiver.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'
import type { ReceivedSpan } from './otlp-receiver.js'
import type { TelemetryMesh } from './mesh.js'

const OTEL_VARS = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_TRACES_SAMPLER', 'OTEL_SERVICE_NAME'] as const

function newTraceparent (): { traceId: string, spanId: string, header: string } {
  const traceId = randomBytes(16).toString('hex')
  const spanId = randomBytes(8).toString('hex')
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` }
}

describe('telemetry: one trace across peers, a linked one across a domain boundary', function () {
  this.timeout(300_000)
  const receiver = new OtlpReceiver()
  let tm: TelemetryMesh | undefined
  const saved: Record<string, string | undefined> = {}
  let configs: string[] = []

  before(async function () {
    this.timeout(300_000)
    await buildExamples()
    await receiver.start()
    for (const k of OTEL_VARS) saved[k] = process.env[k]
    // the peers inherit these (LocalMesh spawns with this process's environment)
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf'
    process.env.OTEL_TRACES_SAMPLER = 'parentbased_always_on'
    process.env.OTEL_SERVICE_NAME = 'dcis-e2e'
    // a config file per peer, rewritten before a peer restarts
    tm = await startMesh(2, {}, (mesh) => {
      configs = mesh.peers.map(p => join(p.dataDir, 'telemetry.yaml'))
      return configs
    })
  })

  after(async function () {
    this.timeout(60_000)
    await tm?.stop()
    await receiver.stop()
    for (const k of OTEL_VARS) {
      if (saved[k] == null) Reflect.deleteProperty(process.env, k)
      else process.env[k] = saved[k]
    }
  })

  async function deploySlow (peer: LocalPeer): Promise<string> {
    const wasm = await readFile(join(REPO_ROOT, 'examples/functions/build/slow.wasm'))
    const res = await fetch(`${peer.apiUrl}/v1/functions?name=slow&maxConcurrency=1&maxQueue=0&timeoutMs=120000`, { method: 'POST', body: wasm, headers: { 'content-type': 'application/wasm' } })
    const body = await res.text()
    assert.equal(res.status, 201, body)
    return (JSON.parse(body) as { id: string }).id
  }

  /** two concurrent calls at A until one is served by B; returns that call's trace */
  async function forwardedCall (a: LocalPeer, b: LocalPeer): Promise<{ traceId: string, spanId: string }> {
    const seen: string[] = []
    for (let round = 0; round < 6; round++) {
      const calls = [newTraceparent(), newTraceparent()]
      const results = await Promise.all(calls.map(async (tp, i) => {
        const res = await fetch(`${a.apiUrl}/v1/functions/slow`, { method: 'POST', body: `call ${round}.${i}`, headers: { traceparent: tp.header, 'content-type': 'application/octet-stream' }, signal: AbortSignal.timeout(120_000) })
        const body = await res.text()
        return { tp, status: res.status, ranOn: res.headers.get('x-dcis-ran-on'), body }
      }))
      const viaB = results.find(r => r.status === 200 && r.ranOn === b.peerId)
      if (viaB != null) return { traceId: viaB.tp.traceId, spanId: viaB.tp.spanId }
      seen.push(results.map(r => `${r.status} on ${r.ranOn === a.peerId ? 'A' : r.ranOn === b.peerId ? 'B' : String(r.ranOn)}${r.status !== 200 ? ` (${r.body.slice(0, 200)})` : ''}`).join(', '))
    }
    throw new Error(`no call was forwarded to B in 6 rounds: ${seen.join('; ')}`)
  }

  const ofPeer = (spans: ReceivedSpan[], peer: LocalPeer): ReceivedSpan[] => spans.filter(s => s.resource['dcis.peer.id'] === peer.peerId)

  it('same domain: A\'s spans and B\'s serve span are one trace, B parented to A', async function () {
    const [a, b] = (tm as TelemetryMesh).mesh.peers
    await deploySlow(a)
    await deploySlow(b)
    const call = await forwardedCall(a, b)
    // each peer exports on its own schedule: wait for both sides
    await waitFor('A\'s HTTP span and B\'s serve span of the forwarded call', () => {
      const t = receiver.trace(call.traceId)
      return ofPeer(t, b).some(s => s.name === 'dcis.invoke.serve') && ofPeer(t, a).some(s => s.parentSpanId === call.spanId) && ofPeer(t, a).some(s => s.name === 'dcis.invoke.forward')
    }, { timeoutMs: 30_000 })
    const spans = receiver.trace(call.traceId)
    const http = ofPeer(spans, a).find(s => s.parentSpanId === call.spanId)
    assert.ok(http != null, `A's HTTP span is the child of the caller's span; got ${JSON.stringify(spans.map(s => [s.name, s.resource['dcis.peer.id']]))}`)
    assert.equal(http.attributes['http.route'], '/v1/functions/:id')
    assert.equal(http.resource['service.name'], 'dcis-e2e')
    const forward = ofPeer(spans, a).find(s => s.name === 'dcis.invoke.forward')
    assert.ok(forward != null)
    assert.equal(forward.attributes['dcis.peer.target'], b.peerId)
    // the forward span descends from the HTTP span
    const byId = new Map(spans.map(s => [s.spanId, s]))
    let up: ReceivedSpan | undefined = forward
    while (up != null && up.spanId !== http.spanId) up = byId.get(up.parentSpanId)
    assert.ok(up != null, 'forward span descends from A\'s HTTP span')
    const serve = ofPeer(spans, b).find(s => s.name === 'dcis.invoke.serve')
    assert.ok(serve != null, 'B exported its serve span into the same trace')
    assert.equal(serve.parentSpanId, forward.spanId)
    assert.equal(serve.attributes['dcis.peer.caller'], a.peerId)
    await waitFor('B\'s run span', () => ofPeer(receiver.trace(call.traceId), b).some(s => s.name === 'dcis.invoke.run' && s.parentSpanId === serve.spanId), { timeoutMs: 30_000 })
  })

  it('same domain: an allocation over two peers is one trace, B\'s reserve parented to A\'s reserve call', async function () {
    const [a, b] = (tm as TelemetryMesh).mesh.peers
    const tp = newTraceparent()
    const res = await fetch(`${a.apiUrl}/v1/allocations`, { method: 'POST', body: JSON.stringify({ replicas: 2, constraints: { memory: '16Mi' } }), headers: { 'content-type': 'application/json', traceparent: tp.header } })
    assert.ok(res.status < 300, await res.text())
    await waitFor('A\'s allocate span and B\'s serving span of the reserve', () => {
      const t = receiver.trace(tp.traceId)
      return ofPeer(t, b).some(s => s.name === 'dcis.alloc.serve.reserve') && ofPeer(t, a).some(s => s.name === 'dcis.alloc.allocate')
    }, { timeoutMs: 30_000 })
    const spans = receiver.trace(tp.traceId)
    const allocate = ofPeer(spans, a).find(s => s.name === 'dcis.alloc.allocate')
    assert.ok(allocate != null)
    const reserveToB = ofPeer(spans, a).find(s => s.name === 'dcis.alloc.reserve' && s.attributes['dcis.peer.target'] === b.peerId)
    assert.ok(reserveToB != null, `A's reserve call to B; got ${JSON.stringify(spans.map(s => s.name))}`)
    assert.equal(reserveToB.parentSpanId, allocate.spanId)
    const served = ofPeer(spans, b).find(s => s.name === 'dcis.alloc.serve.reserve')
    assert.equal(served?.parentSpanId, reserveToB.spanId)
  })

  it('another domain: B starts a new trace linked to A\'s span; neither side\'s raw peer id crosses', async function () {
    const mesh = (tm as TelemetryMesh).mesh
    const [a, b] = mesh.peers
    // B moves to another operator's trace domain, with its own salt
    await writeFile(configs[1], 'telemetry:\n  traceDomain: operator-b\n  traceSalt: salt-of-operator-b\n')
    await restart(mesh, b)
    await deploySlow(b)
    const call = await forwardedCall(a, b)
    const linked = (): ReceivedSpan | undefined => ofPeer(receiver.spans, b).find(s => s.name === 'dcis.invoke.serve' && s.links.some(l => l.traceId === call.traceId))
    await waitFor('B\'s serve span, linked to the call\'s trace', () => linked() != null, { timeoutMs: 30_000 })
    const serve = linked() as ReceivedSpan
    await waitFor('A\'s forward span', () => ofPeer(receiver.trace(call.traceId), a).some(s => s.name === 'dcis.invoke.forward'), { timeoutMs: 30_000 })
    assert.notEqual(serve.traceId, call.traceId, 'a new trace')
    assert.equal(serve.parentSpanId, '')
    assert.equal(serve.attributes['dcis.trace.crossed_domain'], true)
    const forward = ofPeer(receiver.trace(call.traceId), a).find(s => s.name === 'dcis.invoke.forward')
    assert.ok(forward != null)
    assert.equal(serve.links[0].spanId, forward.spanId, 'linked to A\'s forward span')
    assert.match(String(serve.attributes['dcis.peer.caller']), /^h:[0-9a-f]{16}$/)
    await waitFor('B\'s run span in the new trace', () => receiver.trace(serve.traceId).some(s => s.name === 'dcis.invoke.run'), { timeoutMs: 30_000 })
    // nothing B exported for this call names A; nothing A exported names B
    for (const s of receiver.trace(serve.traceId)) assert.ok(!JSON.stringify(s.attributes).includes(a.peerId), `B's span ${s.name} names A`)
    for (const s of ofPeer(receiver.trace(call.traceId), a)) assert.ok(!JSON.stringify(s.attributes).includes(b.peerId), `A's span ${s.name} names B`)
    assert.match(String(forward.attributes['dcis.peer.target']), /^h:[0-9a-f]{16}$/)
    assert.equal(forward.attributes['dcis.trace.crossed_domain'], true)
  })
})

async function restart (mesh: LocalMesh, peer: LocalPeer): Promise<void> {
  const child = peer.process
  if (child != null && !peer.exited) {
    const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
    child.kill('SIGTERM')
    await exited
  }
  await mesh.spawnPeer(peer)
  await waitFor('the restarted peer ready and connected', async () => {
    if (peer.exited) throw new Error(`peer ${peer.index} exited; log: ${peer.logFile}`)
    return LocalMesh.fullyConnected(await mesh.snapshots())
  }, { timeoutMs: 120_000, intervalMs: 500 })
}
