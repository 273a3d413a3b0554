/**
 * NAT traversal on loopback, in process (no root needed): one relay and two
 * peers with no listening socket at all (only `/p2p-circuit`), so the only
 * way to reach them is through the relay. Real libp2p: reservations, a
 * relayed dial, our protocols' opt-in to limited connections (and a
 * protocol without it refused), the per-circuit byte cap enforced by the
 * relay, the hourly byte budget refusing circuits, the relay lost and the
 * reservation re-made on another. Plus the pure parts: RelayBudget, the
 * END reachability schema, the nat config checks, placement's preference.
 */
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryDatastore } from 'datastore-core'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { loadConfig } from '../../src/config/index.js'
import { defaultConfig } from '../../src/config/defaults.js'
import { createMeshLibp2p } from '../../src/node/libp2p.js'
import { NatMonitor, dialableOf, directFirstAddressSorter, isRelayed, limitedConnectionToReuse } from '../../src/node/nat.js'
import { RelayBudget } from '../../src/node/relay-budget.js'
import { checkDescriptorSchema } from '../../src/registry/schema.js'
import { scoreCandidate } from '../../src/scheduler/placement.js'
import { waitFor } from '../helpers/wait.js'
import { makeEnd, newIdentity } from '../registry/fixtures.js'
import type { DcisConfig, NatConfig } from '../../src/config/index.js'
import type { MeshLibp2p } from '../../src/node/libp2p.js'
import type { Candidate } from '../../src/scheduler/placement.js'
import type { Connection, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const silent = pino({ level: 'silent' })

function config (nat: Partial<NatConfig>, listen: string[]): DcisConfig {
  const c = defaultConfig()
  c.listen = listen
  c.nat = { ...c.nat, autonat: false, ...nat }
  return c
}

async function peer (nat: Partial<NatConfig>, listen: string[], bootstrap: Multiaddr[] = []): Promise<MeshLibp2p> {
  const relayBudget: { current?: RelayBudget } = {}
  const node = await createMeshLibp2p({
    config: config(nat, listen),
    privateKey: await generateKeyPair('Ed25519'),
    datastore: new MemoryDatastore(),
    metrics: new Registry(),
    bootstrapPeers: bootstrap,
    agentVersion: 'dcis-test',
    relayBudget
  })
  Object.assign(node, { relayBudget })
  await node.start()
  return node
}

const relayedAddr = (n: MeshLibp2p): Multiaddr | undefined => n.getMultiaddrs().find(isRelayed)

/** an echo of whatever arrives, until the remote closes its side */
async function echo (stream: Stream): Promise<void> {
  for await (const chunk of stream) {
    if (!stream.send(chunk.subarray())) await stream.onDrain()
  }
  await stream.close()
}

async function roundTrip (stream: Stream, bytes: number): Promise<number> {
  const chunk = new Uint8Array(16 * 1024).fill(7)
  let sent = 0
  let got = 0
  const reading = (async () => { for await (const c of stream) got += c.byteLength })()
  while (sent < bytes) {
    if (!stream.send(chunk)) await stream.onDrain()
    sent += chunk.byteLength
  }
  await stream.close()
  await reading
  return got
}

describe('node/nat: relays on loopback (in process)', function () {
  this.timeout(120_000)
  const nodes: MeshLibp2p[] = []
  after(async () => { await Promise.all(nodes.map(async n => { try { await n.stop() } catch { /* already stopped */ } })) })

  it('peers without a listening socket reserve on the relay, are reached through it, and our protocols opt in to the limited connection', async () => {
    const relay = await peer({ reachability: 'public', relayServer: true, relayCircuitBytes: 1024 * 1024 }, ['/ip4/127.0.0.1/tcp/0'])
    nodes.push(relay)
    const boot = relay.getMultiaddrs().filter(a => !isRelayed(a))
    const a = await peer({ reachability: 'private', reservations: 1 }, [], boot)
    const b = await peer({ reachability: 'private', reservations: 1 }, [], boot)
    nodes.push(a, b)
    await waitFor('both hold a reservation', () => relayedAddr(a) != null && relayedAddr(b) != null, { timeoutMs: 30_000 })
    // b's only address is the relayed one
    assert.ok(b.getMultiaddrs().every(isRelayed), b.getMultiaddrs().map(String).join(' '))

    await b.handle('/dcis-test/echo/1.0.0', async (s) => { await echo(s) }, { runOnLimitedConnection: true })
    await b.handle('/dcis-test/no-opt-in/1.0.0', async (s) => { await echo(s) })
    const s = await a.dialProtocol(relayedAddr(b)!, '/dcis-test/echo/1.0.0', { runOnLimitedConnection: true })
    assert.equal(await roundTrip(s, 64 * 1024), 64 * 1024)
    const conn = a.getConnections(b.peerId)[0]
    assert.ok(isRelayed(conn.remoteAddr) && conn.limits != null, 'a relayed, limited connection')
    // a protocol whose handler did not opt in: the stream is reset after negotiation, nothing echoes
    const refused = await a.dialProtocol(relayedAddr(b)!, '/dcis-test/no-opt-in/1.0.0', { runOnLimitedConnection: true })
    assert.ok((await roundTrip(refused, 16 * 1024).catch(() => -1)) <= 0, 'a handler without the opt-in served a limited connection')
    // and a dial without the opt-in does not use the limited connection
    await assert.rejects(a.dialProtocol(b.peerId, '/dcis-test/echo/1.0.0'))

    // the relay's per-circuit byte cap (1 MiB, both directions) resets the circuit
    const big = await a.dialProtocol(relayedAddr(b)!, '/dcis-test/echo/1.0.0', { runOnLimitedConnection: true })
    const got = await roundTrip(big, 4 * 1024 * 1024).catch(() => -1)
    assert.ok(got < 4 * 1024 * 1024, `the circuit carried ${got} bytes past its cap`)
  })

  it('streams to a peer reached only through a relay reuse the open relayed connection (no new circuit per dial)', async () => {
    const relay = await peer({ reachability: 'public', relayServer: true }, ['/ip4/127.0.0.1/tcp/0'])
    nodes.push(relay)
    const boot = relay.getMultiaddrs().filter(a => !isRelayed(a))
    const a = await peer({ reachability: 'private', reservations: 1 }, [], boot)
    const b = await peer({ reachability: 'private', reservations: 1 }, [], boot)
    nodes.push(a, b)
    await waitFor('both hold a reservation', () => relayedAddr(a) != null && relayedAddr(b) != null, { timeoutMs: 30_000 })
    await b.handle('/dcis-test/echo/1.0.0', async (s) => { await echo(s) }, { runOnLimitedConnection: true })
    const first = await a.dialProtocol(relayedAddr(b)!, '/dcis-test/echo/1.0.0', { runOnLimitedConnection: true })
    assert.equal(await roundTrip(first, 16 * 1024), 16 * 1024)
    const conn = a.getConnections(b.peerId).find(c => c.limits != null)
    assert.ok(conn != null, 'a relayed connection to b')
    // libp2p alone dials a new circuit for each of these (it reuses only
    // unlimited connections): a hop CONNECT the relay admits, and b sees a
    // new inbound connection (when its upgrade finishes before the dialler
    // drops it as a duplicate, or the Noise handshake times out)
    const budget = (relay as unknown as { relayBudget: { current?: RelayBudget } }).relayBudget.current!
    const circuits = budget.admitted
    let opened = 0
    const onOpen = (evt: CustomEvent<Connection>): void => { if (evt.detail.remotePeer.equals(a.peerId)) opened++ }
    b.addEventListener('connection:open', onOpen)
    try {
      for (let i = 0; i < 5; i++) {
        const s = await a.dialProtocol(b.peerId, '/dcis-test/echo/1.0.0', { runOnLimitedConnection: true, signal: AbortSignal.timeout(10_000) })
        assert.equal(await roundTrip(s, 16 * 1024), 16 * 1024)
      }
    } finally {
      b.removeEventListener('connection:open', onOpen)
    }
    assert.equal(budget.admitted - circuits, 0, 'the relay admitted new circuits instead of the open one being reused')
    assert.equal(opened, 0, 'new relayed connections were opened instead of reusing the open one')
    assert.ok(conn.status === 'open' && a.getConnections(b.peerId).includes(conn))
    // without the opt-in, a limited connection is still not used
    await assert.rejects(a.dialProtocol(b.peerId, '/dcis-test/echo/1.0.0', { signal: AbortSignal.timeout(10_000) }))
  })

  it('the hourly byte budget refuses circuits beyond it', async () => {
    const relay = await peer({ reachability: 'public', relayServer: true, relayCircuitBytes: 1024 * 1024, relayBytesPerHour: 2 * 1024 * 1024 }, ['/ip4/127.0.0.1/tcp/0'])
    nodes.push(relay)
    const boot = relay.getMultiaddrs().filter(x => !isRelayed(x))
    const targets = await Promise.all([0, 1, 2].map(async () => peer({ reachability: 'private', reservations: 1 }, [], boot)))
    const a = await peer({ reachability: 'public' }, ['/ip4/127.0.0.1/tcp/0'], boot)
    nodes.push(...targets, a)
    await waitFor('every target holds a reservation', () => targets.every(t => relayedAddr(t) != null), { timeoutMs: 30_000 })
    let opened = 0
    let refused = 0
    for (const t of targets) {
      try {
        await a.dial(relayedAddr(t)!)
        opened++
      } catch {
        refused++
      }
    }
    const budget = (relay as unknown as { relayBudget: { current?: RelayBudget } }).relayBudget.current!
    assert.equal(opened, 2)
    assert.equal(refused, 1)
    assert.equal(budget.refused, 1)
  })

  it('relayMaxCircuits caps the circuits open at once over all peers', async () => {
    const relay = await peer({ reachability: 'public', relayServer: true, relayMaxCircuits: 1 }, ['/ip4/127.0.0.1/tcp/0'])
    nodes.push(relay)
    const boot = relay.getMultiaddrs().filter(x => !isRelayed(x))
    const [t1, t2] = await Promise.all([0, 1].map(async () => peer({ reachability: 'private', reservations: 1 }, [], boot)))
    const a = await peer({ reachability: 'public' }, ['/ip4/127.0.0.1/tcp/0'], boot)
    nodes.push(t1, t2, a)
    await waitFor('both targets hold a reservation', () => relayedAddr(t1) != null && relayedAddr(t2) != null, { timeoutMs: 30_000 })
    const c1 = await a.dial(relayedAddr(t1)!)
    await assert.rejects(a.dial(relayedAddr(t2)!), 'a second circuit while the first is open')
    await c1.close()
    await waitFor('the second circuit once the first closed', async () => { try { await a.dial(relayedAddr(t2)!); return true } catch { return false } }, { timeoutMs: 15_000, intervalMs: 250 })
  })

  it('a peer whose relay goes away reserves on another and its END reachability follows', async () => {
    const r1 = await peer({ reachability: 'public', relayServer: true }, ['/ip4/127.0.0.1/tcp/0'])
    const r2 = await peer({ reachability: 'public', relayServer: true }, ['/ip4/127.0.0.1/tcp/0'])
    nodes.push(r1, r2)
    const n = await peer({ reachability: 'private', reservations: 1 }, [], [r1.getMultiaddrs()[0]])
    nodes.push(n)
    // the registry the monitor reads: r2 shows up as a relay only once r1 is gone
    let listed: unknown[] = []
    const registry = { list: () => listed }
    const mon = new NatMonitor(n, { config: config({ reachability: 'private', reservations: 1 }, []).nat, announced: false, logger: silent, intervalMs: 200 })
    mon.start(registry as never)
    try {
      await waitFor('a reservation on r1', () => mon.view().reservations.includes(r1.peerId.toString()), { timeoutMs: 30_000 })
      assert.equal(mon.reachability().status, 'relayed')
      await r1.stop()
      const lostAt = Date.now()
      await waitFor('r1 lost', () => mon.view().reservations.length === 0, { timeoutMs: 30_000 })
      assert.equal(mon.reachability().status, 'unknown')
      listed = [{ end: { peerId: r2.peerId.toString(), multiaddrs: r2.getMultiaddrs().map(String), reachability: { status: 'public', relays: [], relay: true } } }]
      await waitFor('a reservation on r2, found through the registry', () => mon.view().reservations.includes(r2.peerId.toString()), { timeoutMs: 30_000 })
      console.log(`      re-reserved on the registry's relay ${Date.now() - lostAt} ms after the first stopped`)
      assert.equal(mon.reachability().status, 'relayed')
      assert.ok(mon.reachability().relays.every(x => x.includes(r2.peerId.toString())))
      const kinds = mon.view().events.map(e => `${e.kind}:${e.peer === r1.peerId.toString() ? 'r1' : e.peer === r2.peerId.toString() ? 'r2' : '?'}`)
      assert.deepEqual(kinds, ['reserved:r1', 'lost:r1', 'reserved:r2'])
    } finally {
      mon.stop()
    }
  })
})

describe('node/nat: address refresh', function () {
  this.timeout(60_000)
  it('the peer store of a relayed peer we are not connected to follows its END (stale relay addresses dropped)', async () => {
    const o = await peer({ reachability: 'public' }, ['/ip4/127.0.0.1/tcp/0'])
    const other = await peer({ reachability: 'public' }, ['/ip4/127.0.0.1/tcp/0'])
    try {
      const id = other.peerId
      const stale = `/ip4/127.0.0.1/tcp/1/p2p/${o.peerId.toString()}/p2p-circuit`
      await o.peerStore.merge(id, { multiaddrs: [multiaddr(stale)] })
      const fresh = [`/ip4/127.0.0.1/tcp/2/p2p/${o.peerId.toString()}/p2p-circuit`]
      // another LAN's private address is dropped (a dial to it would hang); one on our own subnet stays
      const registry = { list: () => [{ end: { peerId: id.toString(), multiaddrs: [...fresh, '/ip4/10.9.9.9/tcp/4001', '/ip4/127.0.0.1/tcp/3'], reachability: { status: 'relayed', relays: fresh } } }] }
      const mon = new NatMonitor(o, { config: defaultConfig().nat, announced: false, logger: silent, intervalMs: 100 })
      mon.start(registry as never)
      try {
        await waitFor('the peer store follows the END', async () => {
          const addrs = (await o.peerStore.get(id)).addresses.map(a => a.multiaddr.toString())
          return addrs.length === 2 && addrs.includes(fresh[0]) && addrs.includes('/ip4/127.0.0.1/tcp/3')
        }, { timeoutMs: 10_000 })
        assert.ok(mon.view().relayedPeersRefreshed >= 1)
      } finally {
        mon.stop()
      }
    } finally {
      await o.stop()
      await other.stop()
    }
  })
})

describe('node/nat: pure parts', () => {
  it('addresses are dialled direct before relayed, public before private; a limited connection is reused only when no unlimited one is open', () => {
    const addr = (a: string, isCertified = false): { multiaddr: Multiaddr, isCertified: boolean } => ({ multiaddr: multiaddr(a), isCertified })
    const relayedPublic = '/ip4/11.0.0.1/tcp/4001/p2p/12D3KooWRelay1111111111111111111111111111111111111111/p2p-circuit'
    const sorted = [addr(relayedPublic), addr('/ip4/10.0.5.2/tcp/4001'), addr('/ip4/127.0.0.1/tcp/4001'), addr('/ip4/11.0.0.9/tcp/4001')]
      .sort(directFirstAddressSorter).map(a => a.multiaddr.toString())
    assert.deepEqual(sorted, ['/ip4/11.0.0.9/tcp/4001', '/ip4/10.0.5.2/tcp/4001', relayedPublic, '/ip4/127.0.0.1/tcp/4001'])
    const conn = (open: number, limited: boolean, status = 'open'): Connection => ({ status, limits: limited ? {} : undefined, timeline: { open } }) as unknown as Connection
    const older = conn(1, true)
    assert.equal(limitedConnectionToReuse([conn(5, true), older, conn(0, true, 'closing')]), older)
    assert.equal(limitedConnectionToReuse([older, conn(9, false)]), undefined)
    assert.equal(limitedConnectionToReuse([]), undefined)
  })

  it('dialableOf keeps relayed addresses and direct ones on our own /24 only', () => {
    const relayed = '/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWA/p2p-circuit'
    assert.deepEqual(dialableOf([relayed, '/ip4/192.168.1.7/tcp/4001', '/ip4/10.0.5.2/tcp/4001', '/ip6/::1/tcp/4001'], new Set(['10.0.5.'])), [relayed, '/ip4/10.0.5.2/tcp/4001'])
    assert.deepEqual(dialableOf(['/ip4/192.168.1.7/tcp/4001'], new Set()), [])
  })

  it('RelayBudget admits circuits while their caps fit the hour, then refuses until the window moves', () => {
    let now = 0
    const b = new RelayBudget({ bytesPerHour: 10, circuitBytes: 4, now: () => now })
    assert.deepEqual([b.admit(), b.admit(), b.admit()], [true, true, false])
    assert.equal(b.committed(), 8)
    now = 3_600_001
    assert.equal(b.admit(), true)
    assert.equal(new RelayBudget({ bytesPerHour: 0, circuitBytes: 4 }).admit(), true)
    assert.equal(b.refused, 1)
    let open = 0
    const capped = new RelayBudget({ bytesPerHour: 0, circuitBytes: 4, maxOpen: 2, open: () => open })
    open = 2
    assert.equal(capped.admit(), false)
    open = 1
    assert.equal(capped.admit(), true)
  })

  it('the END schema takes an optional reachability and refuses a bad one', async () => {
    const end = JSON.parse(JSON.stringify(makeEnd(await newIdentity()))) as Record<string, unknown>
    assert.equal(checkDescriptorSchema(end), null)
    end.reachability = { status: 'relayed', relays: ['/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWA/p2p-circuit/p2p/12D3KooWB'], relay: false }
    assert.equal(checkDescriptorSchema(end), null)
    for (const bad of [
      { status: 'nat', relays: [] },
      { status: 'public' },
      { status: 'public', relays: Array(9).fill('/ip4/1.2.3.4/tcp/1') },
      { status: 'public', relays: [], extra: 1 },
      { status: 'public', relays: ['x'.repeat(1025)] }
    ]) {
      end.reachability = bad
      assert.match(checkDescriptorSchema(end) ?? 'accepted', /reachability/, JSON.stringify(bad))
    }
  })

  it('nat config: defaults, and bad values named with their source', async () => {
    const d = defaultConfig().nat
    assert.equal(d.reachability, 'auto')
    assert.equal(d.relayServer, false)
    assert.equal(d.upnp, false)
    await assert.rejects(loadConfig({ env: { DCIS_NAT_REACHABILITY: 'behind' }, flags: {} }), (e: Error & { code?: string }) => e.code === 'CONFIG_INVALID' && /nat\.reachability/.test(e.message))
    const ok = await loadConfig({ env: { DCIS_NAT_REACHABILITY: 'private', DCIS_RELAY_SERVER: 'true' }, flags: {} })
    assert.equal(ok.nat.reachability, 'private')
    assert.equal(ok.nat.relayServer, true)
    assert.equal(ok.nat.reservations, 2)
  })

  it('placement: latency-limited work prefers a directly reachable peer; without a limit relayed peers count alike', () => {
    const c: Candidate = { peerId: 'p', region: 'r', zone: 'z', arch: 'amd64', runtimes: ['wasi'], tee: false, trust: 0, freeCpu: 4, freeMemoryMb: 4096, load: 0 }
    const lat = { ms: 10, errorMs: 1, source: 'measured' as const }
    assert.ok(scoreCandidate({ ...c, relayed: true }, lat, { latencyMs: 50 }) > scoreCandidate(c, lat, { latencyMs: 50 }))
    assert.equal(scoreCandidate({ ...c, relayed: true }, lat, {}), scoreCandidate(c, lat, {}))
  })
})
