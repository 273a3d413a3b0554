// Minimal WASI stdio for AssemblyScript commands: read all of stdin, write
// to stdout/stderr, exit. No wasi-shim: the imports are declared in
// ./wasi_snapshot_preview1.ts.
import { fd_read, fd_write, proc_exit } from './wasi_snapshot_preview1'

/** A byte range in linear memory. */
export class Bytes {
  constructor (public ptr: usize, public len: usize) {}
}

const scratch = heap.alloc(16)

/** Read stdin to its end into one growing buffer. */
export function readStdin (): Bytes {
  let cap: usize = 65536
  let buf = heap.alloc(cap)
  let len: usize = 0
  while (true) {
    if (cap - len < 16384) {
      cap *= 2
      buf = heap.realloc(buf, cap)
    }
    store<u32>(scratch, <u32>(buf + len))
    store<u32>(scratch, <u32>(cap - len), 4)
    const errno = fd_read(0, scratch, 1, scratch + 8)
    if (errno !== 0) exitWith(2, 'fd_read failed')
    const n = <usize>load<u32>(scratch, 8)
    if (n === 0) break
    len += n
  }
  return new Bytes(buf, len)
}

/** Write all of [ptr, ptr+len) to a file descriptor. */
export function writeAll (fd: u32, ptr: usize, len: usize): void {
  while (len > 0) {
    store<u32>(scratch, <u32>ptr)
    store<u32>(scratch, <u32>len, 4)
    const errno = fd_write(fd, scratch, 1, scratch + 8)
    if (errno !== 0) proc_exit(3)
    const n = <usize>load<u32>(scratch, 8)
    if (n === 0) proc_exit(3)
    ptr += n
    len -= n
  }
}

export function writeString (fd: u32, s: string): void {
  const b = String.UTF8.encode(s)
  writeAll(fd, changetype<usize>(b), <usize>b.byteLength)
}

/** Print a message on stderr and exit with `code`. */
export function exitWith (code: u32, message: string): void {
  writeString(2, message + '\n')
  proc_exit(code)
}
