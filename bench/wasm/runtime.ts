/**
 * Wasm runtime benchmark (runtime level; the HTTP-level bench comes with
 * the routes). Prints one JSON object.
 *
 *   npx tsx bench/wasm/runtime.ts [--workers N] [--quick]
 *
 * - coldStart: a fresh ~1 MB module (real code, new CID each run) from
 *   load() to the first response, peer-side
 * - warm: sequential invoke latency p50/p99 (WASI echo and reactor)
 * - throughput: a trivial function with enough invocations in flight to
 *   keep every worker busy
 * - sensor: events/s through the sensor filter with batching (WASI and
 *   reactor)
 * - naive: a new compile + instance per call with no cache and no pool,
 *   beside ours, as a ratio
 */
import { performance } from 'node:perf_hooks'
import { createWasmRuntime } from '../../src/wasm/index.js'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { WASI } from 'node:wasi'
import { buildExamples, cidOf, example, watToWasm } from '../../test/wasm/helpers.js'
import type { FunctionSpec } from '../../src/wasm/index.js'
import { paddedEchoWat, pct, quick, r3, workers } from './common.js'

const enc = new TextEncoder()

/** a WASI echo padded with `n` real functions (~200 bytes of code each) */
function bigModuleWat (n: number, salt: number): string {
  return paddedEchoWat(n, (i) => {
    const body: string[] = []
    for (let j = 0; j < 12; j++) body.push(`(local.set $x (i32.add (i32.mul (local.get $x) (i32.const ${salt + i * 31 + j})) (i32.xor (local.get $x) (i32.const ${j * 7919 + i}))))`)
    return body.join(' ')
  })
}

function sensorBatch (n: number, seed: number): Uint8Array {
  let x = seed
  const rand = (): number => { x = (x * 1103515245 + 12345) >>> 0; return x / 0x100000000 }
  const events = Array.from({ length: n }, (_, i) => ({ sensor: `s${i % 16}`, value: Math.round((rand() * 160 - 60) * 100) / 100, ts: 1700000000 + i }))
  return enc.encode(JSON.stringify({ min: -40, max: 85, events }))
}

/**
 * naive: what a first implementation does with node:wasi: every call
 * compiles the bytes, creates a WASI context over real files for
 * stdin/stdout, instantiates and runs. No cache, no pool, no worker hop.
 */
async function naiveInvoke (bytes: Uint8Array, input: Uint8Array, dir: string): Promise<Uint8Array> {
  const inPath = join(dir, 'stdin')
  const outPath = join(dir, 'stdout')
  writeFileSync(inPath, input)
  const stdin = openSync(inPath, 'r')
  const stdout = openSync(outPath, 'w')
  try {
    const module = await WebAssembly.compile(bytes)
    const wasi = new WASI({ version: 'preview1', args: [], env: {}, stdin, stdout, stderr: stdout, returnOnExit: true })
    const instance = new WebAssembly.Instance(module, wasi.getImportObject() as unknown as WebAssembly.Imports)
    const code = wasi.start(instance as unknown as object)
    if (code !== 0) throw new Error(`naive run exited ${code}`)
  } finally {
    closeSync(stdin)
    closeSync(stdout)
  }
  return new Uint8Array(readFileSync(outPath))
}

async function main (): Promise<void> {
  await buildExamples()
  const load = async (name: string, abi: 'wasi' | 'reactor', extra: Partial<FunctionSpec> = {}): Promise<FunctionSpec> => {
    const bytes = await example(name)
    return { id: await cidOf(bytes), name, abi, bytes, warmPoolSize: 2, ...extra }
  }

  const rt = createWasmRuntime({ workers, maxQueue: 10_000 })
  await rt.start()
  const result: Record<string, unknown> = { workers, quick, node: process.version, cpus: availableParallelism(), loadAverage1m: loadavg()[0] }
  try {
    // --- cold start: ~1 MB module, load -> first response ----------------
    const coldRuns = quick ? 3 : 7
    const cold: number[] = []
    const coldParts: Array<Record<string, number>> = []
    let moduleBytes = 0
    for (let i = 0; i < coldRuns + 1; i++) {
      const bytes = await watToWasm(bigModuleWat(4800, i * 100_003))
      moduleBytes = bytes.length
      const spec: FunctionSpec = { id: await cidOf(bytes), name: `big${i}`, abi: 'wasi', bytes, warmPoolSize: 1 }
      const t0 = performance.now()
      const info = await rt.load(spec)
      const t1 = performance.now()
      const r = await rt.invoke(spec.id, enc.encode('ping'))
      const t2 = performance.now()
      if (new TextDecoder().decode(r.output) !== 'ping') throw new Error('cold start module answered wrongly')
      if (i > 0) { // the first run also pays for V8's and the workers' own warm-up
        cold.push(t2 - t0)
        coldParts.push({ validateMs: r3(info.validateMs), compileMs: r3(info.compileMs), warmMs: r3(info.warmMs), loadMs: r3(t1 - t0), firstInvokeMs: r3(t2 - t1) })
      }
      rt.unload(spec.id)
    }
    result.coldStart = { moduleBytes, runs: cold.length, minMs: r3(Math.min(...cold)), p50Ms: r3(pct(cold, 50)), maxMs: r3(Math.max(...cold)), parts: coldParts }

    // --- warm latency ----------------------------------------------------
    const echo = await load('echo', 'wasi')
    const reactor = await load('sensor-reactor', 'reactor')
    await rt.load(echo)
    await rt.load(reactor)
    const n = quick ? 500 : 3000
    const small = enc.encode('{"sensor":"a","value":1}')
    const latency = async (id: string): Promise<{ p50Ms: number, p99Ms: number, meanMs: number, coldStarts: number }> => {
      for (let i = 0; i < 200; i++) await rt.invoke(id, small)
      const xs: number[] = []
      let colds = 0
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        const r = await rt.invoke(id, small)
        xs.push(performance.now() - t0)
        if (r.coldStart) colds++
      }
      return { p50Ms: r3(pct(xs, 50)), p99Ms: r3(pct(xs, 99)), meanMs: r3(xs.reduce((a, b) => a + b, 0) / xs.length), coldStarts: colds }
    }
    result.warm = { invocations: n, wasiEcho: await latency(echo.id), reactor: await latency(reactor.id) }

    // --- throughput --------------------------------------------------------
    const throughput = async (id: string, total: number, inFlight: number): Promise<number> => {
      let next = 0
      const t0 = performance.now()
      await Promise.all(Array.from({ length: inFlight }, async () => {
        while (next < total) {
          next++
          await rt.invoke(id, small)
        }
      }))
      return Math.round(total / ((performance.now() - t0) / 1000))
    }
    const total = quick ? 2000 : 20000
    result.throughput = {
      invocations: total,
      inFlight: workers * 4,
      wasiEchoPerSec: await throughput(echo.id, total, workers * 4),
      reactorPerSec: await throughput(reactor.id, total, workers * 4)
    }

    // --- sensor filter, batched ---------------------------------------------
    const filter = await load('sensor-filter', 'wasi', { limits: { maxOutputBytes: 1 << 20, timeoutMs: 10000 } })
    await rt.load(filter)
    const sensor: Record<string, unknown> = {}
    for (const batch of [100, 1000, 10000]) {
      const body = sensorBatch(batch, batch)
      const calls = Math.max(4, Math.round((quick ? 20_000 : 200_000) / batch))
      for (const [label, id] of [['wasi', filter.id], ['reactor', reactor.id]] as const) {
        await rt.invoke(id, body)
        let next = 0
        const t0 = performance.now()
        await Promise.all(Array.from({ length: workers * 2 }, async () => {
          while (next < calls) {
            next++
            await rt.invoke(id, body)
          }
        }))
        const secs = (performance.now() - t0) / 1000
        sensor[`${label}_batch${batch}`] = { eventsPerSec: Math.round(batch * calls / secs), callsPerSec: Math.round(calls / secs), bodyBytes: body.length }
      }
    }
    result.sensorFilter = sensor

    // --- naive baseline ---------------------------------------------------
    const naiveN = quick ? 100 : 500
    const timeIt = async (f: () => Promise<unknown>, times: number): Promise<number> => {
      const t0 = performance.now()
      for (let i = 0; i < times; i++) await f()
      return (performance.now() - t0) / times
    }
    const body1k = sensorBatch(1000, 1)
    const dir = mkdtempSync(join(tmpdir(), 'dcis-wasm-bench-'))
    let naiveEcho: number, naiveSensor: number
    try {
      const check = new TextDecoder().decode(await naiveInvoke(echo.bytes, small, dir))
      if (check !== new TextDecoder().decode(small)) throw new Error('naive echo answered wrongly')
      naiveEcho = await timeIt(() => naiveInvoke(echo.bytes, small, dir), naiveN)
      naiveSensor = await timeIt(() => naiveInvoke(filter.bytes, body1k, dir), naiveN / 5)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    const oursEcho = await timeIt(() => rt.invoke(echo.id, small), naiveN)
    const oursSensor = await timeIt(() => rt.invoke(filter.id, body1k), naiveN / 5)
    result.naiveBaseline = {
      note: 'naive = node:wasi over temp files + WebAssembly.compile + new instance on every call, in-process (V8 may still reuse its own compiled code for identical bytes); ours = runtime.invoke, sequential, through a worker',
      echo: { naiveMs: r3(naiveEcho), oursMs: r3(oursEcho), speedup: r3(naiveEcho / oursEcho) },
      sensor1000: { naiveMs: r3(naiveSensor), oursMs: r3(oursSensor), speedup: r3(naiveSensor / oursSensor) }
    }
    result.stats = rt.stats().workers
  } finally {
    await rt.stop()
  }
  console.log(JSON.stringify(result, null, 2))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
