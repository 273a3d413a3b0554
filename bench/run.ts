/**
 * `npm run bench [-- FILTER...]`: runs every benchmark under bench/<area>/
 * (or those whose path contains a FILTER), each in its own process, and
 * prints one JSON object {results: {"<area>/<name>": <its JSON>}}.
 * Benchmarks print exactly one JSON object on stdout.
 */
import { spawn } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('.', import.meta.url))
const filters = process.argv.slice(2)

async function benchFiles (): Promise<string[]> {
  const out: string[] = []
  for (const area of (await readdir(root, { withFileTypes: true })).filter(d => d.isDirectory())) {
    for (const f of await readdir(join(root, area.name))) {
      if (f.endsWith('.ts') && !f.startsWith('_') && !f.endsWith('.d.ts')) out.push(join(root, area.name, f))
    }
  }
  return out.sort().filter(f => filters.length === 0 || filters.some(flt => relative(root, f).includes(flt)))
}

async function runOne (file: string): Promise<unknown> {
  const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'inherit'] })
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  const code = await new Promise<number | null>(resolve => { child.once('exit', resolve) })
  if (code !== 0) return { error: `exit code ${code}` }
  try {
    return JSON.parse(stdout.trim().split('\n').filter(l => l.startsWith('{')).pop() ?? 'null')
  } catch {
    return { error: 'did not print JSON', stdout: stdout.slice(0, 500) }
  }
}

const results: Record<string, unknown> = {}
for (const file of await benchFiles()) {
  const name = relative(root, file).replace(/\.ts$/, '')
  process.stderr.write(`bench: ${name}\n`)
  results[name] = await runOne(file)
}
process.stdout.write(JSON.stringify({ machine: { cpus: (await import('node:os')).cpus().length, node: process.version }, results }, null, 2) + '\n')
