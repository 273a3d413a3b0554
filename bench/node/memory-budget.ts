/**
 * Memory budget per capability: runs bench/node/_memory-steps.mjs (plain
 * Node 24, --expose-gc, the peer's `--max-semi-space-size=8`) --runs times,
 * each in a fresh process that imports the built peer (dist/) capability by
 * capability in start order, and prints per step the median RSS, V8 heap
 * used, code space, external memory and module count, with each step's
 * delta over the previous one. Code and its static data only: the running
 * state of a peer (connections, caches, registry) comes on top, see
 * docs/performance.md.
 *   node --import tsx bench/node/memory-budget.ts [--runs 3]
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { arg, load } from '../scale/_mesh.js'

interface Row { what: string, rss: number, heapUsed: number, heapTotal: number, code: number, external: number, modules: number }

const runs = Number(arg('runs', '3'))
const child = fileURLToPath(new URL('./_memory-steps.mjs', import.meta.url))
const all: Row[][] = []
const loadBefore = load()
for (let r = 0; r < runs; r++) {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--max-semi-space-size=8', child], { maxBuffer: 1 << 20 })
  all.push(JSON.parse(stdout) as Row[])
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const mib = (b: number): number => Math.round(b / 1048576 * 10) / 10
const keys = ['rss', 'heapUsed', 'code', 'external'] as const
const rows = all[0].map((row, i) => {
  const med = Object.fromEntries(keys.map(k => [k, median(all.map(run => run[i][k]))])) as Record<typeof keys[number], number>
  const prev = i === 0 ? undefined : Object.fromEntries(keys.map(k => [k, median(all.map(run => run[i - 1][k]))])) as Record<typeof keys[number], number>
  return {
    what: row.what,
    modules: row.modules,
    MiB: Object.fromEntries(keys.map(k => [k, mib(med[k])])),
    deltaMiB: prev == null ? null : Object.fromEntries(keys.map(k => [k, mib(med[k] - prev[k])]))
  }
})
// one line per step, so the table reads in a terminal
process.stdout.write(`{"runs":${runs},"load":${JSON.stringify({ before: loadBefore, after: load() })},"rows":[\n${rows.map(r => JSON.stringify(r)).join(',\n')}\n]}\n`)
