/**
 * One strong-KV peer process for bench/raft/kv.ts (argv[2] = JSON config
 * { key, port, dataDir, book }). IPC: { id, op: 'apply'|'status'|'load'|'stop', args }.
 * 'load' runs `clients` concurrent writers of `valueBytes` values on this
 * peer's backend for `durationMs` and returns every latency (ms).
 */
import { performance } from 'node:perf_hooks'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { MemoryDatastore } from 'datastore-core'
import { createLibp2p } from 'libp2p'
import { pino } from 'pino'
import { createRaftBackend } from '../../src/raft/service/index.js'

interface Config { key: string, port: number, dataDir: string, book: Array<{ peerId: string, addr: string }> }
const cfg = JSON.parse(process.argv[2]) as Config
const libp2p = await createLibp2p({
  privateKey: privateKeyFromProtobuf(Buffer.from(cfg.key, 'hex')),
  addresses: { listen: [`/ip4/127.0.0.1/tcp/${cfg.port}`] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()]
})
const registry = { list: () => cfg.book.map(b => ({ end: { peerId: b.peerId, region: 'local', zone: 'local-a', multiaddrs: [b.addr] } })) }
const backend = createRaftBackend({ libp2p, registry, datastore: new MemoryDatastore(), dataDir: cfg.dataDir, logger: pino({ level: 'warn' }), tickMs: 50, electionTick: 10, requestTimeoutMs: 10_000 })
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

process.on('message', (m: { id: number, op: string, args: unknown[] }) => {
  void (async () => {
    try {
      let result: unknown
      if (m.op === 'apply') result = await backend.apply(m.args[0] as Parameters<typeof backend.apply>[0])
      else if (m.op === 'status') result = await backend.status(m.args[0] as string)
      else if (m.op === 'load') result = await load(m.args[0] as string, m.args[1] as number, m.args[2] as number, m.args[3] as number)
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
