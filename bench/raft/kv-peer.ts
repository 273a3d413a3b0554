/**
 * One strong-KV peer process for bench/raft/kv.ts (argv[2] = JSON config
 * { key, port, dataDir, book }). IPC: { id, op, args }: apply, status, load,
 * history, wal, cpu (process.cpuUsage: utime/stime), quiesced (how many of
 * the named groups' local replicas are quiesced), leaders, stop.
 * 'load' runs `clients` concurrent writers of `valueBytes` values on this
 * peer's backend for `durationMs` and returns every latency (ms).
 */
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { performance } from 'node:perf_hooks'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { MemoryDatastore } from 'datastore-core'
import { createLibp2p } from 'libp2p'
import { pino } from 'pino'
import { createRaftBackend } from '../../src/raft/service/index.js'

interface Config { key: string, port: number, dataDir: string, book: Array<{ peerId: string, addr: string }>, quiesce?: boolean }
const cfg = JSON.parse(process.argv[2]) as Config
const libp2p = await createLibp2p({
  privateKey: privateKeyFromProtobuf(Buffer.from(cfg.key, 'hex')),
  addresses: { listen: [`/ip4/127.0.0.1/tcp/${cfg.port}`] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()]
})
const registry = { list: () => cfg.book.map(b => ({ end: { peerId: b.peerId, region: 'local', zone: 'local-a', multiaddrs: [b.addr] } })) }
const backend = createRaftBackend({ libp2p, registry, datastore: new MemoryDatastore(), dataDir: cfg.dataDir, logger: pino({ level: 'warn' }), tickMs: 50, electionTick: 10, quiesce: cfg.quiesce, requestTimeoutMs: 10_000 })
await backend.start()

async function load (name: string, clients: number, durationMs: number, valueBytes: number): Promise<{ latencies: number[], errors: number }> {
  const value = 'x'.repeat(valueBytes)
  const latencies: number[] = []
  let errors = 0
  const end = performance.now() + durationMs
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    let i = 0
    while (performance.now() < end) {
      const t = performance.now()
      try {
        await backend.put(name, `c${c}-${i++ % 1000}`, value)
        latencies.push(performance.now() - t)
      } catch {
        errors++
      }
    }
  }))
  return { latencies, errors }
}

/** wall-clock ms with sub-ms precision, comparable across the bench's processes (same machine clock) */
const now = (): number => performance.timeOrigin + performance.now()

/**
 * Linearizability sample: `clients` concurrent clients, each doing random
 * get/put (50/50) on `keys` shared keys for `durationMs`; every call is
 * recorded with its call/return times and outcome (an error = unknown
 * outcome: no return). Values are unique per (process tag, client, seq).
 */
async function history (name: string, tag: string, clients: number, durationMs: number, keys: number): Promise<unknown[]> {
  const ops: unknown[] = []
  const end = performance.now() + durationMs
  let seed = 0x9e3779b1 ^ tag.length
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32 }
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    let i = 0
    while (performance.now() < end) {
      const key = `h${Math.floor(rnd() * keys)}`
      if (rnd() < 0.5) {
        const call = now()
        try {
          const r = await backend.get(name, key)
          ops.push({ kind: 'get', key, call, ret: now(), out: { value: r.value, rev: r.revision } })
        } catch (err) {
          if ((err as { code?: string }).code === 'KEY_NOT_FOUND') ops.push({ kind: 'get', key, call, ret: now(), out: { value: null, rev: 0 } })
          // any other failure: a read with unknown outcome constrains nothing
        }
      } else {
        const value = `${tag}.${c}.${i++}`
        const call = now()
        try {
          const r = await backend.put(name, key, value)
          ops.push({ kind: 'put', key, value, call, ret: now(), out: { ok: true, rev: r.revision } })
        } catch {
          ops.push({ kind: 'put', key, value, call, ret: Infinity })
        }
      }
    }
  }))
  // JSON has no Infinity
  return ops.map(o => (o as { ret: number }).ret === Infinity ? { ...o as object, ret: null } : o)
}

/** CPU profile of a chosen window (ops profStart / profStop <file>) */
const profiler = new Session()

process.on('message', (m: { id: number, op: string, args: unknown[] }) => {
  void (async () => {
    try {
      let result: unknown
      if (m.op === 'apply') result = await backend.apply(m.args[0] as Parameters<typeof backend.apply>[0])
      else if (m.op === 'status') result = await backend.status(m.args[0] as string)
      else if (m.op === 'load') result = await load(m.args[0] as string, m.args[1] as number, m.args[2] as number, m.args[3] as number)
      else if (m.op === 'history') result = await history(m.args[0] as string, m.args[1] as string, m.args[2] as number, m.args[3] as number, m.args[4] as number)
      else if (m.op === 'profStart') { await profiler.connect(); await profiler.post('Profiler.enable'); await profiler.post('Profiler.start'); result = true }
      else if (m.op === 'profStop') { const { profile } = await profiler.post('Profiler.stop'); await writeFile(m.args[0] as string, JSON.stringify(profile)); profiler.disconnect(); result = true }
      else if (m.op === 'cpu') { const u = process.cpuUsage(); result = { userUs: u.user, systemUs: u.system } }
      else if (m.op === 'quiesced') result = (m.args[0] as string[]).filter(n => backend.replica(n)?.group.isQuiesced === true).length
      else if (m.op === 'leaders') result = (m.args[0] as string[]).map(n => backend.replica(n)?.group.leader ?? null)
      else if (m.op === 'wal') result = backend.replica(m.args[0] as string)?.group.walStats()
      else if (m.op === 'stop') { await backend.stop(); await libp2p.stop(); result = true }
      // on 'stop', exit once the answer is out: a --cpu-prof profile is written at a clean exit
      process.send!({ id: m.id, ok: true, result }, () => { if (m.op === 'stop') process.exit(0) })
    } catch (err) {
      process.send!({ id: m.id, ok: false, error: (err as Error).name, message: (err as Error).message })
    }
  })()
})
process.send!({ ready: true })
