/**
 * What tracing costs an invocation (issue 14): one real `dcis start` peer
 * per mode, `echo` invoked over HTTP on it, first one at a time (p50/p99
 * latency as the client sees it), then 8 at a time (throughput). Modes:
 * tracing off (no OTEL_* variables: the SDK is never loaded), on with
 * sampling 1.0 and on with 0.1 (parentbased_traceidratio), exporting over
 * OTLP/HTTP protobuf to a receiver in this process that decodes and counts
 * the spans (with the official protos).
 *
 *   node --import tsx bench/telemetry/overhead.ts [--calls 400] [--concurrent-calls 800] [--rounds 2]
 *
 * Prints one JSON object. Each mode runs on a fresh peer; numbers on a
 * loaded shared machine are noisy, compare modes of one run.
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import { cliCommand, REPO_ROOT } from '../../test/helpers/cli.js'
import { freePortBlock } from '../../test/helpers/ports.js'
import { waitFor } from '../../test/helpers/wait.js'
import { buildExamples } from '../../test/wasm/integration-mesh.js'
import { OtlpReceiver } from '../../test/telemetry/otlp-receiver.js'

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : def
}
const CALLS = arg('calls', 400)
const CONCURRENT_CALLS = arg('concurrent-calls', 800)
const CONCURRENCY = 8
/** rounds over the three modes, every other one in reverse order (so warm-up and load drift do not favour one mode) */
const ROUNDS = arg('rounds', 2)

function quantile (sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

async function invoke (url: string): Promise<void> {
  const res = await fetch(`${url}/v1/functions/echo`, { method: 'POST', body: 'ping', headers: { 'content-type': 'application/octet-stream' } })
  if (res.status !== 200) throw new Error(`invoke: HTTP ${res.status}: ${await res.text()}`)
  await res.arrayBuffer()
}

async function runMode (name: string, env: Record<string, string>, receiver: OtlpReceiver): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'dcis-bench-otel-'))
  const saved = { ...process.env }
  Object.assign(process.env, env)
  const mesh = new LocalMesh({ nodes: 1, regions: ['eu-west'], basePort: await freePortBlock(1), dataDir: dir, logLevel: 'warn', command: cliCommand() })
  try {
    await mesh.start()
    for (const k of Object.keys(env)) Reflect.deleteProperty(process.env, k)
    Object.assign(process.env, saved)
    const peer = mesh.peers[0]
    await waitFor('the peer answers', async () => (await fetch(`${peer.apiUrl}/healthz`).catch(() => null))?.ok === true, { timeoutMs: 120_000, intervalMs: 250 })
    const wasm = await readFile(join(REPO_ROOT, 'examples/functions/build/echo.wasm'))
    const dep = await fetch(`${peer.apiUrl}/v1/functions?name=echo&maxConcurrency=${CONCURRENCY}&maxQueue=64`, { method: 'POST', body: wasm, headers: { 'content-type': 'application/wasm' } })
    if (dep.status !== 201) throw new Error(`deploy: HTTP ${dep.status}: ${await dep.text()}`)
    for (let i = 0; i < 50; i++) await invoke(peer.apiUrl) // warm-up
    const spansBefore = receiver.spans.length
    const lat: number[] = []
    for (let i = 0; i < CALLS; i++) {
      const t0 = performance.now()
      await invoke(peer.apiUrl)
      lat.push(performance.now() - t0)
    }
    lat.sort((a, b) => a - b)
    let next = 0
    const t0 = performance.now()
    await Promise.all([...Array(CONCURRENCY)].map(async () => {
      while (next < CONCURRENT_CALLS) {
        next++
        await invoke(peer.apiUrl)
      }
    }))
    const seconds = (performance.now() - t0) / 1000
    // the batch processor exports within a second; give it a little more
    await new Promise(resolve => setTimeout(resolve, 2500))
    return {
      mode: name,
      p50Ms: Number(quantile(lat, 0.5).toFixed(3)),
      p99Ms: Number(quantile(lat, 0.99).toFixed(3)),
      meanMs: Number((lat.reduce((a, b) => a + b, 0) / lat.length).toFixed(3)),
      throughputPerSecond: Number((CONCURRENT_CALLS / seconds).toFixed(1)),
      spansExported: receiver.spans.length - spansBefore
    }
  } finally {
    await mesh.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

await buildExamples()
const receiver = new OtlpReceiver()
await receiver.start()
const otel = (ratio: string): Record<string, string> => ({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: ratio })
const MODES: Array<[string, Record<string, string>]> = [['off', {}], ['on-1.0', otel('1.0')], ['on-0.1', otel('0.1')]]
const runs: Array<Record<string, unknown>> = []
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, env] of (r % 2 === 0 ? MODES : [...MODES].reverse())) runs.push({ round: r, ...await runMode(name, env, receiver) })
  }
} finally {
  await receiver.stop()
}
// per mode: the mean over rounds of each figure
const avg = (name: string, k: string): number => { const xs = runs.filter(r => r.mode === name).map(r => r[k] as number); return Number((xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3)) }
const modes = MODES.map(([name]) => ({ mode: name, p50Ms: avg(name, 'p50Ms'), p99Ms: avg(name, 'p99Ms'), meanMs: avg(name, 'meanMs'), throughputPerSecond: avg(name, 'throughputPerSecond'), spansExported: avg(name, 'spansExported') }))
const off = modes[0]
process.stdout.write(JSON.stringify({
  what: 'echo invocations over HTTP on one peer: sequential latency, then throughput at concurrency 8',
  calls: CALLS,
  concurrentCalls: CONCURRENT_CALLS,
  concurrency: CONCURRENCY,
  rounds: ROUNDS,
  modes: modes.map(m => ({ ...m, p50VsOff: Number((m.p50Ms / off.p50Ms).toFixed(3)), throughputVsOff: Number((m.throughputPerSecond / off.throughputPerSecond).toFixed(3)) })),
  runs,
  receiverErrors: receiver.errors.length
}) + '\n')
