/**
 * Shared by the wasm benchmarks: command-line options, percentiles and the
 * ~1 MB padded WASI echo module used for cold starts.
 */

const args = process.argv.slice(2)
const workersArg = args.indexOf('--workers')
export const quick = args.includes('--quick')
export const workers = workersArg >= 0 ? Number(args[workersArg + 1]) : 2

export function pct (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))]
}

export const r3 = (x: number): number => Math.round(x * 1000) / 1000

/**
 * a WASI echo (stdin to stdout, up to 60000 bytes) padded with `n` real
 * functions `(param $x i32) (result i32)`, all reachable through a table so
 * nothing is dead code; `body(i)` gives the instructions of function i
 */
export function paddedEchoWat (n: number, body: (i: number) => string): string {
  const fns: string[] = []
  for (let i = 0; i < n; i++) fns.push(`(func $f${i} (param $x i32) (result i32) ${body(i)} (local.get $x))`)
  return `(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (table ${n} funcref)
  (elem (i32.const 0) ${Array.from({ length: n }, (_, i) => `$f${i}`).join(' ')})
  ${fns.join('\n')}
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 60000))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    (i32.store (i32.const 4) (i32.load (i32.const 16)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))`
}
