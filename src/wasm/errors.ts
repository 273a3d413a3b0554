/**
 * Typed errors of the Wasm runtime. Every error has a stable `name` and
 * `code`; the HTTP layer maps them to status codes (see `statusFor` hints
 * in the comments), nothing matches on message text.
 */

export type WasmErrorCode =
  | 'INVALID_MODULE' // 400
  | 'MODULE_TOO_LARGE' // 413
  | 'DISALLOWED_IMPORT' // 400
  | 'MISSING_EXPORT' // 400
  | 'MEMORY_LIMIT' // 400 at load (declared minimum above limit), 500-ish at run (function's fault: 422)
  | 'INVALID_SPEC' // 400
  | 'FUNCTION_NOT_FOUND' // 404
  | 'FUNCTION_TIMEOUT' // 504
  | 'OUTPUT_TOO_LARGE' // 413/502
  | 'FUNCTION_TRAP' // 502 (the function's fault, not the node's)
  | 'FUNCTION_FAILED' // 502 non-zero exit / non-zero handle_event status
  | 'OVERLOADED' // 429 (per-function limit) / 503 (peer queue full)
  | 'ABORTED' // 499
  | 'RUNTIME_STOPPED' // 503
  | 'WORKER_CRASHED' // 500
  | 'INPUT_TOO_LARGE' // 413

export class WasmError extends Error {
  readonly code: WasmErrorCode
  constructor (code: WasmErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'WasmError'
    this.code = code
  }
}

/** Bytes are not a valid WebAssembly module, or its structure is unusable. */
export class InvalidModuleError extends WasmError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('INVALID_MODULE', message, options)
    this.name = 'InvalidModuleError'
  }
}

export class ModuleTooLargeError extends WasmError {
  readonly size: number
  readonly limit: number
  constructor (size: number, limit: number) {
    super('MODULE_TOO_LARGE', `module is ${size} bytes, the limit is ${limit} bytes`)
    this.name = 'ModuleTooLargeError'
    this.size = size
    this.limit = limit
  }
}

export class DisallowedImportError extends WasmError {
  readonly module: string
  readonly field: string
  constructor (module: string, field: string, reason: string) {
    super('DISALLOWED_IMPORT', `import "${module}"."${field}" is not allowed: ${reason}`)
    this.name = 'DisallowedImportError'
    this.module = module
    this.field = field
  }
}

export class MissingExportError extends WasmError {
  readonly export: string
  readonly abi: string
  constructor (exportName: string, abi: string, detail = 'is missing') {
    super('MISSING_EXPORT', `export "${exportName}" required by the ${abi} ABI ${detail}`)
    this.name = 'MissingExportError'
    this.export = exportName
    this.abi = abi
  }
}

/** The module declares more memory than its limit allows (raised at load). */
export class MemoryLimitError extends WasmError {
  constructor (message: string) {
    super('MEMORY_LIMIT', message)
    this.name = 'MemoryLimitError'
  }
}

/** A FunctionSpec field is malformed; `field` names it. */
export class InvalidSpecError extends WasmError {
  readonly field: string
  constructor (field: string, message: string) {
    super('INVALID_SPEC', `${field}: ${message}`)
    this.name = 'InvalidSpecError'
    this.field = field
  }
}

export class FunctionNotFoundError extends WasmError {
  readonly id: string
  constructor (id: string) {
    super('FUNCTION_NOT_FOUND', `function ${id} is not loaded`)
    this.name = 'FunctionNotFoundError'
    this.id = id
  }
}

export class FunctionTimeoutError extends WasmError {
  readonly timeoutMs: number
  constructor (id: string, timeoutMs: number) {
    super('FUNCTION_TIMEOUT', `function ${id} ran longer than ${timeoutMs} ms and was terminated`)
    this.name = 'FunctionTimeoutError'
    this.timeoutMs = timeoutMs
  }
}

export class OutputTooLargeError extends WasmError {
  readonly limit: number
  constructor (limit: number) {
    super('OUTPUT_TOO_LARGE', `function output exceeded the limit of ${limit} bytes`)
    this.name = 'OutputTooLargeError'
    this.limit = limit
  }
}

/** The module trapped (unreachable, out-of-bounds access, memory exhausted, ...). */
export class FunctionTrapError extends WasmError {
  readonly stderr: string
  constructor (message: string, stderr = '') {
    super('FUNCTION_TRAP', `function trapped: ${message}`)
    this.name = 'FunctionTrapError'
    this.stderr = stderr
  }
}

/** A WASI command exited non-zero, or a reactor's handle_event returned non-zero. */
export class FunctionFailedError extends WasmError {
  readonly exitCode: number
  readonly stderr: string
  readonly output: Uint8Array
  constructor (exitCode: number, stderr: string, output: Uint8Array) {
    super('FUNCTION_FAILED', `function exited with code ${exitCode}${stderr.length > 0 ? `: ${stderr.slice(0, 200)}` : ''}`)
    this.name = 'FunctionFailedError'
    this.exitCode = exitCode
    this.stderr = stderr
    this.output = output
  }
}

/**
 * Too much work for this function (its running invocations are at
 * maxConcurrency and its queue is full) or from this caller (its
 * invocations in the runtime are at maxPerCaller): HTTP 429. The peer-wide
 * case is the subclass PeerOverloadedError (HTTP 503); `scope` says which.
 */
export class OverloadedError extends WasmError {
  readonly scope: 'function' | 'peer' | 'caller'
  constructor (scope: 'function' | 'peer' | 'caller', message: string) {
    super('OVERLOADED', message)
    this.name = 'OverloadedError'
    this.scope = scope
  }
}

/** The runtime's own queue is full, whatever the function (HTTP 503). */
export class PeerOverloadedError extends OverloadedError {
  constructor (message: string) {
    super('peer', message)
    this.name = 'PeerOverloadedError'
  }
}

export class AbortedError extends WasmError {
  constructor (message = 'invocation aborted') {
    super('ABORTED', message)
    this.name = 'AbortError'
  }
}

export class RuntimeStoppedError extends WasmError {
  constructor () {
    super('RUNTIME_STOPPED', 'the wasm runtime is not running')
    this.name = 'RuntimeStoppedError'
  }
}

export class WorkerCrashedError extends WasmError {
  constructor (message: string) {
    super('WORKER_CRASHED', `wasm worker crashed: ${message}`)
    this.name = 'WorkerCrashedError'
  }
}

export class InputTooLargeError extends WasmError {
  readonly size: number
  readonly limit: number
  constructor (size: number, limit: number) {
    super('INPUT_TOO_LARGE', `request is ${size} bytes, the limit is ${limit} bytes`)
    this.name = 'InputTooLargeError'
    this.size = size
    this.limit = limit
  }
}

/**
 * Suggested HTTP statuses by error name, for the API layer's error table
 * (a function's own faults are 502, as from an upstream; its timeout 504).
 */
export const WASM_ERROR_STATUS: Readonly<Record<string, number>> = Object.freeze({
  InvalidModuleError: 400,
  DisallowedImportError: 400,
  MissingExportError: 400,
  MemoryLimitError: 400,
  InvalidSpecError: 400,
  ModuleTooLargeError: 413,
  InputTooLargeError: 413,
  FunctionNotFoundError: 404,
  FunctionFailedError: 422,
  OverloadedError: 429,
  PeerOverloadedError: 503,
  FunctionTrapError: 502,
  OutputTooLargeError: 502,
  FunctionTimeoutError: 504,
  AbortError: 503,
  RuntimeStoppedError: 503,
  WorkerCrashedError: 500
})
