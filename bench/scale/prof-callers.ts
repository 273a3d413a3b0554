/**
 * Who calls a hot function: for every sample whose leaf is --fn in the V8 CPU
 * profiles given (files or directories of *.cpuprofile, e.g. from `idle.ts
 * --cpu-prof DIR`), the chain of its --depth callers, summed over all
 * profiles after the first --skip seconds of each, top --top chains.
 * Complements prof-top.ts, which sums self time only.
 *   node --import tsx bench/scale/prof-callers.ts DIR --fn writeBuffer --skip 770 --depth 12
 */
import { readFile } from 'node:fs/promises'
import { arg } from './_mesh.js'
import { profileFiles } from './_profiles.js'
import type { Profile, ProfileNode } from './_profiles.js'

const fn = arg('fn', '')
if (fn === '') throw new Error('--fn NAME is required')
const skipUs = Number(arg('skip', '0')) * 1e6
const depth = Number(arg('depth', '8'))
const top = Number(arg('top', '15'))
const valued = new Set(['--fn', '--skip', '--depth', '--top'])
const argv = process.argv.slice(2)
const paths = argv.filter((a, i) => !a.startsWith('--') && !valued.has(argv[i - 1]))

const chains = new Map<string, number>()
for (const file of (await Promise.all(paths.map(profileFiles))).flat()) {
  const p = JSON.parse(await readFile(file, 'utf8')) as Profile
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  let t = p.startTime
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]
    if (t - p.startTime < skipUs || byId.get(p.samples[i])?.callFrame.functionName !== fn) continue
    const chain: string[] = []
    let id = p.samples[i]
    for (let d = 0; d < depth && parent.has(id); d++) {
      id = parent.get(id) as number
      const c = (byId.get(id) as ProfileNode).callFrame
      chain.push(`${c.functionName === '' ? '(anonymous)' : c.functionName}@${c.url.split('/').slice(-2).join('/')}:${c.lineNumber}`)
    }
    const key = chain.join(' < ')
    chains.set(key, (chains.get(key) ?? 0) + p.timeDeltas[i])
  }
}
const rows = [...chains].sort((a, b) => b[1] - a[1]).slice(0, top)
process.stdout.write(JSON.stringify({ fn, chains: rows.map(([chain, us]) => ({ ms: Math.round(us / 1000), chain })) }, null, 1) + '\n')
