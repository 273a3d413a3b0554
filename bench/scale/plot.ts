/**
 * The cost-growth plot of docs/scale.md: reads idle.ts and propagation.ts
 * outputs (JSON, one object per file) and writes one standalone SVG with
 * three panels against the number of peers: CPU per peer (% of a core),
 * background bytes/s per peer and RSS per peer (MiB), and END propagation
 * (join and change, time to 95 % of the peers; DHT lookup p95).
 *   node --import tsx bench/scale/plot.ts OUT.svg idle.json prop.json ...
 * (several rows for one N: the one from the later file is drawn)
 */
import { readFile, writeFile } from 'node:fs/promises'
import { svgPlot } from '../../src/sim/html.js'

type Plot = Parameters<typeof svgPlot>[0]
interface Stat { mean: number, p50: number, p95: number }
interface IdleRow { nodes: number, cpuPctOfCorePerPeer: Stat, rssMiB: Stat, backgroundBytesPerSecPerPeer: Stat | null }
interface PropRow { nodes: number, join: { p95ReachMs: number | null }, change: { p95ReachMs?: number | null }, dhtLookupMs: Stat | null }

const [out, ...files] = process.argv.slice(2)
if (out == null || files.length === 0) throw new Error('usage: plot.ts OUT.svg RESULT.json...')
// one row per N and kind: a later file's row replaces an earlier one's
const idleBy = new Map<number, IdleRow>()
const propBy = new Map<number, PropRow>()
for (const f of files) {
  const doc = JSON.parse(await readFile(f, 'utf8')) as { rows: Array<IdleRow | PropRow> }
  for (const r of doc.rows) {
    if ('cpuPctOfCorePerPeer' in r) idleBy.set(r.nodes, r)
    else if ('join' in r) propBy.set(r.nodes, r)
  }
}
const idle = [...idleBy.values()]
const prop = [...propBy.values()]
const by = <T extends { nodes: number }>(rows: T[]): T[] => [...rows].sort((a, b) => a.nodes - b.nodes)
const pts = <T extends { nodes: number }>(rows: T[], f: (r: T) => number | null | undefined): Array<[number, number]> =>
  by(rows).flatMap(r => { const v = f(r); return v == null ? [] : [[r.nodes, v] as [number, number]] })

const xMax = 50
const plots: Plot[] = [
  {
    id: 'cpu',
    title: 'Idle CPU per peer (% of one core)',
    xLabel: 'peers',
    yLabel: '% of a core',
    xMax,
    series: [
      { name: 'mean', points: pts(idle, r => r.cpuPctOfCorePerPeer.mean) },
      { name: 'p95', points: pts(idle, r => r.cpuPctOfCorePerPeer.p95) }
    ]
  },
  {
    id: 'bytes',
    title: 'Background traffic per peer (bytes/s) and RSS per peer (MiB)',
    xLabel: 'peers',
    yLabel: 'bytes/s | MiB',
    xMax,
    series: [
      { name: 'bytes/s mean', points: pts(idle, r => r.backgroundBytesPerSecPerPeer?.mean) },
      { name: 'bytes/s p95', points: pts(idle, r => r.backgroundBytesPerSecPerPeer?.p95) },
      { name: 'RSS MiB mean', points: pts(idle, r => r.rssMiB.mean) }
    ]
  },
  {
    id: 'propagation',
    title: 'END propagation: time to 95 % of the peers; DHT lookup p95 (ms)',
    xLabel: 'peers',
    yLabel: 'ms',
    xMax,
    series: [
      { name: 'join, 95 %', points: pts(prop, r => r.join.p95ReachMs) },
      { name: 'change, 95 %', points: pts(prop, r => r.change.p95ReachMs) },
      { name: 'DHT lookup p95', points: pts(prop, r => r.dhtLookupMs?.p95) }
    ]
  }
]
const H = 280
const style = '<style>.title{font:bold 13px sans-serif}.tick,.legend{font:11px sans-serif}.label{font:12px sans-serif}.grid{stroke:#e5e5e5}.empty{font:12px sans-serif;fill:#999}</style>'
const body = plots.map((p, i) => `<g transform="translate(0 ${i * H})">${svgPlot(p).replace(/^<svg[^>]*>/, '').replace(/<\/svg>$/, '')}</g>`).join('')
await writeFile(out, `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="${H * plots.length}" viewBox="0 0 720 ${H * plots.length}"><rect width="100%" height="100%" fill="#fff"/>${style}${body}</svg>\n`)
process.stdout.write(`${out}: ${idle.length} idle rows, ${prop.length} propagation rows\n`)
