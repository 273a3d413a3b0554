import assert from 'node:assert/strict'
import fc from 'fast-check'
import { WasmError } from '../../src/wasm/errors.js'
import { validateModule, DEFAULT_MAX_MODULE_BYTES } from '../../src/wasm/validate.js'
import { parseModule } from '../../src/wasm/binary.js'
import { fixture, watToWasm } from './helpers.js'

/** append a custom section of `n` bytes (keeps the module valid) */
function padded (bytes: Uint8Array, n: number): Uint8Array {
  const name = new TextEncoder().encode('pad')
  const payloadLen = 1 + name.length + n
  const leb: number[] = []
  let v = payloadLen
  do { let b = v & 0x7f; v >>>= 7; if (v !== 0) b |= 0x80; leb.push(b) } while (v !== 0)
  const out = new Uint8Array(bytes.length + 1 + leb.length + payloadLen)
  out.set(bytes, 0)
  let o = bytes.length
  out[o++] = 0
  out.set(leb, o); o += leb.length
  out[o++] = name.length
  out.set(name, o)
  return out
}

describe('wasm/validate', () => {
  it('accepts a WASI command and a reactor', async () => {
    const w = validateModule(await fixture('echo'), { abi: 'wasi' })
    assert.equal(w.abi, 'wasi')
    const r = validateModule(await fixture('reactor-echo'), { abi: 'reactor' })
    assert.deepEqual(r.optionalExports, [])
  })

  it('rejects invalid bytes with INVALID_MODULE', async () => {
    const echo = await fixture('echo')
    const cases: Array<[string, Uint8Array]> = [
      ['empty', new Uint8Array(0)],
      ['garbage', new TextEncoder().encode('this is not wasm at all')],
      ['truncated', echo.subarray(0, echo.length - 5)],
      ['bad version', Uint8Array.from([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0])],
      ['corrupted body', (() => { const b = echo.slice(); b[b.length - 3] = 0xff; return b })()]
    ]
    for (const [what, bytes] of cases) {
      assert.throws(() => validateModule(bytes, { abi: 'wasi' }), (err: Error & { code?: string }) => {
        assert.equal(err.name, 'InvalidModuleError', what)
        assert.equal(err.code, 'INVALID_MODULE', what)
        return true
      }, what)
    }
  })

  it('rejects a module over the size limit (default 5 MiB) with MODULE_TOO_LARGE', async () => {
    const big = padded(await fixture('echo'), DEFAULT_MAX_MODULE_BYTES)
    assert.ok(WebAssembly.validate(big), 'the padded module is itself valid')
    assert.throws(() => validateModule(big, { abi: 'wasi' }), { name: 'ModuleTooLargeError', code: 'MODULE_TOO_LARGE' })
    assert.throws((b => () => validateModule(b, { abi: 'wasi', maxModuleBytes: 100 }))(await fixture('echo')), { code: 'MODULE_TOO_LARGE' })
  })

  it('rejects disallowed imports with DISALLOWED_IMPORT', async () => {
    for (const name of ['bad-import-env', 'bad-import-unknown-wasi', 'bad-import-memory', 'bad-import-dcis-signature']) {
      assert.throws((b => () => validateModule(b, { abi: 'wasi' }))(await fixture(name)), { name: 'DisallowedImportError', code: 'DISALLOWED_IMPORT' }, name)
    }
    // a reactor may not use WASI at all
    assert.throws((b => () => validateModule(b, { abi: 'reactor' }))(await fixture('echo')), { code: 'DISALLOWED_IMPORT' })
  })

  it('rejects missing or mistyped exports with MISSING_EXPORT', async () => {
    assert.throws((b => () => validateModule(b, { abi: 'wasi' }))(await fixture('missing-start')), { name: 'MissingExportError', code: 'MISSING_EXPORT', export: '_start' })
    assert.throws((b => () => validateModule(b, { abi: 'wasi' }))(await fixture('missing-memory')), { code: 'MISSING_EXPORT', export: 'memory' })
    assert.throws((b => () => validateModule(b, { abi: 'reactor' }))(await fixture('reactor-bad-signature')), { code: 'MISSING_EXPORT', export: 'handle_event' })
    // a WASI command is not a reactor
    assert.throws((b => () => validateModule(b, { abi: 'reactor' }))(await fixture('loop')), { code: 'MISSING_EXPORT', export: 'handle_event' })
    const noAlloc = await watToWasm('(module (memory (export "memory") 1) (func (export "handle_event") (param i32 i32) (result i32) (i32.const 0)))')
    assert.throws(() => validateModule(noAlloc, { abi: 'reactor' }), { code: 'MISSING_EXPORT', export: 'alloc' })
    const memFunc = await watToWasm('(module (memory 1) (func (export "memory")) (func (export "_start")))')
    assert.throws(() => validateModule(memFunc, { abi: 'wasi' }), { code: 'MISSING_EXPORT', export: 'memory' })
  })

  it('rejects a start section', async () => {
    assert.throws((b => () => validateModule(b, { abi: 'wasi' }))(await fixture('start-section')), { code: 'INVALID_MODULE', message: /start section/ })
  })

  it('rejects a declared minimum memory above the limit with MEMORY_LIMIT', async () => {
    assert.throws((b => () => validateModule(b, { abi: 'wasi', memoryMb: 16 }))(await fixture('big-min-memory')), { name: 'MemoryLimitError', code: 'MEMORY_LIMIT' })
    // within a bigger limit it is fine
    validateModule(await fixture('big-min-memory'), { abi: 'wasi', memoryMb: 256 })
  })

  it('clamps the memory maximum to the limit in the binary', async () => {
    const v = validateModule(await fixture('bomb'), { abi: 'wasi', memoryMb: 16 })
    assert.equal(v.memoryPages, 256)
    const parsed = parseModule(v.bytes)
    assert.deepEqual(parsed.memories, [{ min: 1, max: 256 }])
    assert.ok(WebAssembly.validate(v.bytes))
    // a module that already declares a smaller maximum keeps it
    const small = await watToWasm('(module (memory (export "memory") 1 4) (func (export "_start")))')
    assert.deepEqual(parseModule(validateModule(small, { abi: 'wasi', memoryMb: 16 }).bytes).memories, [{ min: 1, max: 4 }])
  })

  it('rejects shared memories and modules without exactly one memory', async () => {
    const none = await watToWasm('(module (func (export "_start")))')
    assert.throws(() => validateModule(none, { abi: 'wasi' }), { code: 'MISSING_EXPORT' })
    // patch the memory limits flags of (memory 1 2) from 0x01 to 0x03 (shared)
    const shared = await watToWasm('(module (memory (export "memory") 1 2) (func (export "_start")))')
    const mem = parseModule(shared).sections.find(s => s.id === 5)
    assert.ok(mem !== undefined)
    assert.equal(shared[mem.start + 1], 0x01)
    shared[mem.start + 1] = 0x03
    assert.ok(WebAssembly.validate(shared))
    assert.throws(() => validateModule(shared, { abi: 'wasi' }), { code: 'INVALID_MODULE', message: /shared/ })
  })

  it('mutated modules only ever fail with a typed WasmError (property, seeded)', async function () {
    this.timeout(30000)
    const seed = Number(process.env.FC_SEED ?? 0xbad)
    const bases = [await fixture('echo'), await fixture('reactor-echo'), await fixture('probe')]
    await fc.assert(fc.property(
      fc.integer({ min: 0, max: bases.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.constantFrom('wasi' as const, 'reactor' as const),
      (which, flips, cut, abi) => {
        let bytes = bases[which].slice()
        for (const [at, value] of flips) bytes[at % bytes.length] = value
        if (cut !== undefined) bytes = bytes.subarray(0, cut % (bytes.length + 1))
        for (const engineValidate of [true, false]) {
          try {
            const v = validateModule(bytes, { abi, engineValidate })
            // whatever passes is a module the engine accepts (without the
            // engine pass, the runtime's compile step is that check), with a
            // bounded memory
            if (engineValidate) assert.ok(WebAssembly.validate(v.bytes))
            assert.ok(v.memories.every(m => m.max !== undefined && m.max <= v.memoryPages))
          } catch (err) {
            if (!(err instanceof WasmError)) throw err
            assert.match(err.code, /^[A-Z_]+$/)
          }
        }
      }), { seed, numRuns: 400 })
  })
})
