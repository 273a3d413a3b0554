/**
 * Per-instance I/O state shared by the WASI and `dcis` host functions:
 * the request bytes (stdin), the bounded output (stdout) and the bounded,
 * truncating log (stderr). Runs inside a worker.
 */

/** Thrown through the wasm stack by proc_exit. */
export class ProcExit {
  constructor (readonly code: number) {}
}

/** Thrown through the wasm stack when the output would exceed its limit. */
export class OutputLimitExceeded {
  constructor (readonly limit: number) {}
}

export const DEFAULT_MAX_STDERR_BYTES = 16 * 1024

export class HostIo {
  input: Uint8Array = new Uint8Array(0)
  inputPos = 0
  private out: Uint8Array[] = []
  outLen = 0
  private err: Uint8Array[] = []
  errLen = 0
  errTruncated = false

  constructor (readonly maxOutputBytes: number, readonly maxStderrBytes = DEFAULT_MAX_STDERR_BYTES) {}

  reset (input: Uint8Array): void {
    this.input = input
    this.inputPos = 0
    this.out = []
    this.outLen = 0
    this.err = []
    this.errLen = 0
    this.errTruncated = false
  }

  /** copy `bytes` (a view into wasm memory) into the output; throws OutputLimitExceeded */
  writeOut (bytes: Uint8Array): void {
    if (this.outLen + bytes.length > this.maxOutputBytes) throw new OutputLimitExceeded(this.maxOutputBytes)
    if (bytes.length === 0) return
    this.out.push(bytes.slice())
    this.outLen += bytes.length
  }

  /** copy into the log, silently truncating at the limit */
  writeErr (bytes: Uint8Array): void {
    const room = this.maxStderrBytes - this.errLen
    if (room <= 0) {
      if (bytes.length > 0) this.errTruncated = true
      return
    }
    const take = Math.min(room, bytes.length)
    if (take < bytes.length) this.errTruncated = true
    this.err.push(bytes.slice(0, take))
    this.errLen += take
  }

  output (): Uint8Array {
    if (this.out.length === 1) return this.out[0]
    const buf = new Uint8Array(this.outLen)
    let off = 0
    for (const c of this.out) {
      buf.set(c, off)
      off += c.length
    }
    return buf
  }

  stderr (): string {
    if (this.errLen === 0) return ''
    const buf = new Uint8Array(this.errLen)
    let off = 0
    for (const c of this.err) {
      buf.set(c, off)
      off += c.length
    }
    const text = new TextDecoder().decode(buf)
    return this.errTruncated ? `${text}\n[stderr truncated at ${this.maxStderrBytes} bytes]` : text
  }
}

/** Bounds-checked access to a wasm memory; `null` when out of range. */
export function memBytes (memory: WebAssembly.Memory, ptr: number, len: number): Uint8Array | null {
  const p = ptr >>> 0
  const l = len >>> 0
  const buf = memory.buffer
  if (p + l > buf.byteLength) return null
  return new Uint8Array(buf, p, l)
}
