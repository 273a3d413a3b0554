/* eslint-disable no-var, @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-function-type -- ambient declarations mirroring lib.dom */
/**
 * The subset of the WebAssembly JS API this folder uses. The project's
 * tsconfig has lib ES2023 only (no DOM), and @types/node does not declare
 * the global `WebAssembly` namespace, so it is declared here. If the
 * project ever adds the DOM lib, delete this file.
 */
declare namespace WebAssembly {
  type ImportExportKind = 'function' | 'global' | 'memory' | 'table' | 'tag'
  interface ModuleImportDescriptor { kind: ImportExportKind, module: string, name: string }
  interface ModuleExportDescriptor { kind: ImportExportKind, name: string }
  type ExportValue = Function | Global | Memory | Table
  type Exports = Record<string, ExportValue>
  type ImportValue = ExportValue | number | bigint
  type ModuleImports = Record<string, ImportValue>
  type Imports = Record<string, ModuleImports>
  type BufferSource = ArrayBufferView | ArrayBuffer

  interface Module {}
  var Module: {
    prototype: Module
    new (bytes: BufferSource): Module
    exports(module: Module): ModuleExportDescriptor[]
    imports(module: Module): ModuleImportDescriptor[]
    customSections(module: Module, sectionName: string): ArrayBuffer[]
  }

  interface Instance { readonly exports: Exports }
  var Instance: {
    prototype: Instance
    new (module: Module, importObject?: Imports): Instance
  }

  interface MemoryDescriptor { initial: number, maximum?: number, shared?: boolean }
  interface Memory {
    readonly buffer: ArrayBuffer
    grow(delta: number): number
  }
  var Memory: {
    prototype: Memory
    new (descriptor: MemoryDescriptor): Memory
  }

  interface Table { readonly length: number, get(index: number): unknown, grow(delta: number): number }
  var Table: { prototype: Table, new (descriptor: { element: string, initial: number, maximum?: number }): Table }

  interface Global { value: unknown, valueOf(): unknown }
  var Global: { prototype: Global, new (descriptor: { value: string, mutable?: boolean }, v?: unknown): Global }

  interface CompileError extends Error {}
  var CompileError: { prototype: CompileError, new (message?: string): CompileError }
  interface LinkError extends Error {}
  var LinkError: { prototype: LinkError, new (message?: string): LinkError }
  interface RuntimeError extends Error {}
  var RuntimeError: { prototype: RuntimeError, new (message?: string): RuntimeError }

  interface WebAssemblyInstantiatedSource { instance: Instance, module: Module }

  function validate(bytes: BufferSource): boolean
  function compile(bytes: BufferSource): Promise<Module>
  function instantiate(bytes: BufferSource, importObject?: Imports): Promise<WebAssemblyInstantiatedSource>
  function instantiate(moduleObject: Module, importObject?: Imports): Promise<Instance>
}
