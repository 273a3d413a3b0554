/**
 * Cost of the sink's dot marks (src/sinks/marks.ts) on one window: a log
 * of N entries from 3 replicas, a mark covering all but the newest 1,000,
 * then alog.readUncovered (every entry no mark covers, late ones included)
 * and advanceMark; also the mark's size in JSON and the first window of a
 * fresh sink (nothing covered). In-process, the shipper's CPU per window.
 *
 *   npx tsx bench/iot/sink-marks.ts [--entries 100000,1000000]
 */
import { parseArgs } from 'node:util'
import { alog } from '../../src/crdt/index.js'
import type { ALog } from '../../src/crdt/index.js'
import { advanceMark, covers, emptyMark } from '../../src/sinks/index.js'

const { values } = parseArgs({ options: { entries: { type: 'string', default: '100000,1000000' } } })
const results: unknown[] = []
for (const n of values.entries.split(',').map(Number)) {
  let s: ALog = alog.bottom()
  const replicas = ['peer-a', 'peer-b', 'peer-c']
  const per = 10_000
  for (let i = 0; i < n; i += per) {
    const r = replicas[(i / per) % 3]
    const k = Math.min(per, n - i)
    s = alog.join(s, alog.append(s, r, Array.from({ length: k }, (_, j) => ({ wall: 1_000_000 + i + j, logical: 0 })), Array.from({ length: k }, (_, j) => `e${i + j}`)))
  }
  const time = <T>(f: () => T): { ms: number, v: T } => { const t = process.hrtime.bigint(); const v = f(); return { ms: Number(process.hrtime.bigint() - t) / 1e6, v } }
  // a fresh sink: nothing covered
  const first = time(() => alog.readUncovered(s, (p) => covers(emptyMark(), p.replica, p.counter), { toMs: 1_000_000 + n - 1000, limit: 200_000 }))
  const firstMark = time(() => advanceMark(emptyMark(), first.v.entries, first.v.seen, first.v.held))
  // steady state: everything shipped but the newest 1000 entries
  const all = alog.readUncovered(s, () => false, { toMs: 1_000_000 + n - 1000 })
  const mark = advanceMark(emptyMark(), all.entries, all.seen, all.held)
  const steady = time(() => alog.readUncovered(s, (p) => covers(mark, p.replica, p.counter), { toMs: 1_000_000 + n, limit: 200_000 }))
  const steadyMark = time(() => advanceMark(mark, steady.v.entries, steady.v.seen, steady.v.held))
  results.push({
    entries: n,
    firstWindow: { shipped: first.v.entries.length, readMs: Math.round(first.ms), markMs: Math.round(firstMark.ms) },
    steadyWindow: { shipped: steady.v.entries.length, readMs: Math.round(steady.ms), markMs: Math.round(steadyMark.ms * 100) / 100 },
    markBytes: JSON.stringify(steadyMark.v).length
  })
}
console.log(JSON.stringify({ bench: 'iot-sink-marks', results }, null, 2))
