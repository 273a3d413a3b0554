/**
 * Link emulator benchmark. Prints one JSON object:
 * - throughput: bytes/s over one libp2p stream (noise + yamux, 127.0.0.1)
 *   with plain tcp() and with emulatedTcp() at 0 ms (same region, diagonal 0),
 *   i.e. the emulator's CPU/copy overhead;
 * - ping: libp2p ping RTT (median/p90/min/max of N pings) for emulated
 *   0 (baseline)/10/40/100 ms links, against the matrix value.
 *
 *   npx tsx bench/latency/emulator.ts [--mib 32] [--runs 3] [--pings 20]
 */
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { emulatedTcp } from '../../src/latency/emulator/index.js'
import type { RttMatrix } from '../../src/latency/emulator/index.js'
import type { Libp2p, Transport } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { TCPComponents } from '@libp2p/tcp'

type Node = Libp2p<{ ping: Ping }>

function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return dflt
  const v = Number(process.argv[i + 1])
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`)
  return v
}

async function startNode (transport: (c: TCPComponents) => Transport): Promise<Node> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [transport],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() }
  })
}

const PROTOCOL = '/dcis-bench/sink/1.0.0'

/** send `bytes` from a to b over one stream; returns bytes/s measured until the receiver has everything */
async function transfer (a: Node, b: Node, bytes: number): Promise<number> {
  let resolveDone!: (n: number) => void
  const done = new Promise<number>(resolve => { resolveDone = resolve })
  await b.handle(PROTOCOL, async (stream) => {
    let n = 0
    for await (const chunk of stream) n += chunk.byteLength
    resolveDone(n)
    await stream.close()
  }, { force: true })
  const stream = await a.dialProtocol(b.getMultiaddrs()[0], PROTOCOL)
  const chunk = new Uint8Array(64 * 1024).fill(7)
  const t0 = performance.now()
  for (let sent = 0; sent < bytes; sent += chunk.byteLength) {
    if (!stream.send(chunk)) await stream.onDrain()
  }
  await stream.close()
  const got = await done
  const s = (performance.now() - t0) / 1000
  if (got < bytes) throw new Error(`receiver got ${got} of ${bytes} bytes`)
  await b.unhandle(PROTOCOL)
  return got / s
}

function median (xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y)
  return s[Math.floor(s.length / 2)]
}

function quantile (xs: number[], q: number): number {
  const s = [...xs].sort((x, y) => x - y)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

async function pair (make: () => (c: TCPComponents) => Transport, make2 = make): Promise<[Node, Node]> {
  return [await startNode(make()), await startNode(make2())]
}

async function main (): Promise<void> {
  const mib = arg('mib', 32)
  const runs = arg('runs', 3)
  const pings = arg('pings', 20)
  const bytes = mib * 1024 * 1024

  const zero: RttMatrix = { regions: ['a'], rttMs: [[0]] }
  const plainRuns: number[] = []
  const emuRuns: number[] = []
  {
    const [a, b] = await pair(() => tcp())
    const [c, d] = await pair(() => emulatedTcp({ region: 'a', matrix: zero }))
    try {
      await transfer(a, b, 4 * 1024 * 1024) // warm-up
      await transfer(c, d, 4 * 1024 * 1024)
      for (let i = 0; i < runs; i++) { // interleaved so machine load hits both alike
        plainRuns.push(await transfer(a, b, bytes))
        emuRuns.push(await transfer(c, d, bytes))
      }
    } finally {
      await Promise.all([a, b, c, d].map(async n => n.stop()))
    }
  }

  const pingResults = []
  for (const target of [0, 10, 40, 100]) {
    const m: RttMatrix = { regions: ['a', 'b'], rttMs: [[0, target], [target, 0]] }
    const [a, b] = await pair(() => emulatedTcp({ region: 'a', matrix: m }), () => emulatedTcp({ region: 'b', matrix: m }))
    try {
      const ma = b.getMultiaddrs()[0]
      await a.services.ping.ping(ma)
      const rtts: number[] = []
      for (let i = 0; i < pings; i++) rtts.push(await a.services.ping.ping(ma))
      const med = median(rtts)
      pingResults.push({
        targetMs: target,
        medianMs: med,
        p90Ms: quantile(rtts, 0.9),
        minMs: Math.min(...rtts),
        maxMs: Math.max(...rtts),
        medianErrorMs: med - target,
        samples: rtts.length
      })
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  }

  const plain = median(plainRuns)
  const emulated = median(emuRuns)
  console.log(JSON.stringify({
    bench: 'latency/emulator',
    throughput: {
      bytesPerRun: bytes,
      runs,
      plainTcpBytesPerSec: Math.round(plain),
      emulatedZeroMsBytesPerSec: Math.round(emulated),
      relativeToPlain: Number((emulated / plain).toFixed(3)),
      plainRunsBytesPerSec: plainRuns.map(Math.round),
      emulatedRunsBytesPerSec: emuRuns.map(Math.round)
    },
    ping: pingResults,
    note: 'ping RTT is libp2p ping over noise+yamux on 127.0.0.1 (Date.now() resolution: 1 ms); Node timers add ~1 ms per direction'
  }))
}

main().catch(err => {
  console.error(err)
  process.exitCode = 1
})
