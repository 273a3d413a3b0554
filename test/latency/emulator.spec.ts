import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import net from 'node:net'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { Registry } from 'prom-client'
import { createLibp2p } from 'libp2p'
import { emulatedTcp, encodePreamble, PREAMBLE_MAGIC } from '../../src/latency/emulator/index.js'
import { waitFor } from '../helpers/wait.js'
import type { LinkEmulatorInit, LinkInfo, RttMatrix, EmulatorLog } from '../../src/latency/emulator/index.js'
import type { Libp2p } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'

type Node = Libp2p<{ ping: Ping }>

interface LogLine { level: 'warn' | 'debug', context: Record<string, unknown>, message: string }

function captureLog (): { log: EmulatorLog, lines: LogLine[] } {
  const lines: LogLine[] = []
  return {
    lines,
    log: {
      warn: (context, message) => { lines.push({ level: 'warn', context, message }) },
      debug: (context, message) => { lines.push({ level: 'debug', context, message }) }
    }
  }
}

async function startNode (init: LinkEmulatorInit, registry?: Registry): Promise<Node> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    ...(registry != null ? { metrics: prometheusMetrics({ registry, collectDefaultMetrics: false }) } : {}),
    transports: [emulatedTcp(init)],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() }
  })
}

function tcpPort (n: Node): number {
  const c = n.getMultiaddrs()[0].getComponents().find(c => c.name === 'tcp')
  assert.ok(c?.value != null, 'node listens on tcp')
  return Number(c.value)
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/** median RTT of `n` libp2p pings from a to b (one warm-up ping first) */
async function pingMedian (a: Node, b: Node, n = 7): Promise<number> {
  const ma = b.getMultiaddrs()[0]
  await a.services.ping.ping(ma, { signal: AbortSignal.timeout(10_000) })
  const rtts: number[] = []
  for (let i = 0; i < n; i++) rtts.push(await a.services.ping.ping(ma, { signal: AbortSignal.timeout(10_000) }))
  return median(rtts)
}

const symmetric: RttMatrix = {
  regions: ['eu', 'us', 'ap'],
  rttMs: [
    [0, 40, 100],
    [40, 0, 60],
    [100, 60, 0]
  ]
}

describe('latency/emulator: real libp2p nodes on 127.0.0.1', function () {
  this.timeout(30_000)
  const nodes: Node[] = []
  const sockets: net.Socket[] = []

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy()
    await Promise.all(nodes.splice(0).map(async n => n.stop()))
  })

  async function node (init: LinkEmulatorInit, registry?: Registry): Promise<Node> {
    const n = await startNode(init, registry)
    nodes.push(n)
    return n
  }

  /** a plain TCP client to a node's port, closed by afterEach */
  async function rawClient (port: number): Promise<{ sock: net.Socket, received: Buffer[], closed: () => boolean }> {
    const sock = net.connect({ host: '127.0.0.1', port })
    sockets.push(sock)
    let closed = false
    const received: Buffer[] = []
    sock.on('data', d => received.push(d))
    sock.on('error', () => {})
    sock.on('close', () => { closed = true })
    await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject) })
    return { sock, received, closed: () => closed }
  }

  it('two peers in regions 40 ms apart measure ~40 ms with ping, in both directions', async () => {
    const linksA: LinkInfo[] = []
    const linksB: LinkInfo[] = []
    const a = await node({ region: 'eu', matrix: symmetric, onLink: l => linksA.push(l) })
    const b = await node({ region: 'us', matrix: symmetric, onLink: l => linksB.push(l) })
    const ab = await pingMedian(a, b)
    assert.ok(ab >= 35 && ab <= 70, `a->b median ping ${ab} ms, expected 35..70`)
    // same connection, pinged from the inbound side: the delay applies to its traffic too
    const ba = await pingMedian(b, a)
    assert.ok(ba >= 35 && ba <= 70, `b->a median ping ${ba} ms, expected 35..70`)
    assert.equal(linksA.length, 1)
    assert.equal(linksB.length, 1)
    // each side learned the other's region, including the inbound side (ephemeral remote port)
    assert.deepEqual([linksA[0].direction, linksA[0].remoteRegion, linksA[0].oneWayDelayMs], ['outbound', 'us', 20])
    assert.deepEqual([linksB[0].direction, linksB[0].remoteRegion, linksB[0].oneWayDelayMs], ['inbound', 'eu', 20])
  })

  it('carries a bulk transfer intact and in order through delay, jitter and backpressure (seeded)', async () => {
    const seed = 5150
    const protocol = '/dcis-test/sink/1.0.0'
    // a tiny queue limit forces the emulator's own backpressure path
    const a = await node({ region: 'eu', matrix: symmetric, maxQueuedBytes: 16 * 1024, jitterMs: 3, seed })
    const b = await node({ region: 'us', matrix: symmetric, maxQueuedBytes: 16 * 1024, jitterMs: 3, seed: seed + 1 })
    let resolveGot!: (v: { bytes: number, sha: string }) => void
    const got = { promise: new Promise<{ bytes: number, sha: string }>(resolve => { resolveGot = resolve }) }
    await b.handle(protocol, async (stream) => {
      const h = createHash('sha256')
      let bytes = 0
      for await (const chunk of stream) {
        const buf = chunk instanceof Uint8Array ? chunk : chunk.subarray()
        h.update(buf)
        bytes += buf.byteLength
      }
      resolveGot({ bytes, sha: h.digest('hex') })
      await stream.close()
    })
    // seeded content and chunk sizes (xorshift32)
    let x = seed
    const rnd = (): number => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x }
    const want = createHash('sha256')
    let total = 0
    const stream = await a.dialProtocol(b.getMultiaddrs()[0], protocol, { signal: AbortSignal.timeout(10_000) })
    while (total < 3 * 1024 * 1024) {
      const chunk = new Uint8Array(1 + rnd() % 65536)
      for (let i = 0; i < chunk.length; i++) chunk[i] = rnd() & 0xff
      want.update(chunk)
      total += chunk.length
      if (!stream.send(chunk)) await stream.onDrain({ signal: AbortSignal.timeout(10_000) })
    }
    await stream.close({ signal: AbortSignal.timeout(10_000) })
    const result = await got.promise
    assert.equal(result.bytes, total, `seed ${seed}`)
    assert.equal(result.sha, want.digest('hex'), `seed ${seed}: content differs`)
  })

  it('a three-region mesh sees each pair at its own matrix RTT', async () => {
    const eu = await node({ region: 'eu', matrix: symmetric })
    const us = await node({ region: 'us', matrix: symmetric })
    const ap = await node({ region: 'ap', matrix: symmetric })
    const measured = {
      euUs: await pingMedian(eu, us, 5),
      usAp: await pingMedian(us, ap, 5),
      apEu: await pingMedian(ap, eu, 5)
    }
    const ok = (v: number, rtt: number): boolean => v >= rtt - 5 && v <= rtt + 30
    assert.ok(ok(measured.euUs, 40) && ok(measured.usAp, 60) && ok(measured.apEu, 100), JSON.stringify(measured))
  })

  it('two peers in the same region (diagonal 0) measure < 15 ms', async () => {
    const a = await node({ region: 'ap', matrix: symmetric })
    const b = await node({ region: 'ap', matrix: symmetric })
    const rtt = await pingMedian(a, b)
    assert.ok(rtt < 15, `same-region median ping ${rtt} ms, expected < 15`)
  })

  it('a directional matrix delays each direction by half its own entry', async () => {
    // x->y one-way 10 ms, y->x one-way 60 ms: a round trip either way is ~70 ms
    const directional: RttMatrix = { regions: ['x', 'y'], rttMs: [[0, 20], [120, 0]] }
    const linksX: LinkInfo[] = []
    const linksY: LinkInfo[] = []
    const x = await node({ region: 'x', matrix: directional, onLink: l => linksX.push(l) })
    const y = await node({ region: 'y', matrix: directional, onLink: l => linksY.push(l) })
    const rtt = await pingMedian(x, y)
    assert.ok(rtt >= 63 && rtt <= 100, `directional median ping ${rtt} ms, expected 63..100`)
    assert.equal(linksX[0].oneWayDelayMs, 10)
    assert.equal(linksY[0].oneWayDelayMs, 60)
  })

  it('jitter (seeded) keeps the RTT around the matrix value', async () => {
    const a = await node({ region: 'eu', matrix: symmetric, jitterMs: 4, seed: 11 })
    const b = await node({ region: 'us', matrix: symmetric, jitterMs: 4, seed: 12 })
    const rtt = await pingMedian(a, b, 9)
    assert.ok(rtt >= 33 && rtt <= 75, `jittered median ping ${rtt} ms, expected 33..75`)
  })

  it('an unknown remote region gets no delay and one warning', async () => {
    const { log, lines } = captureLog()
    const a = await node({ region: 'eu', matrix: symmetric, logger: log })
    const b = await node({ region: 'mars', matrix: symmetric })
    const c = await node({ region: 'mars', matrix: symmetric })
    const rtt = await pingMedian(b, a)
    assert.ok(rtt < 15, `unknown-region median ping ${rtt} ms, expected < 15`)
    await pingMedian(c, a, 1)
    const warnings = lines.filter(l => l.level === 'warn' && l.context.region === 'mars')
    assert.equal(warnings.length, 1, 'warned once for the region')
  })

  it('a null (unknown) matrix entry gets no delay and one warning for the pair', async () => {
    const partial: RttMatrix = { regions: ['eu', 'us'], rttMs: [[0, null], [null, 0]] }
    const { log, lines } = captureLog()
    const a = await node({ region: 'eu', matrix: partial, logger: log })
    const b = await node({ region: 'us', matrix: partial })
    const rtt = await pingMedian(a, b, 3)
    assert.ok(rtt < 15, `unknown-pair median ping ${rtt} ms, expected < 15`)
    const warnings = lines.filter(l => l.level === 'warn' && l.context.from === 'eu' && l.context.to === 'us')
    assert.equal(warnings.length, 1)
  })

  it('drops a raw TCP client that sends garbage and keeps serving', async () => {
    const { log, lines } = captureLog()
    const registry = new Registry()
    const a = await node({ region: 'eu', matrix: symmetric, logger: log }, registry)
    const b = await node({ region: 'us', matrix: symmetric })
    const c = await rawClient(tcpPort(a))
    c.sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    await waitFor('the node to close the garbage connection', c.closed, { timeoutMs: 5_000, intervalMs: 10 })
    const rejected = lines.find(l => l.level === 'warn' && l.context.reason === 'BAD_MAGIC')
    assert.ok(rejected != null, `a logged reason, got ${JSON.stringify(lines)}`)
    // what the node sent before closing is at most its own preamble
    assert.ok(Buffer.concat(c.received).length <= 70)
    // a real dial still works
    const rtt = await pingMedian(b, a, 3)
    assert.ok(rtt >= 35 && rtt <= 70, `ping after the garbage client ${rtt} ms`)
    const text = await registry.metrics()
    assert.match(text, /dcis_link_emulator_events_total\{event="rejected_BAD_MAGIC"\} 1/)
    assert.match(text, /dcis_link_emulator_events_total\{event="open"\} 1/)
  })

  for (const [what, bytes, reason] of [
    ['a wrong version', Uint8Array.of(...PREAMBLE_MAGIC, 9, 2, 0x61, 0x62), 'BAD_VERSION'],
    ['an oversize region length', Uint8Array.of(...PREAMBLE_MAGIC, 1, 200, 0x61), 'BAD_REGION_LENGTH'],
    ['a control byte in the region', Uint8Array.of(...PREAMBLE_MAGIC, 1, 2, 0x61, 0x0a), 'BAD_REGION_CHARS']
  ] as const) {
    it(`drops a raw client whose preamble has ${what}`, async () => {
      const { log, lines } = captureLog()
      const a = await node({ region: 'eu', matrix: symmetric, logger: log })
      const c = await rawClient(tcpPort(a))
      c.sock.write(bytes)
      await waitFor('the node to close the connection', c.closed, { timeoutMs: 5_000, intervalMs: 10 })
      assert.ok(lines.some(l => l.level === 'warn' && l.context.reason === reason), JSON.stringify(lines))
    })
  }

  it('accepts a valid preamble split across TCP segments and learns the inbound region', async () => {
    const links: LinkInfo[] = []
    const a = await node({ region: 'eu', matrix: symmetric, onLink: l => links.push(l) })
    const c = await rawClient(tcpPort(a))
    c.sock.setNoDelay(true)
    const pre = encodePreamble('ap')
    for (const byte of pre) {
      c.sock.write(Uint8Array.of(byte))
      await new Promise(resolve => setImmediate(resolve))
    }
    await waitFor('the preamble exchange', () => links.length === 1, { timeoutMs: 5_000, intervalMs: 10 })
    assert.deepEqual([links[0].direction, links[0].remoteRegion, links[0].oneWayDelayMs], ['inbound', 'ap', 50])
    // the node answered with its own preamble
    await waitFor('the node preamble', () => Buffer.concat(c.received).length >= 8, { timeoutMs: 5_000, intervalMs: 10 })
    assert.deepEqual(new Uint8Array(Buffer.concat(c.received).subarray(0, 8)), encodePreamble('eu'))
  })

  it('drops a client that connects but never sends a preamble (handshake timeout)', async () => {
    const { log, lines } = captureLog()
    const a = await node({ region: 'eu', matrix: symmetric, logger: log, handshakeTimeoutMs: 300 })
    const c = await rawClient(tcpPort(a))
    await waitFor('the node to close the silent connection', c.closed, { timeoutMs: 5_000, intervalMs: 10 })
    assert.ok(lines.some(l => l.level === 'warn' && l.context.code === 'LINK_EMULATOR_PREAMBLE_TIMEOUT'))
  })

  it('a plain-tcp peer cannot connect to an emulating one (documented requirement), without crashing it', async () => {
    const { tcp } = await import('@libp2p/tcp')
    const a = await node({ region: 'eu', matrix: symmetric })
    const plain = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), ping: ping() }
    })
    nodes.push(plain)
    await assert.rejects(plain.dial(a.getMultiaddrs()[0], { signal: AbortSignal.timeout(5_000) }))
    const b = await node({ region: 'us', matrix: symmetric })
    const rtt = await pingMedian(b, a, 3)
    assert.ok(rtt >= 35 && rtt <= 70)
  })
})
