/**
 * The host interface of functions (src/wasm/host-calls.ts): a real
 * AssemblyScript reactor (examples/functions/assembly/host-probe.ts) calls
 * kv, counters, logs, sinks and caches through a worker thread blocked on
 * Atomics.wait while the main thread serves the call; grants are enforced
 * (a denied call is an error status inside the function, the worker and the
 * peer keep running); limits keep applying.
 */
import assert from 'node:assert/strict'
import { createWasmRuntime, HOST_STATUS, HostCallError } from '../../src/wasm/index.js'
import type { FunctionSpec, HostInterface, WasmRuntime } from '../../src/wasm/index.js'
import { checkGrant } from '../../src/wasm/runtime.js'
import { normalizeSpec } from '../../src/wasm/spec.js'
import { decodeRequestHeader, encodeHeader } from '../../src/wasm/routing/index.js'
import { buildExamples, cidOf, dec, enc, example } from './helpers.js'

describe('wasm/host-calls: the host interface', function () {
  this.timeout(60_000)
  let rt: WasmRuntime
  let probe: FunctionSpec
  const kv = new Map<string, string>()
  const counters = new Map<string, number>()
  const logs: string[] = []
  const emitted: string[] = []
  let slowMs = 0
  const host: HostInterface = {
    kvGet: async (s, k) => kv.get(`${s}/${k}`),
    kvPut: async (s, k, v) => { kv.set(`${s}/${k}`, v) },
    counterAdd: async (s, k, d) => {
      // served asynchronously, as a forwarded call to a remote replica is
      await new Promise(resolve => setTimeout(resolve, 1))
      const n = (counters.get(`${s}/${k}`) ?? 0) + d
      counters.set(`${s}/${k}`, n)
      return n
    },
    counterGet: async (s, k) => counters.get(`${s}/${k}`) ?? 0,
    countersAdd: async (s, entries) => { for (const [k, d] of entries) counters.set(`${s}/${k}`, (counters.get(`${s}/${k}`) ?? 0) + d) },
    logAppend: async (s, k, v) => { logs.push(`${s}/${k}:${v}`); return `cursor-${logs.length}` },
    sinkEmit: async (sink, r) => {
      if (slowMs > 0) await new Promise(resolve => setTimeout(resolve, slowMs))
      emitted.push(`${sink}:${r}`)
    },
    cacheGet: async (c, k) => k === 'missing' ? undefined : enc.encode(`${c}:${k}:meta`)
  }

  before(async function () {
    await buildExamples()
    rt = createWasmRuntime({ workers: 2, host: () => host })
    await rt.start()
    const bytes = await example('host-probe')
    probe = {
      id: await cidOf(bytes),
      name: 'host-probe',
      abi: 'reactor',
      bytes,
      limits: { timeoutMs: 2000 },
      grants: { services: { fleet: 'read-write', meta: 'read' }, caches: ['vehicles'], sinks: ['core'] }
    }
    await rt.load(probe)
  })

  after(async function () {
    await rt?.stop()
  })

  async function run (commands: string[]): Promise<string[]> {
    const r = await rt.invoke(probe.id, enc.encode(commands.join('\n')))
    return dec.decode(r.output).trim().split('\n')
  }

  it('kv, counters, logs, sinks and caches work through the granted services', async function () {
    const out = await run([
      'kv_put fleet v1 truck',
      'kv_get fleet v1',
      'counter_add fleet v1 5',
      'counter_add fleet v1 -2',
      'counter_get fleet v1',
      'counters_add fleet v1 v2',
      'counter_get fleet v2',
      'log_append fleet alerts brake',
      'sink_emit core rec1',
      'cache_get vehicles v1'
    ])
    assert.deepEqual(out, ['ok ', 'ok truck', 'ok 5', 'ok 3', 'ok 3', 'ok ', 'ok 2', 'ok cursor-1', 'ok ', 'ok vehicles:v1:meta'])
    assert.equal(kv.get('fleet/v1'), 'truck')
    assert.deepEqual(logs, ['fleet/alerts:brake'])
    assert.deepEqual(emitted, ['core:rec1'])
  })

  it('cache_get_many reads many keys in one host call, in order, absent ones marked; a denied or empty batch is a status', async function () {
    const out = await run([
      'cache_get_many vehicles v1,missing,véhicule-2',
      'cache_get_many secrets v1',
      'cache_get_many vehicles ,'
    ])
    assert.equal(out[0], 'ok vehicles:v1:meta|-|vehicles:véhicule-2:meta')
    assert.match(out[1], /^err -1 cache_get_many: the function has no grant on cache secrets/)
    assert.match(out[2], /^err -4 dcis.cache_get_many: a batch carries 1\.\.10000 keys/)
    assert.equal(rt.stats().workers.total, 2)
  })

  it('denied calls are an error status inside the function; the function and the worker carry on', async function () {
    const out = await run([
      'kv_put meta k x', // read-only grant
      'counter_add other k 1', // not granted at all
      'sink_emit elsewhere r',
      'cache_get secrets k',
      'kv_get fleet absent', // granted, but not found
      'cache_get vehicles missing',
      'counter_get meta k', // read is granted
      'counters_add meta a b'
    ])
    assert.match(out[0], /^err -1 kv_put: the function has no write grant on service meta/)
    assert.match(out[1], /^err -1 counter_add: the function has no write grant on service other/)
    assert.match(out[2], /^err -1 sink_emit: the function has no grant on sink elsewhere/)
    assert.match(out[3], /^err -1 cache_get: the function has no grant on cache secrets/)
    assert.match(out[4], /^err -2 /)
    assert.match(out[5], /^err -2 /)
    assert.equal(out[6], 'ok 0')
    assert.match(out[7], /^err -1 counters_add: the function has no write grant on service meta/)
    assert.equal(kv.has('meta/k'), false)
    assert.equal(rt.stats().workers.total, 2)
  })

  it('a failing host answers the function with a status, not a crash', async function () {
    const saved = host.kvGet
    host.kvGet = async () => { throw Object.assign(new Error('no replica answered'), { code: 'SERVICE_UNAVAILABLE' }) }
    try {
      assert.match((await run(['kv_get fleet v1']))[0], /^err -3 no replica answered/)
    } finally {
      host.kvGet = saved
    }
    host.kvGet = undefined
    try {
      assert.match((await run(['kv_get fleet v1']))[0], /^err -7 /)
    } finally {
      host.kvGet = saved
    }
  })

  it('the time limit still applies while the function waits for the host', async function () {
    slowMs = 10_000
    try {
      await assert.rejects(rt.invoke(probe.id, enc.encode('sink_emit core late')), { code: 'FUNCTION_TIMEOUT' })
    } finally {
      slowMs = 0
    }
    // the replaced worker serves host calls again
    const out = await run(['counter_get fleet v1'])
    assert.equal(out[0], 'ok 4')
  })

  it('many concurrent invocations with host calls get their own answers', async function () {
    const results = await Promise.all(Array.from({ length: 40 }, async (_, i) => run([`kv_put fleet k${i} v${i}`, `kv_get fleet k${i}`])))
    results.forEach((r, i) => { assert.deepEqual(r, ['ok ', `ok v${i}`]) })
  })

  it('a forwarded invocation carries the data grants; bad ones are refused at the frame', function () {
    const frame = (grants: unknown): Uint8Array => encodeHeader({ v: 1, id: 'bafkreidcqayu2thcwvowtfbqi34ca2dl6mc6ktz4cfj7zhxgcbg6wgrso4', name: 'f', spec: { abi: 'reactor', grants } } as never)
    const ok = decodeRequestHeader(frame({ clock: true, services: { fleet: 'write' }, caches: ['vehicles'], sinks: ['core'] }))
    assert.deepEqual(ok.spec.grants, { clock: true, services: { fleet: 'write' }, caches: ['vehicles'], sinks: ['core'] })
    assert.throws(() => decodeRequestHeader(frame({ services: { fleet: 'all' } })), { code: 'INVALID_INVOKE_FRAME' })
    assert.throws(() => decodeRequestHeader(frame({ root: true })), { code: 'INVALID_INVOKE_FRAME' })
  })

  it('grants are validated: bad access, bad names and too many are refused with the field named', function () {
    const base = { id: 'bafyx', name: 'f', abi: 'reactor', bytes: new Uint8Array(1) }
    assert.throws(() => normalizeSpec({ ...base, grants: { services: { fleet: 'admin' } } }, { maxConcurrency: 1 }), { field: 'grants.services.fleet' })
    assert.throws(() => normalizeSpec({ ...base, grants: { services: { Fleet: 'read' } } }, { maxConcurrency: 1 }), { field: 'grants.services.Fleet' })
    assert.throws(() => normalizeSpec({ ...base, grants: { caches: 'vehicles' } }, { maxConcurrency: 1 }), { field: 'grants.caches' })
    assert.throws(() => normalizeSpec({ ...base, grants: { sinks: ['ok', 7] } }, { maxConcurrency: 1 }), { field: 'grants.sinks[1]' })
    const none = normalizeSpec(base, { maxConcurrency: 1 })
    assert.deepEqual(none.data, { services: {}, caches: [], sinks: [] })
    // least privilege: nothing is granted by default
    assert.throws(() => { checkGrant(none.data, { op: 'kv_get', service: 'fleet', key: 'k' }) }, (err: unknown) => err instanceof HostCallError && err.status === HOST_STATUS.DENIED)
  })
})

describe('wasm/host-calls: grants per invocation (one module, several names)', function () {
  this.timeout(60_000)
  let rt: WasmRuntime
  let id: string
  const host: HostInterface = { counterGet: async () => 7 }

  before(async function () {
    await buildExamples()
    rt = createWasmRuntime({ workers: 1, host: () => host })
    await rt.start()
    const bytes = await example('host-probe')
    id = await cidOf(bytes)
    // loaded last with no data grants, as a second name with the same bytes would
    await rt.load({ id, name: 'probe-none', abi: 'reactor', bytes, limits: { timeoutMs: 2000 } })
  })

  after(async function () {
    await rt?.stop()
  })

  async function run (grants?: Record<string, unknown>): Promise<string> {
    const r = await rt.invoke(id, enc.encode('counter_get fleet k'), grants !== undefined ? { grants } : {})
    return dec.decode(r.output).trim()
  }

  it('host calls are checked against the grants of the invocation, else those of the loaded spec', async function () {
    assert.match(await run(), /^err -1 counter_get: the function has no read grant on service fleet/)
    assert.equal(await run({ services: { fleet: 'read' } }), 'ok 7')
    assert.match(await run({}), /^err -1 /)
    // interleaved, concurrently: each invocation keeps its own grants
    const outs = await Promise.all(Array.from({ length: 20 }, async (_, i) => run(i % 2 === 0 ? { services: { fleet: 'read-write' } } : { services: { other: 'read' } })))
    outs.forEach((o, i) => { if (i % 2 === 0) assert.equal(o, 'ok 7'); else assert.match(o, /^err -1 /) })
  })

  it('bad invocation grants are refused before running, with the field named', async function () {
    await assert.rejects(rt.invoke(id, enc.encode('counter_get fleet k'), { grants: { services: { fleet: 'admin' } } }), { field: 'grants.services.fleet' })
  })
})
