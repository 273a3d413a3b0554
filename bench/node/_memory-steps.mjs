// Child of bench/node/memory-budget.ts (run by plain Node with --expose-gc,
// no tsx, so the loader costs nothing): imports the peer's capabilities in
// start order into ONE process and prints, after each step and a full GC,
// RSS, V8 heap used, code space, external memory and the modules loaded so
// far. The steps are cumulative, so each line's delta is what that
// capability adds on top of the ones before it (shared dependencies are
// counted where first loaded) and the deltas add up to the whole peer.
import { registerHooks } from 'node:module'
import { getHeapSpaceStatistics } from 'node:v8'
import process from 'node:process'
import { setTimeout } from 'node:timers'
import { URL } from 'node:url'

const dist = new URL('../../dist/', import.meta.url)
const urls = new Set()
registerHooks({ load (url, context, next) { if (url.startsWith('file:')) urls.add(url); return next(url, context) } })

const steps = [
  ['telemetry (pino, prom-client, OpenTelemetry API)', ['telemetry/index.js']],
  ['identity, config (typebox, yaml, ajv)', ['identity/index.js', 'config/validate.js', 'config/file-source.js']],
  ['libp2p stack (tcp, noise, yamux, kad-dht, gossipsub, metrics)', ['node/libp2p.js']],
  ['helia + stores (bitswap, LevelDB, blockstore-fs)', ['storage/index.js']],
  ['registry, latency, scheduler', ['registry/index.js', 'latency/service/index.js', 'scheduler/index.js']],
  ['raft (core, WAL storage, transport, kv service)', ['raft/service/index.js', 'raft/node/index.js', 'raft/storage/index.js', 'raft/transport/index.js']],
  ['crdt (types, replication, service; automerge stays lazy)', ['crdt/index.js', 'crdt/service/index.js']],
  ['wasm runtime module (no worker yet)', ['wasm/index.js']],
  ['HTTP API (fastify, swagger, routes)', ['api/index.js']],
  ['the rest of the peer (mesh-node, CLI)', ['node/mesh-node.js', 'cli/program.js']]
]

function gc () { for (let i = 0; i < 3; i++) globalThis.gc() }
function sample (what) {
  gc()
  const m = process.memoryUsage()
  const code = getHeapSpaceStatistics().find(s => s.space_name === 'code_space')?.space_used_size ?? 0
  return { what, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, code, external: m.external, modules: urls.size }
}

const rows = [sample('bare Node 24 (baseline)')]
for (const [what, files] of steps) {
  for (const f of files) await import(new URL(f, dist).href)
  rows.push(sample(what))
}
// lazily loaded capabilities, on top of the whole peer
await import('@automerge/automerge')
rows.push(sample('automerge (lazy: first automerge service)'))
await import('did-jwt')
rows.push(sample('did-jwt (lazy: custom DID resolvers)'))
const { WorkerPool } = await import(new URL('wasm/pool.js', dist).href)
const pool = new WorkerPool({ size: 1, onIdle: () => {}, replay: () => [] })
await pool.start()
await new Promise(resolve => setTimeout(resolve, 500))
rows.push(sample('one Wasm worker thread, started, no function'))
await pool.stop()
process.stdout.write(JSON.stringify(rows) + '\n')
