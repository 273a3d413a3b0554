import assert from 'node:assert/strict'
import { createWasmRuntime, OverloadedError, WASM_ERROR_STATUS } from '../../src/wasm/index.js'
import { createMetricsRegistry } from '../../src/telemetry/index.js'
import type { FunctionSpec, WasmRuntime } from '../../src/wasm/index.js'
import { cidOf, dec, enc, fixture, watToWasm } from './helpers.js'
import { createPrng } from '../../src/latency/prng.js'
import { waitFor } from '../helpers/wait.js'

async function spec (name: string, abi: 'wasi' | 'reactor', extra: Partial<FunctionSpec> = {}): Promise<FunctionSpec> {
  const bytes = await fixture(name)
  return { id: await cidOf(bytes), name, abi, bytes, ...extra }
}

/** uniform in [0, 1), seeded (the project's generator) */
function prng (seed: number): () => number {
  const p = createPrng(seed)
  return () => p.next()
}

function u32s (b: Uint8Array): number[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const out: number[] = []
  for (let i = 0; i + 4 <= b.byteLength; i += 4) out.push(v.getInt32(i, true))
  return out
}

describe('wasm/runtime', function () {
  this.timeout(30000)
  let rt: WasmRuntime
  let echo: FunctionSpec

  before(async () => {
    rt = createWasmRuntime({ workers: 2 })
    await rt.start()
    echo = await spec('echo', 'wasi')
    await rt.load(echo)
  })

  after(async () => {
    await rt.stop()
  })

  /** the pool is whole again: every worker idle or busy, none starting */
  async function poolHealthy (): Promise<void> {
    await waitFor('all workers ready', () => { const w = rt.stats().workers; return w.starting === 0 && w.idle + w.busy === w.total }, { timeoutMs: 10000, intervalMs: 5 })
    const r = await rt.invoke(echo.id, enc.encode('still alive'))
    assert.equal(dec.decode(r.output), 'still alive')
  }

  it('runs a WASI command: stdin in, stdout out, warm', async () => {
    const r = await rt.invoke(echo.id, enc.encode('hello'))
    assert.equal(dec.decode(r.output), 'hello')
    assert.equal(r.exitCode, 0)
    assert.equal(r.coldStart, false)
    assert.ok(r.durationMs >= 0)
  })

  it('a request given as a view of a larger buffer: exactly the view is used, the caller\'s buffer is untouched', async () => {
    const backing = enc.encode('SECRET-before|the request|SECRET-after')
    const view = backing.subarray(14, 25)
    const r = await rt.invoke(echo.id, view)
    assert.equal(dec.decode(r.output), 'the request')
    // and the caller's buffer is neither detached nor changed
    assert.equal(dec.decode(backing), 'SECRET-before|the request|SECRET-after')
  })

  it('echoes seeded random inputs of many sizes byte for byte', async () => {
    const seed = Number(process.env.WASM_SEED ?? 1234)
    const rand = prng(seed)
    for (let i = 0; i < 12; i++) {
      const len = Math.floor(rand() ** 3 * 300_000)
      const input = new Uint8Array(len)
      for (let j = 0; j < len; j++) input[j] = Math.floor(rand() * 256)
      const r = await rt.invoke(echo.id, input)
      assert.deepEqual(r.output, input, `seed ${seed}, case ${i}, length ${len}`)
    }
  })

  it('runs a reactor: alloc + handle_event + dcis.write_output, instance reused', async () => {
    const s = await spec('reactor-echo', 'reactor')
    await rt.load(s)
    const r = await rt.invoke(s.id, enc.encode('ping'))
    assert.equal(dec.decode(r.output), 'ping')
    assert.equal(r.stderr, 'seen')
    // the event counter lives in the instance: it survives between calls on a worker
    const counts: number[] = []
    for (let i = 0; i < 6; i++) counts.push(u32s((await rt.invoke(s.id, enc.encode('#'))).output)[0])
    assert.ok(Math.max(...counts) > 1, `instances are reused: ${counts.join(',')}`)
    await assert.rejects(rt.invoke(s.id, enc.encode('!boom')), (err: Error & { code?: string, exitCode?: number, stderr?: string }) => {
      assert.equal(err.name, 'FunctionFailedError')
      assert.equal(err.code, 'FUNCTION_FAILED')
      assert.equal(err.exitCode, 7)
      assert.equal(err.stderr, 'seen')
      return true
    })
    rt.unload(s.id)
  })

  it('kills an infinite loop at the timeout, replaces the worker, and keeps serving', async () => {
    const s = await spec('loop', 'wasi', { limits: { timeoutMs: 200 } })
    await rt.load(s)
    const before = rt.stats().workers.replacements
    await assert.rejects(rt.invoke(s.id, new Uint8Array(0)), { name: 'FunctionTimeoutError', code: 'FUNCTION_TIMEOUT' })
    assert.equal(rt.stats().workers.replacements, before + 1)
    await poolHealthy()
    // and again, with both workers stuck at once
    await Promise.all([
      assert.rejects(rt.invoke(s.id, new Uint8Array(0)), { code: 'FUNCTION_TIMEOUT' }),
      assert.rejects(rt.invoke(s.id, new Uint8Array(0)), { code: 'FUNCTION_TIMEOUT' })
    ])
    await poolHealthy()
    assert.equal(rt.stats().functions.find(f => f.id === s.id)?.timeouts, 3)
    rt.unload(s.id)
  })

  it('a memory bomb cannot grow past its limit', async () => {
    const s = await spec('bomb', 'wasi', { limits: { memoryMb: 16 } })
    await rt.load(s)
    const [big, pages] = u32s((await rt.invoke(s.id, new Uint8Array(0))).output)
    assert.equal(big, -1, 'memory.grow(65535) = 4 GiB must fail')
    assert.equal(pages, 256, 'grows one page at a time exactly up to 16 MiB, then fails')
    rt.unload(s.id)
  })

  it('the default memory limit (64 MiB) applies too', async () => {
    const s = await spec('bomb', 'wasi')
    await rt.load(s)
    const [big, pages] = u32s((await rt.invoke(s.id, new Uint8Array(0))).output)
    assert.equal(big, -1)
    assert.equal(pages, 1024)
    rt.unload(s.id)
  })

  it('a trap is a clear FunctionTrapError with the captured stderr', async () => {
    const s = await spec('trap', 'wasi')
    await rt.load(s)
    await assert.rejects(rt.invoke(s.id, new Uint8Array(0)), (err: Error & { code?: string, stderr?: string }) => {
      assert.equal(err.name, 'FunctionTrapError')
      assert.equal(err.code, 'FUNCTION_TRAP')
      assert.match(err.message, /unreachable/)
      assert.equal(err.stderr, 'about to trap')
      return true
    })
    rt.unload(s.id)
    const rec = await spec('recursion', 'wasi')
    await rt.load(rec)
    await assert.rejects(rt.invoke(rec.id, new Uint8Array(0)), { code: 'FUNCTION_TRAP', message: /call stack/ })
    rt.unload(rec.id)
    await poolHealthy()
  })

  it('refuses output beyond maxOutputBytes without buffering it', async () => {
    const s = await spec('huge-output', 'wasi', { limits: { maxOutputBytes: 1024 * 1024 } })
    await rt.load(s)
    await assert.rejects(rt.invoke(s.id, new Uint8Array(0)), { name: 'OutputTooLargeError', code: 'OUTPUT_TOO_LARGE', limit: 1024 * 1024 })
    await poolHealthy()
    // the echo's own limit applies to a reflected input as well
    const small = { ...echo, limits: { maxOutputBytes: 10 } }
    await rt.load(small)
    await assert.rejects(rt.invoke(small.id, new Uint8Array(11)), { code: 'OUTPUT_TOO_LARGE' })
    assert.equal((await rt.invoke(small.id, new Uint8Array(10))).output.length, 10)
    await rt.load(echo)
    rt.unload(s.id)
  })

  it('bounds stderr by truncation, not failure', async () => {
    const s = await spec('stderr-flood', 'wasi')
    await rt.load(s)
    const r = await rt.invoke(s.id, new Uint8Array(0))
    assert.equal(dec.decode(r.output), 'ok')
    assert.ok(r.stderr.length < 20 * 1024, `stderr is ${r.stderr.length} chars`)
    assert.match(r.stderr, /stderr truncated at 16384 bytes/)
    rt.unload(s.id)
  })

  it('a non-zero exit is FunctionFailedError with the exit code and stderr', async () => {
    const s = await spec('exit-code', 'wasi')
    await rt.load(s)
    await assert.rejects(rt.invoke(s.id, new Uint8Array(0)), { name: 'FunctionFailedError', exitCode: 3, stderr: 'bad request' })
    rt.unload(s.id)
  })

  it('without grants: no files, no env, no clock, no random, no sockets, no other fds', async () => {
    const s = await spec('probe', 'wasi', { env: { SECRET: 'hunter2' } })
    await rt.load(s)
    const r = await rt.invoke(s.id, new Uint8Array(0))
    const [openPre, openStdin, prestat, envCount, envBytes, clock, random, badFd] = u32s(r.output.subarray(0, 32))
    assert.equal(openPre, 8, 'path_open on fd 3 -> EBADF (no preopens)')
    assert.equal(openStdin, 76, 'path_open on stdin -> ENOTCAPABLE')
    assert.equal(prestat, 8, 'fd_prestat_get(3) -> EBADF')
    assert.equal(envCount, 0, 'the environment is empty without the env grant')
    assert.equal(envBytes, 0)
    assert.equal(clock, 76, 'clock_time_get -> ENOTCAPABLE')
    assert.equal(random, 76, 'random_get -> ENOTCAPABLE')
    assert.equal(badFd, 8, 'fd_write(5) -> EBADF')
    assert.equal(r.output.length, 32)
    assert.ok(!dec.decode(r.output).includes('hunter2'))
    rt.unload(s.id)
  })

  it('with grants: env, clock and random are available', async () => {
    const s = await spec('probe', 'wasi', { env: { SECRET: 'hunter2' }, grants: { env: true, clock: true, random: true } })
    await rt.load(s)
    const r = await rt.invoke(s.id, new Uint8Array(0))
    const [openPre, , , envCount, envBytes, clock, random] = u32s(r.output.subarray(0, 32))
    assert.equal(openPre, 8, 'still no files')
    assert.equal(envCount, 1)
    assert.equal(envBytes, 'SECRET=hunter2\0'.length)
    assert.equal(clock, 0)
    assert.equal(random, 0)
    assert.equal(dec.decode(r.output.subarray(32)), 'SECRET=hunter2\0')
    rt.unload(s.id)
  })

  it('a flood beyond the per-function limit gets OverloadedError(function), the rest succeed', async () => {
    const s = { ...echo, limits: { maxConcurrency: 1, maxQueue: 2 } }
    await rt.load(s)
    assert.equal(rt.capacity(s.id).state, 'now')
    assert.equal(rt.capacity('bafynothere').state, 'unknown')
    const inFlight = [rt.invoke(s.id, enc.encode('a'))]
    assert.equal(rt.capacity(s.id).state, 'queue')
    inFlight.push(rt.invoke(s.id, enc.encode('b')), rt.invoke(s.id, enc.encode('c')))
    assert.equal(rt.capacity(s.id).state, 'full')
    assert.deepEqual(rt.capacity(s.id).function, { inflight: 1, queued: 2, maxConcurrency: 1, maxQueue: 2 })
    await Promise.all(inFlight)
    // let both workers finish refilling their warm instances, so the flood
    // below starts from two idle workers
    await waitFor('idle workers', () => rt.stats().workers.idle === 2, { timeoutMs: 5000, intervalMs: 5 })
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => rt.invoke(s.id, enc.encode(`m${i}`))))
    const ok = results.filter(r => r.status === 'fulfilled')
    const rejected = results.filter(r => r.status === 'rejected').map(r => (r as PromiseRejectedResult).reason as Error & { code?: string, scope?: string })
    assert.equal(ok.length, 3, 'one running + two queued')
    assert.equal(rejected.length, 17)
    for (const e of rejected) {
      assert.equal(e.name, 'OverloadedError')
      assert.equal(e.code, 'OVERLOADED')
      assert.equal(e.scope, 'function')
    }
    assert.deepEqual(ok.map(r => dec.decode((r as PromiseFulfilledResult<{ output: Uint8Array }>).value.output)), ['m0', 'm1', 'm2'])
    await rt.load(echo)
    await poolHealthy()
  })

  it('abort: while queued it leaves the queue, while running the worker is replaced', async () => {
    const loop = await spec('loop', 'wasi', { limits: { timeoutMs: 20000, maxConcurrency: 1 } })
    await rt.load(loop)
    const running = new AbortController()
    const queued = new AbortController()
    const p1 = rt.invoke(loop.id, new Uint8Array(0), { signal: running.signal })
    const p2 = rt.invoke(loop.id, new Uint8Array(0), { signal: queued.signal })
    assert.equal(rt.stats().queued, 1)
    queued.abort()
    await assert.rejects(p2, { name: 'AbortError', code: 'ABORTED' })
    assert.equal(rt.stats().queued, 0)
    await waitFor('the loop to run', () => rt.stats().workers.busy === 1, { timeoutMs: 5000, intervalMs: 5 })
    running.abort()
    await assert.rejects(p1, { code: 'ABORTED' })
    await poolHealthy()
    // an already-aborted signal is refused up front
    await assert.rejects(rt.invoke(echo.id, new Uint8Array(0), { signal: AbortSignal.abort() }), { code: 'ABORTED' })
    rt.unload(loop.id)
  })

  it('a reactor whose _initialize never returns fails to load at the timeout; the pool stays healthy', async () => {
    const s = await spec('reactor-init-loop', 'reactor', { limits: { timeoutMs: 300 } })
    await assert.rejects(rt.load(s), { code: 'FUNCTION_TIMEOUT' })
    assert.equal(rt.has(s.id), false)
    await poolHealthy()
  })

  it('host calls with out-of-bounds pointers get EFAULT (WASI) or a trap (dcis), never a host crash', async () => {
    const wasiBytes = await watToWasm(`(module
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env (param i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "_start")
        ;; iovec pointing past the end of memory
        (i32.store (i32.const 0) (i32.const 65530))
        (i32.store (i32.const 4) (i32.const 100))
        (i32.store (i32.const 100) (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
        (i32.store (i32.const 104) (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
        ;; iovec array itself out of bounds, and a huge count
        (i32.store (i32.const 108) (call $fd_write (i32.const 1) (i32.const -8) (i32.const 1) (i32.const 16)))
        (i32.store (i32.const 112) (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0x7fffffff) (i32.const 16)))
        (i32.store (i32.const 116) (call $env (i32.const 65535) (i32.const 0)))
        (i32.store (i32.const 0) (i32.const 100))
        (i32.store (i32.const 4) (i32.const 20))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))`)
    const w: FunctionSpec = { id: await cidOf(wasiBytes), name: 'efault', abi: 'wasi', bytes: wasiBytes }
    await rt.load(w)
    const r = await rt.invoke(w.id, enc.encode('input'))
    assert.deepEqual(u32s(r.output), [21, 21, 21, 21, 21])
    rt.unload(w.id)

    const reactorBytes = await watToWasm(`(module
      (import "dcis" "write_output" (func $out (param i32 i32)))
      (memory (export "memory") 1)
      (func (export "alloc") (param i32) (result i32) (i32.const 1024))
      (func (export "handle_event") (param i32 i32) (result i32)
        (call $out (i32.const 65000) (i32.const 1000))
        (i32.const 0)))`)
    const re: FunctionSpec = { id: await cidOf(reactorBytes), name: 'oob', abi: 'reactor', bytes: reactorBytes }
    await rt.load(re)
    await assert.rejects(rt.invoke(re.id, enc.encode('x')), { code: 'FUNCTION_TRAP', message: /out of bounds/ })
    rt.unload(re.id)
    await poolHealthy()
  })

  it('a reactor whose alloc returns a bad pointer traps cleanly', async () => {
    const s = await spec('reactor-bad-alloc', 'reactor')
    await rt.load(s)
    await assert.rejects(rt.invoke(s.id, enc.encode('x')), { code: 'FUNCTION_TRAP', message: /out-of-bounds pointer/ })
    rt.unload(s.id)
  })

  it('refuses an input over maxInputBytes', async () => {
    const small = createWasmRuntime({ workers: 1, maxInputBytes: 1000 })
    await small.start()
    try {
      await small.load(echo)
      await assert.rejects(small.invoke(echo.id, new Uint8Array(1001)), { name: 'InputTooLargeError', code: 'INPUT_TOO_LARGE' })
      assert.equal((await small.invoke(echo.id, new Uint8Array(1000))).output.length, 1000)
    } finally {
      await small.stop()
    }
  })

  it('counts invocations, outcomes and cold starts in the metrics registry', async () => {
    const registry = createMetricsRegistry({ processMetrics: false })
    const m = createWasmRuntime({ workers: 1, metrics: registry })
    await m.start()
    try {
      await m.load({ ...echo, warmPoolSize: 0 })
      await m.invoke(echo.id, enc.encode('1'))
      const trap = await spec('trap', 'wasi')
      await m.load(trap)
      await assert.rejects(m.invoke(trap.id, new Uint8Array(0)))
      const text = await registry.metrics()
      assert.match(text, /dcis_wasm_invocations_total\{function="echo",outcome="ok"\} 1/)
      assert.match(text, /dcis_wasm_invocations_total\{function="trap",outcome="trap"\} 1/)
      assert.match(text, /dcis_wasm_cold_starts_total\{function="echo"\} 1/)
      assert.match(text, /dcis_wasm_invoke_duration_seconds_count\{function="echo"\} 1/)
    } finally {
      await m.stop()
    }
  })

  it('unknown functions, bad specs and hostile modules are typed errors at load', async () => {
    await assert.rejects(rt.invoke('bafynothere', new Uint8Array(0)), { name: 'FunctionNotFoundError', code: 'FUNCTION_NOT_FOUND' })
    await assert.rejects(rt.load({ ...echo, abi: 'jvm' as 'wasi' }), { name: 'InvalidSpecError', field: 'abi' })
    await assert.rejects(rt.load({ ...echo, limits: { timeoutMs: -1 } }), { field: 'limits.timeoutMs' })
    await assert.rejects(rt.load({ ...echo, limits: { memoryMb: 1e9 } }), { field: 'limits.memoryMb' })
    await assert.rejects(rt.load({ ...echo, env: { A: 3 as unknown as string } }), { field: 'env.A' })
    await assert.rejects(rt.load({ ...echo, id: '../../etc' }), { field: 'id' })
    await assert.rejects(rt.load({ ...echo, bytes: 'wasm' as unknown as Uint8Array }), { field: 'bytes' })
    await assert.rejects(rt.load(null as unknown as FunctionSpec), { field: 'spec' })
    await assert.rejects(rt.load({ ...echo, id: 'bad', bytes: enc.encode('not wasm') }), { code: 'INVALID_MODULE' })
    await assert.rejects(rt.load(await spec('bad-import-env', 'wasi')), { code: 'DISALLOWED_IMPORT' })
    await assert.rejects(rt.load(await spec('missing-start', 'wasi')), { code: 'MISSING_EXPORT' })
    await poolHealthy()
  })

  it('warmPoolSize 0 means cold starts; compiled modules are cached by id', async () => {
    const cold = { ...echo, warmPoolSize: 0 }
    const hitsBefore = rt.stats().cache.hits
    await rt.load(cold)
    assert.ok(rt.stats().cache.hits > hitsBefore, 'the second load of the same CID is a cache hit')
    // unloading keeps the compiled module: loading it again compiles nothing
    const trap = await spec('trap', 'wasi', { limits: { memoryMb: 3 } })
    assert.equal((await rt.load(trap)).cached, false, 'first load with this memory limit compiles')
    rt.unload(trap.id)
    assert.equal((await rt.load(trap)).cached, true)
    rt.unload(trap.id)
    const r = await rt.invoke(cold.id, enc.encode('c'))
    assert.equal(r.coldStart, true)
    await rt.load(echo)
    // refilled after each call: the next calls are warm
    await rt.invoke(echo.id, enc.encode('w'))
    const warm = await rt.invoke(echo.id, enc.encode('w'))
    assert.equal(warm.coldStart, false)
  })

  it('reloading a function while it runs keeps its counters consistent', async () => {
    const s = { ...echo, limits: { maxConcurrency: 1 } }
    await rt.load(s)
    const p = rt.invoke(s.id, enc.encode('during reload'))
    const reload = rt.load({ ...s, limits: { maxConcurrency: 1, timeoutMs: 4000 } })
    assert.equal(dec.decode((await p).output), 'during reload')
    await reload
    const st = rt.stats().functions.find(f => f.id === s.id)
    assert.equal(st?.inflight, 0)
    assert.equal(dec.decode((await rt.invoke(s.id, enc.encode('after'))).output), 'after')
    await rt.load(echo)
  })

  it('a reload that fails keeps the previous version loaded', async () => {
    const s = await spec('reactor-init-loop', 'reactor', { limits: { timeoutMs: 300 }, warmPoolSize: 0 })
    await rt.load(s) // nothing is instantiated at load with warmPoolSize 0
    await assert.rejects(rt.load({ ...s, warmPoolSize: 1 }), { code: 'FUNCTION_TIMEOUT' })
    assert.equal(rt.has(s.id), true)
    // the old version still runs (and its _initialize still loops: killed at the timeout)
    await assert.rejects(rt.invoke(s.id, enc.encode('x')), { code: 'FUNCTION_TIMEOUT' })
    rt.unload(s.id)
    await poolHealthy()
  })

  it('unload fails queued invocations with FunctionNotFoundError', async () => {
    const loop = await spec('loop', 'wasi', { limits: { timeoutMs: 300, maxConcurrency: 1 } })
    await rt.load(loop)
    const p1 = rt.invoke(loop.id, new Uint8Array(0))
    const p2 = rt.invoke(loop.id, new Uint8Array(0))
    rt.unload(loop.id)
    await assert.rejects(p2, { code: 'FUNCTION_NOT_FOUND' })
    await assert.rejects(p1, { code: 'FUNCTION_TIMEOUT' })
    await poolHealthy()
  })
})

describe('wasm/runtime peer limits and lifecycle', function () {
  this.timeout(30000)

  it('every error class has a suggested HTTP status (4xx caller, 5xx otherwise)', () => {
    for (const [name, status] of Object.entries(WASM_ERROR_STATUS)) {
      assert.ok(status >= 400 && status <= 599, name)
    }
    assert.equal(WASM_ERROR_STATUS.OverloadedError, 429)
    assert.equal(WASM_ERROR_STATUS.PeerOverloadedError, 503)
  })

  it('a flood beyond the peer queue gets OverloadedError(peer)', async () => {
    const rt = createWasmRuntime({ workers: 1, maxQueue: 3 })
    await rt.start()
    try {
      const s = await spec('echo', 'wasi', { limits: { maxConcurrency: 100, maxQueue: 100 } })
      await rt.load(s)
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => rt.invoke(s.id, enc.encode('x'))))
      const rejected = results.filter(r => r.status === 'rejected').map(r => (r as PromiseRejectedResult).reason as Error & { code: string, scope: string })
      assert.equal(results.length - rejected.length, 4, 'one running + three queued')
      assert.ok(rejected.every(e => e instanceof OverloadedError && e.name === 'PeerOverloadedError' && e.code === 'OVERLOADED' && e.scope === 'peer'))
      const r = await rt.invoke(s.id, enc.encode('after'))
      assert.equal(dec.decode(r.output), 'after')
    } finally {
      await rt.stop()
    }
  })

  it('a caller beyond maxPerCaller gets OverloadedError(caller); other callers still get in', async () => {
    const rt = createWasmRuntime({ workers: 1, maxPerCaller: 2 })
    await rt.start()
    try {
      const s = await spec('echo', 'wasi')
      await rt.load(s)
      const a = [rt.invoke(s.id, enc.encode('a1'), { caller: 'peerA' }), rt.invoke(s.id, enc.encode('a2'), { caller: 'peerA' })]
      await assert.rejects(rt.invoke(s.id, enc.encode('a3'), { caller: 'peerA' }), { name: 'OverloadedError', scope: 'caller' })
      const b = rt.invoke(s.id, enc.encode('b1'), { caller: 'peerB' })
      assert.deepEqual((await Promise.all([...a, b])).map(r => dec.decode(r.output)), ['a1', 'a2', 'b1'])
      // released once settled, failures included
      await assert.rejects(rt.invoke('bafynothere', new Uint8Array(0), { caller: 'peerA' }), { code: 'FUNCTION_NOT_FOUND' })
      const again = await Promise.all([rt.invoke(s.id, enc.encode('a4'), { caller: 'peerA' }), rt.invoke(s.id, enc.encode('a5'), { caller: 'peerA' })])
      assert.equal(again.length, 2)
    } finally {
      await rt.stop()
    }
  })

  it('stop rejects in-flight and queued work, is idempotent, and start again works', async () => {
    const rt = createWasmRuntime({ workers: 1 })
    await rt.start()
    await rt.start()
    const loop = await spec('loop', 'wasi', { limits: { timeoutMs: 20000 } })
    await rt.load(loop)
    const p1 = assert.rejects(rt.invoke(loop.id, new Uint8Array(0)), { code: 'RUNTIME_STOPPED' })
    const p2 = assert.rejects(rt.invoke(loop.id, new Uint8Array(0)), { code: 'RUNTIME_STOPPED' })
    await rt.stop()
    await rt.stop()
    await p1
    await p2
    await assert.rejects(rt.invoke(loop.id, new Uint8Array(0)), { code: 'RUNTIME_STOPPED' })
    await rt.start()
    try {
      const s = await spec('echo', 'wasi')
      await rt.load(s)
      assert.equal(dec.decode((await rt.invoke(s.id, enc.encode('again'))).output), 'again')
    } finally {
      await rt.stop()
    }
  })
})
