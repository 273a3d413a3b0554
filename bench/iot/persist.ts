/**
 * The write path of an eventual service's replica in isolation (issue 18
 * follow-up): the cost of making `writes` log appends of `batch` entries
 * each durable on a real LevelDatastore, as the backend does (apply the
 * delta, then persist), with `concurrency` writers in flight:
 *
 *   npx tsx bench/iot/persist.ts [--writes 300] [--batch 2000] [--concurrency 4] [--durable true]
 *
 * - mode `snapshot`: the former path, every write stores the whole object
 *   snapshot (coalesced: writes queued while one is stored share the next);
 * - mode `log`: the current path (src/crdt/service/object.ts), every write
 *   appends its delta record, group-committed, compacted into a snapshot
 *   when the log outgrows the last one.
 * Prints one JSON object: entries/s, ms per write, commits, snapshots and
 * bytes written per mode; then recovers the `log` state from disk and
 * checks it holds every entry (recovery time included).
 */
import { parseArgs } from 'node:util'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir, loadavg } from 'node:os'
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { CoalescedWriter } from '../../src/crdt/service/coalesced-writer.js'
import { objectKey, ReplicatedObject } from '../../src/crdt/service/object.js'
import { encodeSnapshot, logAppend, logLength, SERVICE_SECTIONS } from '../../src/crdt/replication/index.js'
import type { Hlc } from '../../src/crdt/index.js'

const { values } = parseArgs({ options: { writes: { type: 'string', default: '300' }, batch: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '4' }, durable: { type: 'string', default: 'true' } } })
const writes = Number(values.writes)
const batch = Number(values.batch)
const concurrency = Number(values.concurrency)
const durable = values.durable !== 'false'

let wall = 1_700_000_000_000
function entries (): { ts: Hlc[], vals: string[] } {
  const ts: Hlc[] = []
  const vals: string[] = []
  for (let i = 0; i < batch; i++) {
    ts.push({ wall: wall++, logical: 0 })
    vals.push(`{"vehicle":"v-${i % 1000}","kind":"brake_temp","value":${100 + (i % 150)},"ts":${wall}}`)
  }
  return { ts, vals }
}

async function run (mode: 'snapshot' | 'log'): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), `dcis-persist-${mode}-`))
  const ds = new LevelDatastore(join(dir, 'db'))
  await ds.open()
  try {
    const obj = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds, { durable })
    let bytes = 0
    let snapshots = 0
    const db = (ds as unknown as { db: { put: (k: string, v: Uint8Array, o: { sync: boolean }) => Promise<void> } }).db
    const former = new CoalescedWriter(async () => {
      const snap = encodeSnapshot(obj.state, obj.clock)
      bytes += snap.length
      snapshots++
      if (durable) await db.put(objectKey('fleet').toString(), snap, { sync: true })
      else await ds.put(objectKey('fleet'), snap)
    })
    let next = 0
    const t0 = performance.now()
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < writes) {
        next++
        const { ts, vals } = entries()
        const d = logAppend(obj.state, 'peer-a', 'raw', ts, vals)
        obj.apply(d)
        obj.clock = ts[ts.length - 1]
        if (mode === 'log') await obj.persist(d)
        else await former.write()
      }
    }))
    const ms = performance.now() - t0
    const out: Record<string, unknown> = {
      entriesPerSecond: Math.round(writes * batch / (ms / 1000)),
      msPerWrite: Number((ms / writes).toFixed(2)),
      commits: mode === 'log' ? obj.stats.commits : snapshots,
      snapshots: mode === 'log' ? obj.stats.snapshots : snapshots,
      ...(mode === 'snapshot' ? { mbWritten: Number((bytes / 1e6).toFixed(1)) } : {})
    }
    if (mode === 'log') {
      const r0 = performance.now()
      const back = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds)
      await back.load()
      out.recoveryMs = Math.round(performance.now() - r0)
      out.recoveredEntries = logLength(back.state, 'raw')
      if (out.recoveredEntries !== writes * batch) throw new Error(`recovered ${String(out.recoveredEntries)} of ${writes * batch} entries`)
    }
    return out
  } finally {
    await ds.close()
    await rm(dir, { recursive: true, force: true })
  }
}

const log = await run('log')
const snapshot = await run('snapshot')
console.log(JSON.stringify({ bench: 'crdt-persist', writes, batch, concurrency, durable, log, snapshot, loadavg: loadavg().map(x => Number(x.toFixed(2))) }, null, 2))
