/**
 * Top self-time items of V8 CPU profiles (`node --cpu-prof`, e.g. from
 * `idle.ts --cpu-prof DIR`): sums the self time of every profile given (or
 * every *.cpuprofile under a directory), skipping the first --skip seconds
 * of each (start-up), and prints the top functions and the top packages.
 *   node --import tsx bench/scale/prof-top.ts DIR [--skip 60] [--top 30]
 */
import { readFile } from 'node:fs/promises'
import { arg } from './_mesh.js'
import { profileFiles } from './_profiles.js'
import type { Profile } from './_profiles.js'

function pkg (url: string): string {
  if (url === '') return '(native/vm)'
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  if (url.startsWith('node:')) return url
  const m = /\/(src|dist)\/(.*)$/.exec(url)
  return m != null ? `dcis:${m[2].split('/').slice(0, 2).join('/')}` : url
}

const paths = process.argv.slice(2).filter(a => !a.startsWith('--') && !/^\d+$/.test(a))
const skipUs = Number(arg('skip', '60')) * 1e6
const top = Number(arg('top', '30'))
const byFn = new Map<string, number>()
const byPkg = new Map<string, number>()
let total = 0
let wall = 0
let n = 0
for (const p of paths) {
  for (const f of await profileFiles(p)) {
    const prof = JSON.parse(await readFile(f, 'utf8')) as Profile
    const nodes = new Map(prof.nodes.map(x => [x.id, x]))
    let t = prof.startTime
    for (let i = 0; i < prof.samples.length; i++) {
      t += prof.timeDeltas[i]
      const dt = prof.timeDeltas[i + 1] ?? 0
      if (t - prof.startTime < skipUs) continue
      const node = nodes.get(prof.samples[i])
      if (node == null) continue
      const cf = node.callFrame
      if (cf.functionName === '(idle)') continue
      const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(src|dist)\//, '$1/')}:${cf.lineNumber + 1}`
      byFn.set(key, (byFn.get(key) ?? 0) + dt)
      const pk = pkg(cf.url)
      byPkg.set(pk, (byPkg.get(pk) ?? 0) + dt)
      total += dt
    }
    wall += Math.max(0, prof.endTime - prof.startTime - skipUs)
    n++
  }
}
const show = (m: Map<string, number>): Array<{ ms: number, pct: number, what: string }> =>
  [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([what, us]) => ({ ms: Math.round(us / 1000), pct: Math.round(1000 * us / total) / 10, what }))
process.stdout.write(JSON.stringify({ profiles: n, busyMs: Math.round(total / 1000), wallMs: Math.round(wall / 1000), busyPctOfWall: Math.round(1000 * total / Math.max(1, wall)) / 10 }) + '\n')
for (const r of show(byPkg)) process.stdout.write(`pkg ${r.pct.toFixed(1).padStart(5)} % ${String(r.ms).padStart(7)} ms  ${r.what}\n`)
for (const r of show(byFn)) process.stdout.write(`fn  ${r.pct.toFixed(1).padStart(5)} % ${String(r.ms).padStart(7)} ms  ${r.what}\n`)
