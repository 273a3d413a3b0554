/**
 * A minimal WASI preview1 host, written for sandboxing rather than
 * compatibility: stdin/stdout/stderr are in-memory (HostIo), there are no
 * preopened directories (so every path call fails with EBADF / ENOTCAPABLE),
 * args are empty, the environment is empty unless granted, the clocks and
 * random_get answer ENOTCAPABLE unless granted, and every other function
 * answers ENOSYS. Runs inside a worker; never touches the real process.
 */
import { WASI_PREVIEW1_FUNCTIONS } from './abi.js'
import { ProcExit, memBytes } from './host-io.js'
import type { HostIo } from './host-io.js'

export const ERRNO = {
  SUCCESS: 0,
  BADF: 8,
  FAULT: 21,
  INVAL: 28,
  IO: 29,
  NOSYS: 52,
  SPIPE: 70,
  NOTCAPABLE: 76
} as const

export interface WasiGrants {
  clock: boolean
  random: boolean
  /** environment variables visible to the function (already filtered by the env grant) */
  env: Record<string, string>
  args: string[]
}

export interface WasiContext {
  io: HostIo
  /** set after instantiation */
  memory: WebAssembly.Memory | null
}

const enc = new TextEncoder()

type Fn = (...args: Array<number | bigint>) => number | undefined

/** Build the `wasi_snapshot_preview1` import object for one instance. */
export function createWasiImports (ctx: WasiContext, grants: WasiGrants): Record<string, Fn> {
  const mem = (): WebAssembly.Memory => {
    if (ctx.memory === null) throw new Error('WASI call before the memory export was bound')
    return ctx.memory
  }
  const view = (): DataView => new DataView(mem().buffer)
  const inBounds = (ptr: number, len: number): boolean => memBytes(mem(), ptr, len) !== null

  const envStrings = Object.entries(grants.env).map(([k, v]) => enc.encode(`${k}=${v}\0`))
  const argStrings = grants.args.map(a => enc.encode(`${a}\0`))

  const sizes = (list: Uint8Array[], countPtr: number, sizePtr: number): number => {
    if (!inBounds(countPtr, 4) || !inBounds(sizePtr, 4)) return ERRNO.FAULT
    const v = view()
    v.setUint32(countPtr >>> 0, list.length, true)
    v.setUint32(sizePtr >>> 0, list.reduce((n, s) => n + s.length, 0), true)
    return ERRNO.SUCCESS
  }
  const strings = (list: Uint8Array[], ptrsPtr: number, bufPtr: number): number => {
    const total = list.reduce((n, s) => n + s.length, 0)
    if (!inBounds(ptrsPtr, list.length * 4) || !inBounds(bufPtr, total)) return ERRNO.FAULT
    const v = view()
    const m = new Uint8Array(mem().buffer)
    let p = bufPtr >>> 0
    list.forEach((s, i) => {
      v.setUint32((ptrsPtr >>> 0) + i * 4, p, true)
      m.set(s, p)
      p += s.length
    })
    return ERRNO.SUCCESS
  }

  /** iterate an iovec array; returns null on a bad pointer */
  const iovecs = (iovs: number, count: number): Array<[number, number]> | null => {
    if (!inBounds(iovs, (count >>> 0) * 8)) return null
    const v = view()
    const out: Array<[number, number]> = []
    for (let i = 0; i < count >>> 0; i++) {
      const ptr = v.getUint32((iovs >>> 0) + i * 8, true)
      const len = v.getUint32((iovs >>> 0) + i * 8 + 4, true)
      if (!inBounds(ptr, len)) return null
      out.push([ptr, len])
    }
    return out
  }

  const clockNow = (id: number): bigint | null => {
    switch (id) {
      case 0: return BigInt(Date.now()) * 1_000_000n // realtime
      case 1: return process.hrtime.bigint() // monotonic
      case 2: case 3: return process.hrtime.bigint() // process / thread cputime: approximated
      default: return null
    }
  }

  const impl: Record<string, Fn> = {
    args_sizes_get: (c, s) => sizes(argStrings, c as number, s as number),
    args_get: (p, b) => strings(argStrings, p as number, b as number),
    environ_sizes_get: (c, s) => sizes(envStrings, c as number, s as number),
    environ_get: (p, b) => strings(envStrings, p as number, b as number),

    fd_read: (fd, iovs, count, nreadPtr) => {
      if (fd !== 0) return ERRNO.BADF
      const list = iovecs(iovs as number, count as number)
      if (list === null || !inBounds(nreadPtr as number, 4)) return ERRNO.FAULT
      const m = new Uint8Array(mem().buffer)
      let n = 0
      for (const [ptr, len] of list) {
        const avail = ctx.io.input.length - ctx.io.inputPos
        if (avail <= 0) break
        const take = Math.min(avail, len)
        m.set(ctx.io.input.subarray(ctx.io.inputPos, ctx.io.inputPos + take), ptr)
        ctx.io.inputPos += take
        n += take
      }
      view().setUint32((nreadPtr as number) >>> 0, n, true)
      return ERRNO.SUCCESS
    },
    fd_write: (fd, iovs, count, nwrittenPtr) => {
      if (fd !== 1 && fd !== 2) return ERRNO.BADF
      const list = iovecs(iovs as number, count as number)
      if (list === null || !inBounds(nwrittenPtr as number, 4)) return ERRNO.FAULT
      const buf = mem().buffer
      let n = 0
      for (const [ptr, len] of list) {
        const bytes = new Uint8Array(buf, ptr, len)
        if (fd === 1) ctx.io.writeOut(bytes) // throws OutputLimitExceeded
        else ctx.io.writeErr(bytes)
        n += len
      }
      view().setUint32((nwrittenPtr as number) >>> 0, n, true)
      return ERRNO.SUCCESS
    },
    fd_close: (fd) => ((fd as number) >>> 0) <= 2 ? ERRNO.SUCCESS : ERRNO.BADF,
    fd_fdstat_get: (fd, ptr) => {
      if (((fd as number) >>> 0) > 2) return ERRNO.BADF
      if (!inBounds(ptr as number, 24)) return ERRNO.FAULT
      const v = view()
      const p = (ptr as number) >>> 0
      v.setUint8(p, 2) // filetype: character device
      v.setUint16(p + 2, fd === 0 ? 0 : 1, true) // fdflags: append for stdout/stderr
      // rights: fd_read (bit 1) for stdin, fd_write (bit 6) for stdout/stderr
      v.setBigUint64(p + 8, fd === 0 ? 2n : 64n, true)
      v.setBigUint64(p + 16, 0n, true)
      return ERRNO.SUCCESS
    },
    fd_prestat_get: () => ERRNO.BADF, // no preopens
    fd_prestat_dir_name: () => ERRNO.BADF,
    fd_seek: (fd) => ((fd as number) >>> 0) <= 2 ? ERRNO.SPIPE : ERRNO.BADF,
    fd_tell: (fd) => ((fd as number) >>> 0) <= 2 ? ERRNO.SPIPE : ERRNO.BADF,
    fd_sync: (fd) => ((fd as number) >>> 0) <= 2 ? ERRNO.SUCCESS : ERRNO.BADF,
    fd_datasync: (fd) => ((fd as number) >>> 0) <= 2 ? ERRNO.SUCCESS : ERRNO.BADF,
    path_open: (fd) => ((fd as number) >>> 0) <= 2 ? ERRNO.NOTCAPABLE : ERRNO.BADF,

    clock_time_get: (id, _precision, outPtr) => {
      if (!grants.clock) return ERRNO.NOTCAPABLE
      const t = clockNow(id as number)
      if (t === null) return ERRNO.INVAL
      if (!inBounds(outPtr as number, 8)) return ERRNO.FAULT
      view().setBigUint64((outPtr as number) >>> 0, t, true)
      return ERRNO.SUCCESS
    },
    clock_res_get: (id, outPtr) => {
      if (!grants.clock) return ERRNO.NOTCAPABLE
      if (clockNow(id as number) === null) return ERRNO.INVAL
      if (!inBounds(outPtr as number, 8)) return ERRNO.FAULT
      view().setBigUint64((outPtr as number) >>> 0, 1000n, true)
      return ERRNO.SUCCESS
    },
    random_get: (ptr, len) => {
      if (!grants.random) return ERRNO.NOTCAPABLE
      const bytes = memBytes(mem(), ptr as number, len as number)
      if (bytes === null) return ERRNO.FAULT
      // getRandomValues refuses views over a (possibly shared) wasm buffer
      // larger than 64 KiB at once; fill through a scratch buffer
      const scratch = new Uint8Array(Math.min(bytes.length, 65536))
      for (let off = 0; off < bytes.length; off += scratch.length) {
        const n = Math.min(scratch.length, bytes.length - off)
        crypto.getRandomValues(scratch.subarray(0, n))
        bytes.set(scratch.subarray(0, n), off)
      }
      return ERRNO.SUCCESS
    },
    sched_yield: () => ERRNO.SUCCESS,
    proc_exit: (code) => {
      throw new ProcExit((code as number) >>> 0)
    },
    proc_raise: () => ERRNO.NOSYS
  }

  const out: Record<string, Fn> = {}
  for (const name of WASI_PREVIEW1_FUNCTIONS) {
    out[name] = impl[name] ?? (() => ERRNO.NOSYS)
  }
  return out
}
