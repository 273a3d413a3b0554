import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createWasmRuntime } from '../../src/wasm/index.js'
import type { FunctionSpec, WasmRuntime } from '../../src/wasm/index.js'
import { buildExamples, cidOf, dec, enc, example } from './helpers.js'
import { createPrng } from '../../src/latency/prng.js'

interface SensorEvent { sensor: string, value: number }
interface SensorStats { sensor: string, count: number, dropped: number, min: number | null, max: number | null, avg: number | null }
/** the fields of a manifest these tests read */
interface Manifest {
  apiVersion: string
  kind: string
  metadata: { name: string }
  spec: { source: string, abi: string, limits: Record<string, number>, warmPoolSize: number, recoveryAction: string, intervalSeconds: number, failureThreshold: number }
}
interface FilterOutput { accepted: number, dropped: number, invalid: number, sensors: SensorStats[] }


/** uniform in [0, 1), seeded (the project's generator) */
function prng (seed: number): () => number {
  const p = createPrng(seed)
  return () => p.next()
}

/** the reference semantics, in plain JS */
function reference (events: SensorEvent[], min = -40, max = 85): FilterOutput {
  const order: string[] = []
  const acc = new Map<string, { count: number, dropped: number, min: number, max: number, sum: number }>()
  let accepted = 0; let dropped = 0
  for (const e of events) {
    let s = acc.get(e.sensor)
    if (s === undefined) {
      s = { count: 0, dropped: 0, min: Infinity, max: -Infinity, sum: 0 }
      acc.set(e.sensor, s)
      order.push(e.sensor)
    }
    if (e.value < min || e.value > max) { s.dropped++; dropped++; continue }
    accepted++; s.count++; s.sum += e.value
    s.min = Math.min(s.min, e.value); s.max = Math.max(s.max, e.value)
  }
  return {
    accepted,
    dropped,
    invalid: 0,
    sensors: order.map(name => {
      const s = acc.get(name) as { count: number, dropped: number, min: number, max: number, sum: number }
      return { sensor: name, count: s.count, dropped: s.dropped, min: s.count > 0 ? s.min : null, max: s.count > 0 ? s.max : null, avg: s.count > 0 ? s.sum / s.count : null }
    })
  }
}

function randomEvents (rand: () => number, n: number): SensorEvent[] {
  const names = ['t1', 'hall/temp', 'pump-7', 'ünïcode', 'quote"d']
  return Array.from({ length: n }, () => ({
    sensor: names[Math.floor(rand() * names.length)],
    value: Math.round((rand() * 200 - 80) * 100) / 100
  }))
}

describe('wasm/examples (AssemblyScript)', function () {
  this.timeout(60000)
  let rt: WasmRuntime
  const specs: Record<string, FunctionSpec> = {}

  before(async function () {
    // compiling with asc takes a while on a loaded machine; cached by mtime afterwards
    this.timeout(240000)
    await buildExamples()
    rt = createWasmRuntime({ workers: 2 })
    await rt.start()
    for (const [name, abi] of [['echo', 'wasi'], ['sensor-filter', 'wasi'], ['sensor-reactor', 'reactor']] as const) {
      const bytes = await example(name)
      specs[name] = { id: await cidOf(bytes), name, abi, bytes, warmPoolSize: 2 }
      await rt.load(specs[name])
    }
  })

  after(async () => {
    await rt?.stop()
  })

  async function run (name: string, input: string | Uint8Array): Promise<string> {
    const r = await rt.invoke(specs[name].id, typeof input === 'string' ? enc.encode(input) : input)
    return dec.decode(r.output)
  }

  it('echo returns its input (empty, text, 300 KB binary)', async () => {
    assert.equal(await run('echo', ''), '')
    assert.equal(await run('echo', 'hello edge'), 'hello edge')
    const big = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff)
    const r = await rt.invoke(specs.echo.id, big)
    assert.deepEqual(r.output, big)
  })

  for (const fn of ['sensor-filter', 'sensor-reactor']) {
    describe(fn, () => {
      it('filters and aggregates a batch with thresholds', async () => {
        const input = { min: 0, max: 50, events: [
          { sensor: 'a', value: 10, ts: 1 }, { sensor: 'a', value: 20.5 }, { sensor: 'b', value: 99 },
          { id: 'b', value: 30, unit: 'C', tags: ['x', { y: null }] }, { sensor: 'c', value: -5 }, { sensor: 'a', value: 'hot' }, { value: 1 }
        ] }
        const out = JSON.parse(await run(fn, JSON.stringify(input))) as FilterOutput
        assert.deepEqual(out, {
          accepted: 3,
          dropped: 2,
          invalid: 2,
          sensors: [
            { sensor: 'a', count: 2, dropped: 0, min: 10, max: 20.5, avg: 15.25 },
            { sensor: 'b', count: 1, dropped: 1, min: 30, max: 30, avg: 30 },
            { sensor: 'c', count: 0, dropped: 1, min: null, max: null, avg: null }
          ]
        })
      })

      it('matches the reference on seeded random batches (bare arrays and NDJSON)', async () => {
        const seed = Number(process.env.WASM_SEED ?? 42)
        const rand = prng(seed)
        for (let round = 0; round < 6; round++) {
          const events = randomEvents(rand, 1 + Math.floor(rand() * 3000))
          const input = round % 2 === 0 ? JSON.stringify(events) : events.map(e => JSON.stringify(e)).join('\n') + '\n'
          const out = JSON.parse(await run(fn, input)) as FilterOutput
          const ref = reference(events)
          assert.equal(out.accepted, ref.accepted, `seed ${seed} round ${round}`)
          assert.equal(out.dropped, ref.dropped, `seed ${seed} round ${round}`)
          assert.equal(out.sensors.length, ref.sensors.length, `seed ${seed} round ${round}`)
          out.sensors.forEach((s, i) => {
            const r = ref.sensors[i]
            assert.equal(s.sensor, r.sensor)
            assert.equal(s.count, r.count, `seed ${seed} round ${round} ${s.sensor}`)
            assert.equal(s.min, r.min)
            assert.equal(s.max, r.max)
            if (r.avg === null) assert.equal(s.avg, null)
            else assert.ok(Math.abs((s.avg as number) - r.avg) <= 1e-9 * Math.max(1, Math.abs(r.avg)), `seed ${seed} avg ${s.avg} vs ${r.avg}`)
          })
        }
      })

      it('rejects malformed input with exit code 1 and a reason, and keeps serving', async () => {
        const bad = ['{"events": [', 'nope', '[{"sensor": "a", "value": 1}] trailing', '{"min": "x", "events": []}',
          '{"min": 10, "max": 0, "events": []}', '['.repeat(100000), '[{"sensor": "a\u0001", "value": 1}]']
        for (const input of bad) {
          await assert.rejects(rt.invoke(specs[fn].id, enc.encode(input)), (err: Error & { code?: string, exitCode?: number, stderr?: string }) => {
            assert.equal(err.code, 'FUNCTION_FAILED', input.slice(0, 40))
            assert.equal(err.exitCode, 1)
            assert.match(err.stderr ?? '', /bad input/)
            return true
          })
        }
        const ok = JSON.parse(await run(fn, '[]')) as FilterOutput
        assert.deepEqual(ok, { accepted: 0, dropped: 0, invalid: 0, sensors: [] })
      })
    })
  }

  it('the reactor keeps working across many calls on reused instances', async () => {
    const rand = prng(7)
    const events = randomEvents(rand, 2000)
    const body = enc.encode(JSON.stringify(events))
    const expected = reference(events)
    for (let i = 0; i < 60; i++) {
      const out = JSON.parse(dec.decode((await rt.invoke(specs['sensor-reactor'].id, body)).output)) as FilterOutput
      assert.equal(out.accepted, expected.accepted)
    }
  })

  it('the example manifests name the built modules by CID and have the standard shape', async () => {
    const { parse } = await import('yaml')
    const fnDoc = parse(await readFile(new URL('../../examples/manifests/sensor-filter.yaml', import.meta.url), 'utf8')) as Manifest
    assert.equal(fnDoc.apiVersion, 'edge/v1')
    assert.equal(fnDoc.kind, 'Function')
    assert.equal(fnDoc.spec.source, specs['sensor-filter'].id)
    assert.equal(fnDoc.spec.abi, 'wasi')
    // the manifest's limits are a valid spec for the runtime
    await rt.load({ ...specs['sensor-filter'], name: fnDoc.metadata.name, limits: fnDoc.spec.limits, warmPoolSize: fnDoc.spec.warmPoolSize })
    const hc = parse(await readFile(new URL('../../examples/manifests/sensor-filter-healthcheck.yaml', import.meta.url), 'utf8')) as Manifest
    assert.equal(hc.kind, 'HealthCheck')
    assert.equal(hc.spec.recoveryAction, 'rollback')
    assert.ok(Number.isInteger(hc.spec.intervalSeconds) && Number.isInteger(hc.spec.failureThreshold))
    const reactor = parse(await readFile(new URL('../../examples/manifests/sensor-reactor.yaml', import.meta.url), 'utf8')) as Manifest
    assert.equal(reactor.spec.source, specs['sensor-reactor'].id)
    assert.equal(reactor.spec.abi, 'reactor')
    const echo = parse(await readFile(new URL('../../examples/manifests/echo.yaml', import.meta.url), 'utf8')) as Manifest
    assert.equal(echo.spec.source, specs.echo.id)
  })
})
