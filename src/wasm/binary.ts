/**
 * A small reader/writer for the parts of the WebAssembly binary format the
 * runtime needs: types, imports, functions, tables, memories, exports and
 * the start section. Pure and deterministic; it never executes anything.
 *
 * `rewriteLimits` rebuilds a module with every memory's (and table's)
 * maximum clamped to a limit, so that `memory.grow` past the limit returns
 * -1 inside the engine instead of allocating.
 */
import { InvalidModuleError, MemoryLimitError } from './errors.js'

export const WASM_PAGE_BYTES = 65536

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref'

export interface FuncType { params: ValType[], results: ValType[] }
export interface Limits { min: number, max?: number }
export type ExternKind = 'func' | 'table' | 'memory' | 'global' | 'tag'

export interface ImportEntry {
  module: string
  name: string
  kind: ExternKind
  /** for 'func': index into `types` */
  typeIndex?: number
}

export interface ExportEntry { name: string, kind: ExternKind, index: number }

export interface SectionSpan { id: number, start: number, end: number /* payload [start, end) */, headerStart: number }

export interface ParsedModule {
  sections: SectionSpan[]
  types: FuncType[]
  imports: ImportEntry[]
  /** type index of every function in the function index space (imports first) */
  functionTypes: number[]
  tables: Limits[]
  memories: Limits[]
  exports: ExportEntry[]
  hasStart: boolean
}

const VALTYPES: Record<number, ValType> = {
  0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref'
}
const KINDS: ExternKind[] = ['func', 'table', 'memory', 'global', 'tag']
const UTF8 = new TextDecoder('utf-8', { fatal: true })

class Reader {
  pos: number
  constructor (readonly bytes: Uint8Array, start: number, readonly end: number) {
    this.pos = start
  }

  fail (what: string): never {
    throw new InvalidModuleError(`malformed module at byte ${this.pos}: ${what}`)
  }

  byte (): number {
    if (this.pos >= this.end) this.fail('unexpected end of section')
    return this.bytes[this.pos++]
  }

  /** unsigned LEB128 up to 32 bits */
  u32 (): number {
    let result = 0
    let shift = 0
    for (let i = 0; i < 5; i++) {
      const b = this.byte()
      result += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) this.fail('u32 out of range')
        return result
      }
      shift += 7
    }
    return this.fail('u32 LEB128 too long')
  }

  /** unsigned LEB128 up to 64 bits, as a number (exact up to 2^53) */
  u64 (): number {
    let result = 0
    let shift = 0
    for (let i = 0; i < 10; i++) {
      const b = this.byte()
      result += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return result
      shift += 7
    }
    return this.fail('u64 LEB128 too long')
  }

  name (): string {
    const len = this.u32()
    if (this.pos + len > this.end) this.fail('name runs past the section')
    const start = this.pos
    this.pos += len
    // short ASCII names (nearly all of them) without a TextDecoder call
    if (len <= 64) {
      let ascii = true
      for (let i = start; i < start + len; i++) {
        if (this.bytes[i] >= 0x80) {
          ascii = false
          break
        }
      }
      if (ascii) return String.fromCharCode(...this.bytes.subarray(start, start + len))
    }
    const s = this.bytes.subarray(start, start + len)
    try {
      return UTF8.decode(s)
    } catch {
      return this.fail('name is not UTF-8')
    }
  }

  valtype (): ValType {
    const b = this.byte()
    const t = VALTYPES[b]
    if (t === undefined) this.fail(`unsupported value type 0x${b.toString(16)}`)
    return t
  }

  limits (what: 'memory' | 'table'): Limits {
    const flags = this.byte()
    if (what === 'memory') {
      if ((flags & 0x02) !== 0) this.fail('shared memories are not supported')
      if ((flags & 0x04) !== 0) this.fail('64-bit memories are not supported')
      if ((flags & ~0x01) !== 0) this.fail(`unknown memory limits flags 0x${flags.toString(16)}`)
    } else if ((flags & ~0x01) !== 0) {
      this.fail(`unsupported table limits flags 0x${flags.toString(16)}`)
    }
    const min = this.u32()
    if ((flags & 0x01) !== 0) return { min, max: this.u32() }
    return { min }
  }
}

/** Parse the sections this runtime cares about. Throws InvalidModuleError. */
export function parseModule (bytes: Uint8Array): ParsedModule {
  if (bytes.length < 8 || bytes[0] !== 0x00 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new InvalidModuleError('not a WebAssembly binary (bad magic)')
  }
  if (bytes[4] !== 0x01 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    throw new InvalidModuleError('unsupported WebAssembly binary version')
  }
  const out: ParsedModule = { sections: [], types: [], imports: [], functionTypes: [], tables: [], memories: [], exports: [], hasStart: false }
  const top = new Reader(bytes, 8, bytes.length)
  while (top.pos < bytes.length) {
    const headerStart = top.pos
    const id = top.byte()
    const size = top.u32()
    const start = top.pos
    const end = start + size
    if (end > bytes.length) top.fail(`section ${id} runs past the end of the module`)
    out.sections.push({ id, start, end, headerStart })
    const r = new Reader(bytes, start, end)
    switch (id) {
      case 1: readTypes(r, out); break
      case 2: readImports(r, out); break
      case 3: {
        const n = r.u32()
        for (let i = 0; i < n; i++) out.functionTypes.push(r.u32())
        break
      }
      case 4: {
        const n = r.u32()
        for (let i = 0; i < n; i++) {
          const b = r.byte()
          if (b !== 0x70 && b !== 0x6f) r.fail('unsupported table encoding')
          out.tables.push(r.limits('table'))
        }
        break
      }
      case 5: {
        const n = r.u32()
        for (let i = 0; i < n; i++) out.memories.push(r.limits('memory'))
        break
      }
      case 7: {
        const n = r.u32()
        for (let i = 0; i < n; i++) {
          const name = r.name()
          const k = r.byte()
          const kind = KINDS[k]
          if (kind === undefined) r.fail(`unknown export kind ${k}`)
          out.exports.push({ name, kind, index: r.u32() })
        }
        break
      }
      case 8: out.hasStart = true; break
      default: break
    }
    if ((id >= 1 && id <= 5) || id === 7) {
      if (r.pos !== end) r.fail(`section ${id} has trailing bytes`)
    }
    top.pos = end
  }
  return out
}

function readTypes (r: Reader, out: ParsedModule): void {
  const n = r.u32()
  for (let i = 0; i < n; i++) {
    const form = r.byte()
    if (form !== 0x60) r.fail(`unsupported type form 0x${form.toString(16)} (only function types)`)
    const np = r.u32()
    const params: ValType[] = []
    for (let j = 0; j < np; j++) params.push(r.valtype())
    const nr = r.u32()
    const results: ValType[] = []
    for (let j = 0; j < nr; j++) results.push(r.valtype())
    out.types.push({ params, results })
  }
}

function readImports (r: Reader, out: ParsedModule): void {
  const n = r.u32()
  for (let i = 0; i < n; i++) {
    const module = r.name()
    const name = r.name()
    const k = r.byte()
    switch (k) {
      case 0: {
        const typeIndex = r.u32()
        out.imports.push({ module, name, kind: 'func', typeIndex })
        out.functionTypes.push(typeIndex)
        break
      }
      case 1: r.byte(); r.limits('table'); out.imports.push({ module, name, kind: 'table' }); break
      case 2: r.limits('memory'); out.imports.push({ module, name, kind: 'memory' }); break
      case 3: r.valtype(); r.byte(); out.imports.push({ module, name, kind: 'global' }); break
      case 4: r.byte(); r.u32(); out.imports.push({ module, name, kind: 'tag' }); break
      default: r.fail(`unknown import kind ${k}`)
    }
  }
}

/** The signature of an exported function, or undefined if it is not a function export. */
export function exportedFuncType (m: ParsedModule, name: string): FuncType | undefined {
  const e = m.exports.find(x => x.name === name && x.kind === 'func')
  if (e === undefined) return undefined
  const ti = m.functionTypes[e.index]
  return ti === undefined ? undefined : m.types[ti]
}

export function sameSignature (t: FuncType, params: ValType[], results: ValType[]): boolean {
  return t.params.length === params.length && t.results.length === results.length &&
    t.params.every((p, i) => p === params[i]) && t.results.every((p, i) => p === results[i])
}

function writeU32 (out: number[], value: number): void {
  let v = value >>> 0
  do {
    let b = v & 0x7f
    v >>>= 7
    if (v !== 0) b |= 0x80
    out.push(b)
  } while (v !== 0)
}

function writeLimits (out: number[], l: Limits): void {
  if (l.max === undefined) {
    out.push(0x00)
    writeU32(out, l.min)
  } else {
    out.push(0x01)
    writeU32(out, l.min)
    writeU32(out, l.max)
  }
}

function clamp (l: Limits, cap: number, what: string): Limits {
  if (l.min > cap) {
    throw new MemoryLimitError(`${what} declares a minimum of ${l.min} but the limit is ${cap}`)
  }
  return { min: l.min, max: Math.min(l.max ?? cap, cap) }
}

export interface RewriteResult {
  bytes: Uint8Array
  memories: Limits[]
  tables: Limits[]
  changed: boolean
}

/**
 * Rebuild `bytes` with every defined memory's maximum set to at most
 * `maxMemoryPages` and every table's maximum to at most `maxTableEntries`.
 * A declared minimum above the limit is a MemoryLimitError. Sections other
 * than the table and memory sections are copied byte for byte.
 */
export function rewriteLimits (bytes: Uint8Array, parsed: ParsedModule, maxMemoryPages: number, maxTableEntries: number): RewriteResult {
  const memories = parsed.memories.map((l, i) => clamp(l, maxMemoryPages, `memory ${i} (pages)`))
  const tables = parsed.tables.map((l, i) => clamp(l, maxTableEntries, `table ${i} (entries)`))
  const changed = memories.some((l, i) => l.max !== parsed.memories[i].max) ||
    tables.some((l, i) => l.max !== parsed.tables[i].max)
  if (!changed) return { bytes, memories, tables, changed }

  const parts: Uint8Array[] = [bytes.subarray(0, 8)]
  let total = 8
  for (const s of parsed.sections) {
    if (s.id !== 4 && s.id !== 5) {
      const chunk = bytes.subarray(s.headerStart, s.end)
      parts.push(chunk)
      total += chunk.length
      continue
    }
    const payload: number[] = []
    if (s.id === 5) {
      writeU32(payload, memories.length)
      for (const l of memories) writeLimits(payload, l)
    } else {
      // re-read the reference types in order, writing clamped limits
      writeU32(payload, tables.length)
      const r = new Reader(bytes, s.start, s.end)
      r.u32()
      for (const l of tables) {
        payload.push(r.byte())
        r.limits('table')
        writeLimits(payload, l)
      }
    }
    const header: number[] = [s.id]
    writeU32(header, payload.length)
    const chunk = new Uint8Array(header.length + payload.length)
    chunk.set(header, 0)
    chunk.set(payload, header.length)
    parts.push(chunk)
    total += chunk.length
  }
  const outBytes = new Uint8Array(total)
  let off = 0
  for (const p of parts) {
    outBytes.set(p, off)
    off += p.length
  }
  return { bytes: outBytes, memories, tables, changed }
}
