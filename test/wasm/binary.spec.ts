import assert from 'node:assert/strict'
import fc from 'fast-check'
import { parseModule, rewriteLimits, exportedFuncType } from '../../src/wasm/binary.js'
import { watToWasm } from './helpers.js'

const SEED = Number(process.env.FC_SEED ?? 0x5eed)

describe('wasm/binary', () => {
  it('parses types, imports, exports and memories', async () => {
    const bytes = await watToWasm(`(module
      (import "dcis" "log" (func (param i32 i32)))
      (memory (export "memory") 2 10)
      (table 3 funcref)
      (func (export "handle_event") (param i32 i32) (result i32) (i32.const 0)))`)
    const m = parseModule(bytes)
    assert.deepEqual(m.imports, [{ module: 'dcis', name: 'log', kind: 'func', typeIndex: 0 }])
    assert.deepEqual(m.memories, [{ min: 2, max: 10 }])
    assert.deepEqual(m.tables, [{ min: 3 }])
    assert.deepEqual(exportedFuncType(m, 'handle_event'), { params: ['i32', 'i32'], results: ['i32'] })
    assert.equal(m.hasStart, false)
  })

  it('rewritten memory limits are enforced by the engine (property, seeded)', async function () {
    this.timeout(30000)
    // build a handful of modules up front (wabt is the slow part), then vary the limits
    const modules = new Map<string, Uint8Array>()
    for (const min of [0, 1, 3]) {
      for (const max of [undefined, 2, 8, 70000]) {
        if (max !== undefined && (max < min || max > 65536)) continue
        const decl = `${min}${max !== undefined ? ` ${max}` : ''}`
        modules.set(decl, await watToWasm(`(module (memory (export "memory") ${decl}) (table 1 funcref) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`))
      }
    }
    const keys = [...modules.keys()]
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...keys), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 100 }),
      async (decl, limitPages, tableCap) => {
        const bytes = modules.get(decl) as Uint8Array
        const parsed = parseModule(bytes)
        const declared = parsed.memories[0]
        if (declared.min > limitPages) {
          assert.throws(() => rewriteLimits(bytes, parsed, limitPages, tableCap), { code: 'MEMORY_LIMIT' })
          return
        }
        const out = rewriteLimits(bytes, parsed, limitPages, tableCap)
        assert.ok(WebAssembly.validate(out.bytes))
        const expectedMax = Math.min(declared.max ?? limitPages, limitPages)
        assert.deepEqual(parseModule(out.bytes).memories, [{ min: declared.min, max: expectedMax }])
        const inst = new WebAssembly.Instance(new WebAssembly.Module(out.bytes))
        const grow = inst.exports.grow as (n: number) => number
        // growing to exactly the maximum works, one page more does not
        assert.equal(grow(expectedMax - declared.min), declared.min)
        assert.equal(grow(1), -1)
        assert.equal((inst.exports.memory as WebAssembly.Memory).buffer.byteLength, expectedMax * 65536)
      }), { seed: SEED, numRuns: 60, verbose: true })
  })

  it('fails cleanly on malformed section sizes', () => {
    const bytes = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 0x7f, 0x01])
    assert.throws(() => parseModule(bytes), { code: 'INVALID_MODULE' })
  })
})
