/**
 * Deploy-time checks of a function module: size, `WebAssembly.validate`,
 * allowed imports, the exports the ABI requires, and memory limits. The
 * result carries the bytes actually run: the module with every memory's
 * maximum clamped to the memory limit (see binary.ts).
 */
import { ALLOWED_IMPORT_MODULES, DCIS_FUNCTIONS, DCIS_MODULE, OPTIONAL_EXPORTS, REQUIRED_EXPORTS, WASI_MODULE, WASI_PREVIEW1_FUNCTIONS } from './abi.js'
import { exportedFuncType, parseModule, rewriteLimits, sameSignature, WASM_PAGE_BYTES } from './binary.js'
import { DisallowedImportError, InvalidModuleError, MissingExportError, ModuleTooLargeError } from './errors.js'
import type { Abi } from './abi.js'
import type { Limits, ParsedModule } from './binary.js'

export const DEFAULT_MAX_MODULE_BYTES = 5 * 1024 * 1024
export const DEFAULT_MEMORY_MB = 64
/** the wasm32 ceiling: 65536 pages */
export const MAX_MEMORY_MB = 4096
export const DEFAULT_MAX_TABLE_ENTRIES = 65536

export interface ValidateOptions {
  abi: Abi
  /** default 5 MiB */
  maxModuleBytes?: number
  /** default 64 */
  memoryMb?: number
  /** default 65536 */
  maxTableEntries?: number
  /**
   * run WebAssembly.validate first (default true). A caller that compiles
   * the result right away may pass false: compilation validates the same
   * way, and a module is then not validated twice.
   */
  engineValidate?: boolean
}

export interface ValidatedModule {
  abi: Abi
  /** the module as it will run (limits rewritten); equal to the input when nothing changed */
  bytes: Uint8Array
  memoryPages: number
  memories: Limits[]
  parsed: ParsedModule
  /** the names of the exports the runtime uses that the module has */
  optionalExports: string[]
}

/** Validate a function module for `abi`; throws a typed WasmError. */
export function validateModule (bytes: Uint8Array, options: ValidateOptions): ValidatedModule {
  const maxBytes = options.maxModuleBytes ?? DEFAULT_MAX_MODULE_BYTES
  if (bytes.byteLength > maxBytes) throw new ModuleTooLargeError(bytes.byteLength, maxBytes)
  if (bytes.byteLength === 0) throw new InvalidModuleError('module is empty')
  if (options.engineValidate !== false && !WebAssembly.validate(bytes)) {
    // try to say why: the engine's message is the most precise
    let why = 'WebAssembly.validate rejected the bytes'
    try {
      new WebAssembly.Module(bytes)
    } catch (err) {
      why = (err as Error).message
    }
    throw new InvalidModuleError(why)
  }
  const parsed = parseModule(bytes)
  const { abi } = options

  const allowed = ALLOWED_IMPORT_MODULES[abi]
  for (const imp of parsed.imports) {
    if (!allowed.includes(imp.module)) {
      throw new DisallowedImportError(imp.module, imp.name, `the ${abi} ABI allows imports only from ${allowed.map(m => `"${m}"`).join(', ')}`)
    }
    if (imp.kind !== 'func') {
      throw new DisallowedImportError(imp.module, imp.name, `only functions may be imported, not a ${imp.kind}`)
    }
    if (imp.module === WASI_MODULE && !WASI_PREVIEW1_FUNCTIONS.has(imp.name)) {
      throw new DisallowedImportError(imp.module, imp.name, 'not a WASI preview1 function')
    }
    if (imp.module === DCIS_MODULE) {
      const sig = DCIS_FUNCTIONS.get(imp.name)
      if (sig === undefined) throw new DisallowedImportError(imp.module, imp.name, 'no such host function')
      const t = parsed.types[imp.typeIndex ?? -1]
      if (t === undefined || !sameSignature(t, sig.params, sig.results)) {
        throw new DisallowedImportError(imp.module, imp.name, `signature must be (${sig.params.join(', ')}) -> (${sig.results.join(', ')})`)
      }
    }
  }
  if (parsed.hasStart) {
    throw new InvalidModuleError(`a start section is not allowed (it would run at instantiation, outside any time limit); export ${abi === 'wasi' ? '_start' : '_initialize'} instead`)
  }

  for (const req of REQUIRED_EXPORTS[abi]) checkExport(parsed, abi, req, true)
  const optionalExports: string[] = []
  for (const opt of OPTIONAL_EXPORTS[abi]) {
    if (checkExport(parsed, abi, opt, false)) optionalExports.push(opt.name)
  }
  if (parsed.memories.length !== 1) {
    throw new InvalidModuleError(`module must define exactly one memory, it defines ${parsed.memories.length}`)
  }

  const memoryMb = options.memoryMb ?? DEFAULT_MEMORY_MB
  const memoryPages = Math.floor(memoryMb * 1024 * 1024 / WASM_PAGE_BYTES)
  const rewritten = rewriteLimits(bytes, parsed, memoryPages, options.maxTableEntries ?? DEFAULT_MAX_TABLE_ENTRIES)
  return { abi, bytes: rewritten.bytes, memoryPages, memories: rewritten.memories, parsed, optionalExports }
}

function checkExport (parsed: ParsedModule, abi: Abi, req: { name: string, kind: 'func' | 'memory', params?: string[], results?: string[] }, required: boolean): boolean {
  const e = parsed.exports.find(x => x.name === req.name)
  if (e === undefined) {
    if (required) throw new MissingExportError(req.name, abi)
    return false
  }
  if (e.kind !== req.kind) throw new MissingExportError(req.name, abi, `must be a ${req.kind}, it is a ${e.kind}`)
  if (req.kind === 'func') {
    const t = exportedFuncType(parsed, req.name)
    const params = req.params as Parameters<typeof sameSignature>[1]
    const results = req.results as Parameters<typeof sameSignature>[2]
    if (t === undefined || !sameSignature(t, params, results)) {
      throw new MissingExportError(req.name, abi, `must have the signature (${params.join(', ')}) -> (${results.join(', ')})`)
    }
  }
  return true
}
