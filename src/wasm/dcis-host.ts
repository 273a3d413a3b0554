/**
 * The `dcis` host import module (see docs/wasm-abi.md): output and log
 * writes for functions that do not use WASI. Runs inside a worker.
 */
import { memBytes } from './host-io.js'
import type { WasiContext } from './wasi-host.js'

export class HostFault {
  constructor (readonly message: string) {}
}

export function createDcisImports (ctx: WasiContext): Record<string, (ptr: number, len: number) => void> {
  const bytes = (ptr: number, len: number, fn: string): Uint8Array => {
    if (ctx.memory === null) throw new HostFault(`dcis.${fn} called before the memory export was bound`)
    const b = memBytes(ctx.memory, ptr, len)
    if (b === null) throw new HostFault(`dcis.${fn}(${ptr >>> 0}, ${len >>> 0}) is out of bounds`)
    return b
  }
  return {
    write_output: (ptr, len) => { ctx.io.writeOut(bytes(ptr, len, 'write_output')) },
    log: (ptr, len) => { ctx.io.writeErr(bytes(ptr, len, 'log')) }
  }
}
