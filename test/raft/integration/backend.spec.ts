/**
 * The strong KV backend on 4 real libp2p peers (127.0.0.1): a 3-replica
 * service placed by the creating peer, the 4th peer a non-member that
 * forwards. CAS, linearizable reads from a follower, status, descriptor
 * persistence across a restart, bad frames dropped and counted.
 */
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { MemoryDatastore } from 'datastore-core'
import * as lp from 'it-length-prefixed'
import { peerIdFromString } from '@libp2p/peer-id'
import { createRaftBackend, RAFT_KV_PROTOCOL } from '../../../src/raft/service/index.js'
import type { RaftKvBackend } from '../../../src/raft/service/index.js'
import { encodeEnvelope, RAFT_PROTOCOL } from '../../../src/raft/transport/index.js'
import { makeMessage, MessageType } from '../../../src/raft/core/index.js'
import { KeyNotFoundError, RevisionMismatchError, ServiceNotFoundError } from '../../../src/services/errors.js'
import type { ServiceSpec } from '../../../src/services/types.js'
import { waitFor } from '../../helpers/wait.js'
import { makeTempDir, removeDir, silent, startLibp2p } from './helpers.js'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { createMetricsRegistry } from '../../../src/telemetry/index.js'
import type { Registry } from 'prom-client'

interface Peer { key: PrivateKey, libp2p: Libp2p, backend: RaftKvBackend, datastore: MemoryDatastore, dir: string, id: string, metrics: Registry }

class Directory {
  entries = new Map<string, { end: { peerId: string, region: string, zone: string, multiaddrs: string[] } }>()
  list (): Array<{ end: { peerId: string, region: string, zone: string, multiaddrs: string[] } }> { return [...this.entries.values()] }
}

function spec (name: string, replicas = 3): ServiceSpec {
  return { name, replicas, runtime: 'wasi', mode: 'strong', crdtEngine: 'delta-crdts', zones: [], maxStalenessMs: 1000, latencyRadiusMs: 20 }
}

describe('raft KV backend (4 peers, 3 replicas)', function () {
  this.timeout(40_000)
  const dir = new Directory()
  const peers: Peer[] = []

  async function startPeer (p: { key?: PrivateKey, datastore?: MemoryDatastore, dir?: string, port?: number } = {}): Promise<Peer> {
    const key = p.key ?? await generateKeyPair('Ed25519')
    const libp2p = await startLibp2p(key, p.port)
    const id = libp2p.peerId.toString()
    dir.entries.set(id, { end: { peerId: id, region: 'eu-west', zone: 'eu-west-a', multiaddrs: libp2p.getMultiaddrs().map(a => a.toString()) } })
    const datastore = p.datastore ?? new MemoryDatastore()
    const dataDir = p.dir ?? await makeTempDir()
    const metrics = createMetricsRegistry()
    const backend = createRaftBackend({ libp2p, registry: dir, datastore, dataDir, logger: silent, metrics, tickMs: 20, electionTick: 10, requestTimeoutMs: 4000, snapshotEvery: 30, keepEntries: 5, maintenanceMs: 500 })
    await backend.start()
    return { key, libp2p, backend, datastore, dir: dataDir, id, metrics }
  }

  async function stopPeer (p: Peer): Promise<void> {
    await p.backend.stop()
    await p.libp2p.stop()
  }

  before(async () => {
    for (let i = 0; i < 4; i++) peers.push(await startPeer())
  })

  after(async () => {
    for (const p of peers) { await stopPeer(p); await removeDir(p.dir) }
  })

  const members = (name: string): Peer[] => peers.filter(p => p.backend.descriptor(name)?.voters.includes(p.id))
  const nonMember = (name: string): Peer => peers.find(p => p.backend.descriptor(name) !== undefined && !p.backend.descriptor(name)!.voters.includes(p.id))!

  it('creates the group on 3 voters, every peer learns the descriptor, a leader is elected', async () => {
    const st = await peers[0].backend.apply(spec('orders'))
    assert.equal(st.replicas.length, 3)
    assert.ok(st.replicas.every(r => r.role === 'voter'))
    await waitFor('all peers know the service', () => peers.every(p => p.backend.has('orders')), { timeoutMs: 5000, intervalMs: 20 })
    const status = await waitFor('a leader', async () => { const s = await peers[3].backend.status('orders'); return s.leader != null && s.commitIndex! >= 2 ? s : undefined }, { timeoutMs: 10_000, intervalMs: 50 })
    assert.ok(status.replicas.some(r => r.peerId === status.leader))
    assert.ok(status.term! >= 2)
    assert.ok(status.commitIndex! >= 2)
    assert.equal(members('orders').length, 3)
    // idempotent
    const again = await peers[1].backend.apply(spec('orders'))
    assert.deepEqual(again.replicas.map(r => r.peerId), st.replicas.map(r => r.peerId))
  })

  it('serves put/get/CAS/delete from a non-member (forwarded) and from followers, with global revisions', async () => {
    const out = nonMember('orders')
    const r1 = await out.backend.put('orders', 'a', 'x')
    const r2 = await out.backend.put('orders', 'b', 'y')
    assert.ok(r2.revision > r1.revision)
    await assert.rejects(out.backend.put('orders', 'a', 'z', { ifRevision: r1.revision + 100 }), (e: Error) => e instanceof RevisionMismatchError && (e as RevisionMismatchError).actual === r1.revision)
    await assert.rejects(out.backend.put('orders', 'b', 'z', { ifRevision: 0 }), RevisionMismatchError)
    const r3 = await out.backend.put('orders', 'a', 'z', { ifRevision: r1.revision })
    assert.equal(r3.revision, r2.revision + 1)
    for (const p of peers) {
      assert.deepEqual(await p.backend.get('orders', 'a'), { key: 'a', value: 'z', revision: r3.revision }, `read at ${p.id}`)
    }
    const d = await members('orders')[1].backend.delete('orders', 'a')
    assert.equal(d.revision, r3.revision + 1)
    await assert.rejects(out.backend.get('orders', 'a'), KeyNotFoundError)
    await assert.rejects(out.backend.delete('orders', 'a'), (e: Error) => e instanceof KeyNotFoundError && /in service orders$/.test(e.message))
    await assert.rejects(out.backend.get('nope', 'a'), ServiceNotFoundError)
  })

  it('a read at any peer right after an acknowledged write at another peer sees it (linearizable reads)', async () => {
    for (let i = 0; i < 15; i++) {
      const w = peers[i % 4]
      const r = peers[(i + 1) % 4]
      const { revision } = await w.backend.put('orders', 'seq', String(i))
      const got = await r.backend.get('orders', 'seq')
      assert.deepEqual(got, { key: 'seq', value: String(i), revision })
    }
  })

  it('drops and counts malformed raft frames and frames from non-members', async () => {
    const target = members('orders')[0]
    const outsider = nonMember('orders')
    const before = { ...target.backend.transportStats() }
    const stream = await outsider.libp2p.dialProtocol(peerIdFromString(target.id), RAFT_PROTOCOL)
    stream.send(lp.encode.single(new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02])))
    // well-formed, but from a peer that is not a member of the group
    stream.send(lp.encode.single(encodeEnvelope(target.backend.descriptor('orders')!.group, makeMessage({ type: MessageType.MsgHeartbeat, from: outsider.id, to: target.id, term: 999 }))))
    // claims to be from a member
    const member = members('orders').find(p => p !== target)!
    stream.send(lp.encode.single(encodeEnvelope(target.backend.descriptor('orders')!.group, makeMessage({ type: MessageType.MsgVote, from: member.id, to: target.id, term: 999 }))))
    await waitFor('frames counted', () => {
      const s = target.backend.transportStats()
      return s.badFrames >= before.badFrames + 1 && s.rejected >= before.rejected + 2
    }, { timeoutMs: 5000, intervalMs: 20 })
    await stream.close().catch(() => {})
    const text = await target.metrics.metrics()
    assert.match(text, /dcis_raft_frames_total\{dir="in",result="bad-frame"\} [1-9]/)
    assert.match(text, /dcis_raft_frames_total\{dir="in",result="rejected"\} [1-9]/)
    assert.match(text, /dcis_raft_kv_requests_total\{op="put",path="(local|served)",result="ok"\} [1-9]/)
    assert.match(text, /dcis_raft_replicas\{role="(leader|follower)"\} 1/)
    // the group is undisturbed (the forged term 999 never reached the core)
    const st = await target.backend.status('orders')
    assert.ok(st.term! < 999)
    // a garbage raft-kv request is answered with an error naming the field
    const s2 = await outsider.libp2p.dialProtocol(peerIdFromString(target.id), RAFT_KV_PROTOCOL)
    s2.send(lp.encode.single(new TextEncoder().encode(JSON.stringify({ t: 'put', name: 'orders', key: 'k' }))))
    const chunks: Uint8Array[] = []
    for await (const c of lp.decode(s2)) chunks.push(c.subarray())
    const res = JSON.parse(new TextDecoder().decode(chunks[0]))
    assert.equal(res.ok, false)
    assert.match(res.message, /value/)
  })

  it('refuses a malformed or conflicting descriptor announcement, naming the field', async () => {
    const target = peers[0]
    const outsider = peers[3]
    const good = target.backend.descriptor('orders')!
    const ask = async (d: unknown): Promise<{ ok: boolean, error?: string, message?: string }> => {
      const s = await outsider.libp2p.dialProtocol(peerIdFromString(target.id), RAFT_KV_PROTOCOL)
      s.send(lp.encode.single(new TextEncoder().encode(JSON.stringify({ t: 'announce', d }))))
      const chunks: Uint8Array[] = []
      for await (const c of lp.decode(s)) chunks.push(c.subarray())
      return JSON.parse(new TextDecoder().decode(chunks[0]))
    }
    assert.match((await ask({ ...good, voters: ['not a peer id'] })).message!, /voters\[0\]/)
    assert.match((await ask({ ...good, group: 'svc.orders.000000000000' })).message!, /group/)
    assert.match((await ask({ ...good, spec: { ...good.spec, mode: 'eventual' } })).message!, /spec\.mode/)
    const other = { ...good, createdAt: new Date(Date.now() + 1000).toISOString() }
    assert.equal((await ask({ ...other, group: (await import('../../../src/raft/service/index.js')).groupIdOf('orders', other.createdBy, other.createdAt) })).error, 'ServiceConflictError')
    assert.equal(target.backend.descriptor('orders')!.group, good.group, 'first descriptor kept')
  })

  it('a 4-replica service has 3 voters and a learner that serves reads and writes', async function () {
    this.timeout(70_000)
    const st = await peers[2].backend.apply(spec('wide', 4))
    assert.equal(st.replicas.filter(r => r.role === 'voter').length, 3)
    const learnerId = st.replicas.find(r => r.role === 'learner')!.peerId
    const learner = peers.find(p => p.id === learnerId)!
    await waitFor('learner replica', () => learner.backend.replica('wide') !== undefined, { timeoutMs: 30_000, intervalMs: 20 })
    // a replica placed as a learner starts with an empty log and knows its role once the leader's configuration reaches it
    await waitFor('the replica to know it is a learner', () => learner.backend.replica('wide')!.group.status().role === 'learner', { timeoutMs: 30_000, intervalMs: 20 })
    const { revision } = await waitFor('a write through the learner', async () => learner.backend.put('wide', 'a', '1'), { timeoutMs: 30_000, intervalMs: 100 })
    assert.deepEqual(await learner.backend.get('wide', 'a'), { key: 'a', value: '1', revision })
  })

  it('refuses forwarded requests from peers outside the verified registry', async () => {
    const stranger = await startLibp2p(await generateKeyPair('Ed25519'))
    try {
      const target = members('orders')[0]
      const s = await stranger.dialProtocol(target.libp2p.getMultiaddrs(), RAFT_KV_PROTOCOL)
      s.send(lp.encode.single(new TextEncoder().encode(JSON.stringify({ t: 'put', name: 'orders', key: 'k', value: 'evil' }))))
      const chunks: Uint8Array[] = []
      for await (const c of lp.decode(s)) chunks.push(c.subarray())
      assert.equal(JSON.parse(new TextDecoder().decode(chunks[0])).error, 'ForbiddenError')
    } finally {
      await stranger.stop()
    }
    await assert.rejects(peers[0].backend.get('orders', 'k'), KeyNotFoundError)
  })

  it('a restarted member reloads the descriptor from its datastore and catches up (snapshot path)', async () => {
    const victim = members('orders').find(p => !p.backend.replica('orders')!.group.isLeader)!
    const idx = peers.indexOf(victim)
    const port = Number(victim.libp2p.getMultiaddrs()[0].toString().split('/')[4])
    await stopPeer(victim)
    const writer = peers.find(p => p !== victim)!
    let last = 0
    for (let i = 0; i < 70; i++) last = (await writer.backend.put('orders', `k${i % 5}`, `v${i}`)).revision
    const restarted = await startPeer({ key: victim.key, datastore: victim.datastore, dir: victim.dir, port })
    peers[idx] = restarted
    assert.ok(restarted.backend.has('orders'), 'descriptor reloaded')
    await waitFor('restarted replica caught up', () => (restarted.backend.replica('orders')?.kv.revision ?? 0) >= last, { timeoutMs: 15_000, intervalMs: 50 })
    assert.ok(restarted.backend.replica('orders')!.group.status().snapshotIndex > 1, 'caught up through a snapshot')
    assert.deepEqual(await restarted.backend.get('orders', 'k4'), { key: 'k4', value: 'v69', revision: last })
  })
})

describe('raft KV backend: leader siting from the latency map', function () {
  this.timeout(40_000)
  const dir = new Directory()
  const peers: Array<{ libp2p: Libp2p, backend: RaftKvBackend, dataDir: string, id: string }> = []
  // x is far from the others; y and z are 2 ms apart: the leader belongs on y or z
  const rtt = new Map<string, number>()
  const oracle = { estimate: (a: string, b: string) => { const v = rtt.get(`${a}|${b}`) ?? rtt.get(`${b}|${a}`); return v === undefined ? null : { ms: v, errorMs: 0 } } }

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const libp2p = await startLibp2p(await generateKeyPair('Ed25519'))
      const id = libp2p.peerId.toString()
      dir.entries.set(id, { end: { peerId: id, region: 'r', zone: 'r-a', multiaddrs: libp2p.getMultiaddrs().map(a => a.toString()) } })
      const dataDir = await makeTempDir()
      const backend = createRaftBackend({ libp2p, registry: dir, datastore: new MemoryDatastore(), dataDir, logger: silent, tickMs: 20, electionTick: 10, latency: oracle, maintenanceMs: 200 })
      peers.push({ libp2p, backend, dataDir, id })
    }
    const [x, y, z] = peers.map(p => p.id)
    rtt.set(`${x}|${y}`, 15); rtt.set(`${x}|${z}`, 18); rtt.set(`${y}|${z}`, 2)
    for (const p of peers) await p.backend.start()
  })

  after(async () => {
    for (const p of peers) { await p.backend.stop(); await p.libp2p.stop(); await removeDir(p.dataDir) }
  })

  it('gives the best-sited voter the highest priority and moves leadership there if another voter wins', async () => {
    const [x, y, z] = peers.map(p => p.id)
    await peers[0].backend.apply(spec('sited'))
    const d = peers[0].backend.descriptor('sited')!
    assert.ok(d.priorities[y] > d.priorities[x] || d.priorities[z] > d.priorities[x])
    // hand leadership to the badly sited x; its maintenance loop must move it on to y or z
    await waitFor('replicas', () => peers.every(p => p.backend.replica('sited') !== undefined), { timeoutMs: 5000, intervalMs: 20 })
    const first = await waitFor('a leader', () => peers.find(p => p.backend.replica('sited')!.group.isLeader), { timeoutMs: 10_000, intervalMs: 20 })
    const t0 = first.backend.replica('sited')!.group.status().term
    if (first.id !== x) {
      first.backend.replica('sited')!.group.transferLeadership(x)
      await waitFor('x elected by the transfer', () => peers[0].backend.replica('sited')!.group.status().term > t0, { timeoutMs: 10_000, intervalMs: 5 })
    }
    const st = await waitFor('leadership moved on to y or z', async () => { const s = await peers[0].backend.status('sited'); return (s.leader === y || s.leader === z) && s.term! >= t0 + (first.id === x ? 1 : 2) ? s : undefined }, { timeoutMs: 10_000, intervalMs: 50 })
    assert.notEqual(st.leader, x)
  })
})
