/**
 * The Raft driver over the real libp2p transport: 3 replicas on 127.0.0.1,
 * each with its own WAL directory. Election, replication, CAS, ReadIndex
 * reads, follower restart catching up by log and by snapshot.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { RaftGroup } from '../../../src/raft/node/index.js'
import { encodeKvCommand, KvStateMachine } from '../../../src/raft/service/kv-state.js'
import type { KvCommand, KvResult } from '../../../src/raft/service/kv-state.js'
import { waitFor } from '../../helpers/wait.js'
import { removeDir, silent, startTestPeer, stopTestPeer } from './helpers.js'
import type { TestPeer } from './helpers.js'

interface Replica { peer: TestPeer, group: RaftGroup<KvResult>, kv: KvStateMachine }

const GROUP = 'kv-test'

async function startReplica (peer: TestPeer, voters: string[], opts: { snapshotEvery?: number, keepEntries?: number } = {}): Promise<Replica> {
  const kv = new KvStateMachine()
  const group = new RaftGroup<KvResult>({
    group: GROUP, self: peer.id, dir: join(peer.dir, 'raft', GROUP), transport: peer.transport, stateMachine: kv,
    voters, logger: silent, tickMs: 20, electionTick: 10, snapshotEvery: opts.snapshotEvery ?? 10_000, keepEntries: opts.keepEntries ?? 1000
  })
  await group.start()
  return { peer, group, kv }
}

async function leaderOf (rs: Replica[]): Promise<Replica> {
  return waitFor('a leader', () => {
    const l = rs.find(r => r.group.isLeader)
    if (l === undefined) return undefined
    return rs.every(r => r.group.leader === l.peer.id) ? l : undefined
  }, { timeoutMs: 10_000, intervalMs: 20 })
}

const put = (key: string, value: string, ifRevision?: number): Uint8Array => encodeKvCommand({ op: 'put', key, value, ifRevision } satisfies KvCommand)

describe('raft driver over libp2p (3 replicas)', function () {
  this.timeout(30_000)
  const book = new Map<string, string[]>()
  let peers: TestPeer[] = []
  let rs: Replica[] = []

  beforeEach(async () => {
    peers = await Promise.all([0, 1, 2].map(async () => startTestPeer(book)))
    const voters = peers.map(p => p.id)
    rs = await Promise.all(peers.map(async p => startReplica(p, voters, { snapshotEvery: 25, keepEntries: 5 })))
  })

  afterEach(async () => {
    await Promise.all(rs.map(async r => r.group.stop()))
    await Promise.all(peers.map(async p => { await stopTestPeer(p); await removeDir(p.dir) }))
    rs = []
    peers = []
  })

  it('elects one leader, replicates writes to every replica, CAS decides in the log', async () => {
    const leader = await leaderOf(rs)
    const r1 = await leader.group.propose(put('a', '1'))
    assert.deepEqual(r1, { ok: true, revision: 1 })
    // a proposal made at a follower is forwarded by the core and applied everywhere
    const follower = rs.find(r => r !== leader)!
    const r2 = await follower.group.propose(put('a', '2', 1))
    assert.deepEqual(r2, { ok: true, revision: 2 })
    const r3 = await follower.group.propose(put('a', '3', 1))
    assert.deepEqual(r3, { ok: false, error: 'mismatch', actual: 2 })
    const r4 = await leader.group.propose(put('b', 'x', 0))
    assert.deepEqual(r4, { ok: true, revision: 3 })
    const r5 = await leader.group.propose(put('b', 'y', 0))
    assert.deepEqual(r5, { ok: false, error: 'mismatch', actual: 3 })
    await waitFor('all replicas applied', () => rs.every(r => r.kv.get('b')?.revision === 3), { timeoutMs: 5000, intervalMs: 20 })
    for (const r of rs) assert.deepEqual(r.kv.get('a'), { value: '2', revision: 2 })
  })

  it('a ReadIndex read on a follower sees every write acknowledged before it', async () => {
    const leader = await leaderOf(rs)
    const follower = rs.find(r => r !== leader)!
    for (let i = 0; i < 20; i++) {
      const w = await leader.group.propose(put('k', String(i)))
      assert.equal(w.ok, true)
      await follower.group.readBarrier()
      assert.equal(follower.kv.get('k')?.value, String(i), `read ${i} after its write was acknowledged`)
    }
  })

  it('a restarted follower catches up by log, and by snapshot once the log is compacted', async () => {
    const leader = await leaderOf(rs)
    const victim = rs.find(r => r !== leader)!
    await victim.group.stop()
    for (let i = 0; i < 5; i++) assert.equal((await leader.group.propose(put(`l${i}`, 'v'))).ok, true)
    let restarted = await startReplica(victim.peer, peers.map(p => p.id), { snapshotEvery: 25, keepEntries: 5 })
    rs[rs.indexOf(victim)] = restarted
    await waitFor('restarted follower caught up by log', () => restarted.kv.get('l4') !== undefined, { timeoutMs: 10_000, intervalMs: 20 })
    assert.equal(restarted.group.status().snapshotIndex, 1, 'no snapshot needed for a short gap')

    // now a long gap: the leader snapshots and compacts past what the follower has
    await restarted.group.stop()
    const l2 = await leaderOf(rs.filter(r => r !== restarted))
    for (let i = 0; i < 80; i++) assert.equal((await l2.group.propose(put(`s${i % 7}`, String(i)))).ok, true)
    assert.ok(l2.group.status().snapshotIndex > 1, 'leader took a snapshot')
    restarted = await startReplica(victim.peer, peers.map(p => p.id), { snapshotEvery: 25, keepEntries: 5 })
    rs[rs.indexOf(rs.find(r => r.peer === victim.peer)!)] = restarted
    await waitFor('caught up by snapshot', () => restarted.kv.revision === l2.kv.revision, { timeoutMs: 10_000, intervalMs: 20 })
    assert.ok(restarted.group.status().snapshotIndex > 1, 'the follower installed a snapshot')
    assert.deepEqual(restarted.kv.snapshot(), l2.kv.snapshot())
  })
})
