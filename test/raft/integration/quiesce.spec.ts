/**
 * Quiescence (multi-Raft hibernation) over the real libp2p transport: an idle
 * 3-replica group stops ticking and sending; a write wakes it and commits; a
 * read on a quiesced follower wakes it; when the quiesced leader's peer goes
 * away the others wake (libp2p peer:disconnect) and elect a new leader.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { RaftGroup } from '../../../src/raft/node/index.js'
import { encodeKvCommand, KvStateMachine } from '../../../src/raft/service/kv-state.js'
import type { KvResult } from '../../../src/raft/service/kv-state.js'
import { waitFor } from '../../helpers/wait.js'
import { removeDir, silent, startTestPeer, stopTestPeer } from './helpers.js'
import type { TestPeer } from './helpers.js'

interface Replica { peer: TestPeer, group: RaftGroup<KvResult>, kv: KvStateMachine }

const GROUP = 'quiesce-test'
const TICK_MS = 20

async function startReplica (peer: TestPeer, voters: string[]): Promise<Replica> {
  const kv = new KvStateMachine()
  const group = new RaftGroup<KvResult>({
    group: GROUP, self: peer.id, dir: join(peer.dir, 'raft', GROUP), transport: peer.transport, stateMachine: kv,
    voters, logger: silent, tickMs: TICK_MS, electionTick: 10
  })
  await group.start()
  return { peer, group, kv }
}

const put = (key: string, value: string): Uint8Array => encodeKvCommand({ op: 'put', key, value })

describe('raft: idle groups quiesce and wake up safely', function () {
  this.timeout(60_000)
  const book = new Map<string, string[]>()
  let peers: TestPeer[] = []
  let rs: Replica[] = []

  beforeEach(async () => {
    peers = await Promise.all([0, 1, 2].map(async () => startTestPeer(book)))
    const voters = peers.map(p => p.id)
    rs = await Promise.all(peers.map(async p => startReplica(p, voters)))
  })

  afterEach(async () => {
    await Promise.all(rs.map(async r => r.group.stop()))
    await Promise.all(peers.map(async p => { await stopTestPeer(p); await removeDir(p.dir) }))
    rs = []
    peers = []
  })

  const leaderOf = async (among: Replica[]): Promise<Replica> => waitFor('a leader', () => {
    const l = among.find(r => r.group.isLeader)
    return l !== undefined && among.every(r => r.group.leader === l.peer.id) ? l : undefined
  }, { timeoutMs: 20_000, intervalMs: 20 })

  const allQuiesced = async (among: Replica[]): Promise<void> => {
    await waitFor('every replica quiesced', () => among.every(r => r.group.isQuiesced) ? true : undefined, { timeoutMs: 20_000, intervalMs: 20 })
  }

  it('stops sending when idle, wakes on a write and on a follower read, and quiesces again', async () => {
    const leader = await leaderOf(rs)
    await leader.group.propose(put('a', '1'))
    await allQuiesced(rs)
    // quiesced: no frame leaves any peer during 20 ticks (an awake leader sends a heartbeat per tick)
    const sent = peers.map(p => p.transport.stats.sent)
    await new Promise(resolve => setTimeout(resolve, TICK_MS * 20))
    assert.deepEqual(peers.map(p => p.transport.stats.sent), sent, 'a quiesced group sent frames')
    assert.ok(rs.every(r => r.group.isQuiesced))

    // a write wakes the group and commits everywhere
    const r = await leader.group.propose(put('a', '2'))
    assert.equal(r.ok, true)
    await waitFor('replicated', () => rs.every(x => x.kv.get('a')?.value === '2') ? true : undefined, { timeoutMs: 10_000 })
    await allQuiesced(rs)

    // a linearizable read on a quiesced follower wakes it (ReadIndex round trip to the leader)
    const follower = rs.find(x => x !== leader)!
    await follower.group.readBarrier({ timeoutMs: 10_000 })
    assert.equal(follower.kv.get('a')?.value, '2')
    await allQuiesced(rs)
    assert.equal(leader.group.isLeader, true, 'quiescing must not change the leader')
    assert.ok(rs.every(x => x.group.quiescedCount >= 2))
  })

  it('a quiesced group whose leader peer goes away elects a new leader and keeps its data', async () => {
    const leader = await leaderOf(rs)
    await leader.group.propose(put('k', 'before'))
    await allQuiesced(rs)
    const idx = rs.indexOf(leader)
    await leader.group.stop()
    await stopTestPeer(peers[idx])
    const rest = rs.filter(x => x !== leader)
    rs = rest
    const next = await leaderOf(rest)
    assert.notEqual(next.peer.id, leader.peer.id)
    const w = await next.group.propose(put('k', 'after'), { timeoutMs: 10_000 })
    assert.equal(w.ok, true)
    await waitFor('replicated on both', () => rest.every(x => x.kv.get('k')?.value === 'after') ? true : undefined, { timeoutMs: 10_000 })
    await removeDir(peers[idx].dir)
    peers = peers.filter((_, i) => i !== idx)
  })
})

describe('raft: a single-voter group (the leader counts itself only after its own fsync)', function () {
  this.timeout(30_000)
  const book = new Map<string, string[]>()
  let peer: TestPeer | undefined
  let r: Replica | undefined

  afterEach(async () => {
    await r?.group.stop()
    if (peer !== undefined) { await stopTestPeer(peer); await removeDir(peer.dir) }
    r = undefined
    peer = undefined
  })

  it('elects itself, commits, serves a ReadIndex read, quiesces and wakes on the next write', async () => {
    peer = await startTestPeer(book)
    r = await startReplica(peer, [peer.id])
    await waitFor('leader', () => r!.group.isLeader ? true : undefined, { timeoutMs: 10_000, intervalMs: 20 })
    const w = await r.group.propose(put('x', '1'), { timeoutMs: 10_000 })
    assert.equal(w.ok, true)
    await r.group.readBarrier({ timeoutMs: 10_000 })
    assert.equal(r.kv.get('x')?.value, '1')
    await waitFor('quiesced', () => r!.group.isQuiesced ? true : undefined, { timeoutMs: 10_000, intervalMs: 20 })
    assert.equal((await r.group.propose(put('x', '2'), { timeoutMs: 10_000 })).ok, true)
    assert.equal(r.kv.get('x')?.value, '2')
  })
})
