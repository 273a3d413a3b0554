/**
 * Membership changes in the production driver (RaftGroup over the real
 * libp2p transport): a dead voter is replaced by a new peer by joint
 * consensus while writes keep committing; the joiner starts with an empty
 * WAL and is brought up to date by the leader (snapshot, then log).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { RaftGroup, RaftNotLeaderError } from '../../../src/raft/node/index.js'
import { encodeKvCommand, KvStateMachine } from '../../../src/raft/service/kv-state.js'
import type { KvResult } from '../../../src/raft/service/kv-state.js'
import { waitFor } from '../../helpers/wait.js'
import { removeDir, silent, startTestPeer, stopTestPeer } from './helpers.js'
import type { TestPeer } from './helpers.js'

interface Replica { peer: TestPeer, group: RaftGroup<KvResult>, kv: KvStateMachine }

const GROUP = 'kv-members'

async function startReplica (peer: TestPeer, voters: string[], opts: { join?: boolean, accept?: string[] } = {}): Promise<Replica> {
  const kv = new KvStateMachine()
  const group = new RaftGroup<KvResult>({
    group: GROUP, self: peer.id, dir: join(peer.dir, 'raft', GROUP), transport: peer.transport, stateMachine: kv,
    voters, logger: silent, tickMs: 50, electionTick: 10, snapshotEvery: 20, keepEntries: 5,
    join: opts.join, accept: opts.accept !== undefined ? (p) => opts.accept!.includes(p) : undefined
  })
  await group.start()
  return { peer, group, kv }
}

async function leaderOf (rs: Replica[]): Promise<Replica> {
  return waitFor('a leader', () => {
    const l = rs.find(r => r.group.isLeader)
    if (l === undefined) return undefined
    return rs.every(r => r.group.leader === l.peer.id) ? l : undefined
  }, { timeoutMs: 30_000, intervalMs: 20 })
}

const put = (key: string, value: string): Uint8Array => encodeKvCommand({ op: 'put', key, value })

describe('raft driver: membership changes by joint consensus', function () {
  this.timeout(180_000)
  const book = new Map<string, string[]>()
  let peers: TestPeer[] = []
  let rs: Replica[] = []

  beforeEach(async () => {
    peers = await Promise.all([0, 1, 2, 3].map(async () => startTestPeer(book)))
  })

  afterEach(async () => {
    await Promise.all(rs.map(async r => r.group.stop()))
    await Promise.all(peers.map(async p => { await stopTestPeer(p).catch(() => {}); await removeDir(p.dir) }))
    rs = []
    peers = []
  })

  it('replaces a stopped voter with a new peer; writes commit before, during and after; the joiner has the exact state', async () => {
    const voters = peers.slice(0, 3).map(p => p.id)
    rs = await Promise.all(peers.slice(0, 3).map(async p => startReplica(p, voters)))
    let leader = await leaderOf(rs)
    for (let i = 0; i < 30; i++) await leader.group.propose(put(`k${i % 7}`, String(i)))
    // a follower dies
    const dead = rs.find(r => r !== leader)!
    await dead.group.stop()
    rs = rs.filter(r => r !== dead)
    // the new peer joins with an empty WAL, accepting the survivors' messages
    const survivors = rs.map(r => r.peer.id)
    const joiner = await startReplica(peers[3], [], { join: true, accept: survivors })
    rs.push(joiner)
    assert.equal(joiner.group.status().voters.length, 0, 'a joiner bootstraps no configuration of its own')
    // writes keep committing while the configuration changes (quorum 2 of 3 in both halves of the joint config)
    let writes = 30
    let writing = true
    const writer = (async () => {
      while (writing) {
        const r = await leader.group.propose(put('live', String(writes)), { timeoutMs: 30_000 })
        assert.equal(r.ok, true)
        writes++
      }
    })()
    const target = [...survivors, peers[3].id]
    // (under a loaded machine leadership may move meanwhile: ask whoever leads now)
    for (let attempt = 0; ; attempt++) {
      try {
        await leader.group.changeMembership({ voters: target }, { timeoutMs: 60_000 })
        break
      } catch (err) {
        if (!(err instanceof RaftNotLeaderError) || attempt > 20) throw err
        leader = await leaderOf(rs)
      }
    }
    writing = false
    await writer
    leader = await leaderOf(rs)
    assert.deepEqual(leader.group.membership(), { voters: [...target].sort(), learners: [], votersOutgoing: [], joint: false })
    await leader.group.propose(put('after', 'yes'))
    await waitFor('the joiner applied everything', () => joiner.kv.get('after')?.value === 'yes', { timeoutMs: 30_000, intervalMs: 20 })
    assert.deepEqual(joiner.group.membership().voters, [...target].sort())
    await waitFor('the leader applied as far as the joiner', () => leader.kv.revision === joiner.kv.revision, { timeoutMs: 5000, intervalMs: 20 })
    for (let i = 0; i < 7; i++) assert.deepEqual(joiner.kv.get(`k${i}`), leader.kv.get(`k${i}`))
    assert.deepEqual(joiner.kv.get('live'), leader.kv.get('live'))
    // the new configuration elects without the dead voter: stop the leader, the two left (joiner included) elect
    assert.ok(writes > 30)
    const oldLeader = leader
    await oldLeader.group.stop()
    rs = rs.filter(r => r !== oldLeader)
    // 2 of 3 voters remain: a new leader is elected among them and commits
    leader = await leaderOf(rs)
    const r = await leader.group.propose(put('final', '1'), { timeoutMs: 15_000 })
    assert.equal(r.ok, true)
  })

  it('refuses a membership change on a follower (RaftNotLeaderError)', async () => {
    const voters = peers.slice(0, 3).map(p => p.id)
    rs = await Promise.all(peers.slice(0, 3).map(async p => startReplica(p, voters)))
    const leader = await leaderOf(rs)
    const follower = rs.find(r => r !== leader)!
    await assert.rejects(follower.group.changeMembership({ voters: [...voters, peers[3].id] }), RaftNotLeaderError)
    await assert.rejects(leader.group.changeMembership({ voters: [] }), RangeError)
  })
})
