/**
 * Throughput of the deterministic Raft core alone (no disk, no network):
 * a 3-voter in-memory cluster, 256-byte proposals at the leader, messages
 * delivered synchronously. Measures the CPU cost the core adds per committed
 * entry. Run: npx tsx bench/raft/core.ts [--entries N] [--batch B]
 */
import { createRaft, emptyConfState, MemoryLogStorage, StateType } from '../../src/raft/core/index.js'
import type { Message, RawNode } from '../../src/raft/core/index.js'

function arg (name: string, d: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : d
}

const ENTRIES = arg('entries', 200_000)
const BATCH = arg('batch', 64)
const ids = ['1', '2', '3']
const nodes = new Map<string, { raw: RawNode, s: MemoryLogStorage }>()
for (const id of ids) {
  const s = new MemoryLogStorage()
  s.applySnapshot({ metadata: { index: 1, term: 1, confState: { ...emptyConfState(), voters: ids } }, data: new Uint8Array() })
  nodes.set(id, { raw: createRaft({ id, storage: s, electionTick: 10, heartbeatTick: 1, maxInflightMsgs: 256, maxSizePerMsg: 1 << 20 }), s })
}
let inbox: Message[] = []
let applied = 0
function pump (): void {
  for (let round = 0; round < 100; round++) {
    let any = false
    for (const { raw, s } of nodes.values()) {
      if (!raw.hasReady()) continue
      any = true
      const rd = raw.ready()
      s.append(rd.entries)
      if (rd.hardState !== undefined) s.setHardState(rd.hardState)
      inbox.push(...rd.messages)
      if (raw.id === '1') applied += rd.committedEntries.length
      raw.advance()
    }
    const msgs = inbox
    inbox = []
    for (const m of msgs) nodes.get(m.to)!.raw.step(m)
    if (!any && msgs.length === 0) return
  }
}
const leader = nodes.get('1')!.raw
leader.campaign()
pump()
if (leader.status().softState.raftState !== StateType.Leader) throw new Error('no leader')
const payload = new Uint8Array(256)
const start = applied
const t0 = performance.now()
let proposed = 0
while (proposed < ENTRIES) {
  for (let i = 0; i < BATCH && proposed < ENTRIES; i++, proposed++) leader.propose(payload)
  pump()
}
const ms = performance.now() - t0
// keep memory bounded is not the point here; report the rate
console.log(JSON.stringify({
  bench: 'raft-core-inmemory',
  voters: 3,
  entryBytes: 256,
  batch: BATCH,
  entries: applied - start,
  seconds: Math.round(ms) / 1000,
  entriesPerSecond: Math.round((applied - start) / (ms / 1000))
}))
