/**
 * Summarise a V8 heap snapshot (`node --heapsnapshot-signal=SIGUSR2`, or the
 * inspector): self size per node type and per constructor/string kind, top
 * --top (default 25), in MiB. Used to see where an idle peer's heap goes
 * (docs/performance.md, "Memory budget").
 *   node --import tsx bench/node/heap-top.ts FILE.heapsnapshot [--top 25]
 */
import { readFile } from 'node:fs/promises'
import { arg } from '../scale/_mesh.js'

interface Snapshot {
  snapshot: { meta: { node_fields: string[], node_types: [string[], ...unknown[]] }, node_count: number }
  nodes: number[]
  strings: string[]
}

const file = process.argv[2]
if (file == null || file.startsWith('--')) throw new Error('usage: heap-top.ts FILE.heapsnapshot [--top N]')
const top = Number(arg('top', '25'))
const snap = JSON.parse(await readFile(file, 'utf8')) as Snapshot
const fields = snap.snapshot.meta.node_fields
const types = snap.snapshot.meta.node_types[0]
const width = fields.length
const iType = fields.indexOf('type')
const iName = fields.indexOf('name')
const iSize = fields.indexOf('self_size')
const byType = new Map<string, [number, number]>()
const byName = new Map<string, [number, number]>()
let total = 0
const add = (m: Map<string, [number, number]>, k: string, size: number): void => {
  const e = m.get(k) ?? [0, 0]
  e[0] += size
  e[1]++
  m.set(k, e)
}
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + iType]]
  const size = snap.nodes[i + iSize]
  total += size
  add(byType, type, size)
  // objects by constructor; strings, code and arrays by kind (their names are contents)
  const name = type === 'object' || type === 'closure' || type === 'native' ? `${type} ${snap.strings[snap.nodes[i + iName]].slice(0, 60)}` : type
  add(byName, name, size)
}
const mib = (b: number): number => Math.round(b / 1048576 * 100) / 100
const list = (m: Map<string, [number, number]>): Array<{ what: string, MiB: number, count: number }> =>
  [...m].sort((a, b) => b[1][0] - a[1][0]).slice(0, top).map(([what, [size, count]]) => ({ what, MiB: mib(size), count }))
process.stdout.write(`{"totalMiB":${mib(total)},\n"byType":${JSON.stringify(list(byType))},\n"byConstructor":[\n${list(byName).map(r => JSON.stringify(r)).join(',\n')}\n]}\n`)
