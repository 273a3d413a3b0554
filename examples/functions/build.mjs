#!/usr/bin/env node
/* global process, console */
// Compiles the AssemblyScript example functions into build/*.wasm with the
// asc compiler from node_modules (its API, in-process: one compiler load
// for all targets). Usage: node examples/functions/build.mjs [--force]
// Skips a target whose .wasm is newer than every source file.
import { mkdirSync, readdirSync, statSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const out = join(here, 'build')

// WASI commands use the stub runtime (an instance runs once, nothing to
// free); the reactor is reused, so it gets a real allocator and GC.
// --use abort= turns AssemblyScript's abort() into a trap instead of an
// "env.abort" import, which the runtime would reject.
export const TARGETS = [
  { name: 'echo', entry: 'assembly/echo.ts', abi: 'wasi', args: ['--runtime', 'stub', '--exportStart', '_start'] },
  { name: 'sensor-filter', entry: 'assembly/sensor-filter.ts', abi: 'wasi', args: ['--runtime', 'stub', '--exportStart', '_start'] },
  { name: 'echo-v2', entry: 'assembly/echo-v2.ts', abi: 'wasi', args: ['--runtime', 'stub', '--exportStart', '_start'] },
  { name: 'failing', entry: 'assembly/failing.ts', abi: 'wasi', args: ['--runtime', 'stub', '--exportStart', '_start'] },
  { name: 'slow', entry: 'assembly/slow.ts', abi: 'wasi', args: ['--runtime', 'stub', '--exportStart', '_start'] },
  { name: 'sensor-reactor', entry: 'assembly/sensor-reactor.ts', abi: 'reactor', args: ['--runtime', 'incremental', '--exportStart', '_initialize'] },
  { name: 'iot-filter', entry: 'assembly/iot-filter.ts', abi: 'reactor', args: ['--runtime', 'incremental', '--exportStart', '_initialize'] },
  { name: 'host-probe', entry: 'assembly/host-probe.ts', abi: 'reactor', args: ['--runtime', 'incremental', '--exportStart', '_initialize'] }
]
const COMMON = ['-O3', '--noAssert', '--use', 'abort=', '--maximumMemory', '1024']

function newestSource (dir) {
  let newest = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs)
  }
  return newest
}

export async function build ({ force = false, quiet = false } = {}) {
  mkdirSync(out, { recursive: true })
  const srcTime = Math.max(newestSource(join(here, 'assembly')), statSync(fileURLToPath(import.meta.url)).mtimeMs)
  const built = []
  let asc
  for (const t of TARGETS) {
    const wasm = join(out, `${t.name}.wasm`)
    if (!force && existsSync(wasm) && statSync(wasm).mtimeMs > srcTime) {
      built.push(wasm)
      continue
    }
    asc ??= (await import('assemblyscript/asc')).default
    let log = ''
    const sink = { write: (chunk) => { log += String(chunk); return true } }
    const { error } = await asc.main([join(here, t.entry), '-o', wasm, ...COMMON, ...t.args], { stdout: sink, stderr: sink })
    if (error) throw new Error(`asc failed for ${t.name}: ${error.message}\n${log}`)
    if (!quiet) console.log(`built ${wasm}`)
    built.push(wasm)
  }
  return built
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  build({ force: process.argv.includes('--force') }).catch((err) => {
    console.error(err.message)
    process.exit(1)
  })
}
