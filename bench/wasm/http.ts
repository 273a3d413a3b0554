/**
 * Functions through the HTTP API of one peer (real libp2p + helia + disk
 * stores + worker runtime, keep-alive HTTP on loopback). Prints one JSON
 * object.
 *
 *   npx tsx bench/wasm/http.ts [--workers N] [--quick]
 *
 * - coldStart: upload of a ~1 MB module (new CID each run) to its first
 *   response: the peer-side time (Server-Timing of the deploy: store +
 *   check + max(store, validate + compile + warm) as the block is written
 *   while the runtime compiles, plus the first invoke's execution) and the
 *   client's wall time of both requests
 * - warm: sequential invoke latency through HTTP, p50/p99 (client-measured,
 *   so it includes the HTTP round trip on loopback)
 * - throughput: a trivial function with 16 requests in flight, req/s
 * - sensor: events/s through the sensor filter (WASI and reactor) with
 *   batches of 1000 events per request
 */
import { request, Agent } from 'node:http'
import { availableParallelism, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { watToWasm } from '../../test/wasm/helpers.js'
import { buildExamples, example, removeDir, startFnPeer } from '../../test/wasm/integration-mesh.js'
import { paddedEchoWat, pct, quick, r3, workers } from './common.js'

const agent = new Agent({ keepAlive: true, maxSockets: 64 })

interface Res { status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }

async function call (base: string, method: string, path: string, body: Uint8Array, type: string): Promise<Res> {
  const url = new URL(path, base)
  return await new Promise((resolve, reject) => {
    const req = request({ agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers: { 'content-type': type, 'content-length': body.byteLength } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** ~1 MB at n = 7000 */
function bigWat (n: number, salt: number): string {
  return paddedEchoWat(n, (i) => {
    const ops: string[] = []
    for (let j = 0; j < 10; j++) ops.push(`(local.set $x (i32.xor (i32.mul (local.get $x) (i32.const ${salt + i * 17 + j})) (i32.const ${i * 131 + j})))`)
    return ops.join(' ')
  })
}

function serverTiming (h: string | string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {}
  for (const part of String(h ?? '').split(',')) {
    const m = /^\s*([a-z]+);dur=([\d.]+)/.exec(part)
    if (m != null) out[m[1]] = Number(m[2])
  }
  return out
}

async function main (): Promise<void> {
  await buildExamples()
  const peer = await startFnPeer({ name: 'bench', runtime: { workers } })
  const base = peer.url + '/'
  const enc = new TextEncoder()
  try {
    // cold start: several fresh modules (a new CID each), median and best
    const coldRuns: Array<Record<string, unknown> & { peerSideMs: number }> = []
    for (let run = 0; run < (quick ? 1 : 5); run++) {
      const salt = Math.floor(Math.random() * 1e9)
      const big = await watToWasm(bigWat(quick ? 1500 : 7000, salt))
      const t0 = performance.now()
      const dep = await call(base, 'POST', `/v1/functions?name=big-${salt}`, big, 'application/wasm')
      const t1 = performance.now()
      if (dep.status !== 201) throw new Error(`deploy: ${dep.status} ${dep.body.toString()}`)
      const id = (JSON.parse(dep.body.toString()) as { id: string }).id
      const first = await call(base, 'POST', `/v1/functions/${id}`, enc.encode('first'), 'application/octet-stream')
      const t2 = performance.now()
      if (first.body.toString() !== 'first') throw new Error('cold start: wrong answer')
      const st = serverTiming(dep.headers['server-timing'])
      const firstExec = Number(first.headers['x-dcis-duration-ms'])
      coldRuns.push({
        moduleBytes: big.byteLength,
        // the block write overlaps the load
        peerSideMs: r3((st.check ?? 0) + Math.max(st.store ?? 0, st.load ?? 0) + firstExec),
        split: { checkMs: st.check, storeMs: st.store, validateMs: st.validate, compileMs: st.compile, warmMs: st.warm, firstExecMs: r3(firstExec) },
        clientWallMs: { upload: r3(t1 - t0), firstInvoke: r3(t2 - t1), total: r3(t2 - t0) }
      })
    }
    const bySide = [...coldRuns].sort((x, y) => x.peerSideMs - y.peerSideMs)
    const coldStart = { runs: coldRuns.length, medianPeerSideMs: bySide[Math.floor(bySide.length / 2)].peerSideMs, bestPeerSideMs: bySide[0].peerSideMs, median: bySide[Math.floor(bySide.length / 2)] }

    // warm latency (echo, 64 bytes)
    const echo = await example('echo')
    await call(base, 'POST', '/v1/functions?name=echo&warmPoolSize=2', echo, 'application/wasm')
    const payload = new Uint8Array(64).fill(97)
    for (let i = 0; i < 200; i++) await call(base, 'POST', '/v1/functions/echo', payload, 'application/octet-stream')
    const n = quick ? 500 : 3000
    const lat: number[] = []
    for (let i = 0; i < n; i++) {
      const s = performance.now()
      const r = await call(base, 'POST', '/v1/functions/echo', payload, 'application/octet-stream')
      lat.push(performance.now() - s)
      if (r.status !== 200) throw new Error(`warm: ${r.status}`)
    }
    const warm = { n, p50Ms: r3(pct(lat, 50)), p99Ms: r3(pct(lat, 99)), meanMs: r3(lat.reduce((a, b) => a + b, 0) / n) }

    // throughput: the reactor echo path is the trivial function; 16 in flight
    const dur = quick ? 1000 : 3000
    let done = 0
    let refused = 0
    const end = performance.now() + dur
    const tStart = performance.now()
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (performance.now() < end) {
        const r = await call(base, 'POST', '/v1/functions/echo', payload, 'application/octet-stream')
        if (r.status === 200) done++
        else refused++
      }
    }))
    const throughput = { inFlight: 16, seconds: r3((performance.now() - tStart) / 1000), reqPerSec: Math.round(done / ((performance.now() - tStart) / 1000)), refused }

    // sensor filter with batching
    await call(base, 'POST', '/v1/functions?name=sensor-filter&memoryMb=32&warmPoolSize=2', await example('sensor-filter'), 'application/wasm')
    await call(base, 'POST', '/v1/functions?name=sensor-reactor&abi=reactor', await example('sensor-reactor'), 'application/wasm')
    const batch = 1000
    const events = Array.from({ length: batch }, (_, i) => ({ sensor: `s${i % 16}`, value: (i * 37) % 120 - 20 }))
    const body = enc.encode(JSON.stringify({ min: 0, max: 50, events }))
    const sensor: Record<string, unknown> = {}
    for (const fn of ['sensor-filter', 'sensor-reactor']) {
      const ok = await call(base, 'POST', `/v1/functions/${fn}`, body, 'application/json')
      if (ok.status !== 200) throw new Error(`${fn}: ${ok.status} ${ok.body.toString()}`)
      let batches = 0
      const stop = performance.now() + (quick ? 800 : 2500)
      const s0 = performance.now()
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (performance.now() < stop) {
          const r = await call(base, 'POST', `/v1/functions/${fn}`, body, 'application/json')
          if (r.status === 200) batches++
        }
      }))
      const secs = (performance.now() - s0) / 1000
      sensor[fn] = { batch, requests: batches, eventsPerSec: Math.round(batches * batch / secs) }
    }

    process.stdout.write(JSON.stringify({
      bench: 'wasm/http',
      workers,
      cpus: availableParallelism(),
      loadavg1: r3(loadavg()[0]),
      coldStart,
      warm,
      throughput,
      sensor,
      goals: { coldStartPeerSideMs: 10, warmP50Ms: 1, warmP99Ms: 5, sensorEventsPerSec: 50000 }
    }, null, 2) + '\n')
  } finally {
    agent.destroy()
    await peer.stop()
    await removeDir(peer.dir)
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
