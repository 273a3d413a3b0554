/**
 * Issue 10: a waiter abandoned by its caller (client gone, deadline passed,
 * group stopped) is settled without an unhandled rejection. One replica of a
 * 3-voter group survives alone (no quorum, no leader); proposals, reads and
 * leader waits are aborted at seeded moments before, during and after the
 * group's own deadline, and the group is stopped with waiters pending.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { RaftGroup, RaftGroupStoppedError, RaftTimeoutError } from '../../../src/raft/node/index.js'
import { encodeKvCommand, KvStateMachine } from '../../../src/raft/service/kv-state.js'
import type { KvResult } from '../../../src/raft/service/kv-state.js'
import { createPrng } from '../../../src/latency/prng.js'
import { waitFor } from '../../helpers/wait.js'
import { removeDir, silent, startTestPeer, stopTestPeer } from './helpers.js'
import type { TestPeer } from './helpers.js'

const SEED = Number(process.env.ABANDON_SEED ?? 10)
const GROUP = 'abandon-test'
const put = (key: string, value: string): Uint8Array => encodeKvCommand({ op: 'put', key, value })

describe('raft: abandoned waiters never reject unobserved (issue 10)', function () {
  this.timeout(60_000)
  const book = new Map<string, string[]>()
  let peers: TestPeer[] = []
  let groups: Array<RaftGroup<KvResult>> = []
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }

  before(() => { process.on('unhandledRejection', onUnhandled) })
  after(() => { process.off('unhandledRejection', onUnhandled) })

  beforeEach(async () => {
    unhandled.length = 0
    peers = await Promise.all([0, 1, 2].map(async () => startTestPeer(book)))
    const voters = peers.map(p => p.id)
    groups = await Promise.all(peers.map(async p => {
      const g = new RaftGroup<KvResult>({ group: GROUP, self: p.id, dir: join(p.dir, 'raft', GROUP), transport: p.transport, stateMachine: new KvStateMachine(), voters, logger: silent, tickMs: 20, electionTick: 10, timeoutMs: 600 })
      await g.start()
      return g
    }))
    await waitFor('a leader', () => groups.find(g => g.isLeader), { timeoutMs: 10_000, intervalMs: 20 })
    const leader = groups.find(g => g.isLeader)!
    assert.deepEqual(await leader.propose(put('a', '1')), { ok: true, revision: 1 })
  })

  afterEach(async () => {
    await Promise.all(groups.map(async g => g.stop()))
    await Promise.all(peers.map(async p => { await stopTestPeer(p); await removeDir(p.dir) }))
    groups = []
    peers = []
  })

  /** stops every replica but `keep` (their peers too), then waits until `keep` knows no leader */
  async function isolate (keep: number): Promise<RaftGroup<KvResult>> {
    for (let i = 0; i < groups.length; i++) {
      if (i === keep) continue
      await groups[i].stop()
      await stopTestPeer(peers[i])
    }
    const g = groups[keep]
    await waitFor('the survivor to lose its leader', () => g.leader === null, { timeoutMs: 15_000, intervalMs: 20 })
    return g
  }

  async function settleTicks (): Promise<void> {
    // let pending timers and rejections surface before checking
    for (let i = 0; i < 3; i++) await new Promise(resolve => setTimeout(resolve, 50))
  }

  it(`proposals, reads and leader waits aborted at random moments reject only to their callers (seed ${SEED})`, async () => {
    const g = await isolate(0)
    const prng = createPrng(SEED)
    const calls: Array<Promise<unknown>> = []
    const outcomes: string[] = []
    for (let i = 0; i < 30; i++) {
      // the group's own deadline is 600 ms: abort before, around and after it, or not at all
      const abortAt = Math.floor(prng.next() * 1000)
      const ac = new AbortController()
      const timer = abortAt < 900 ? setTimeout(() => { ac.abort(new Error('client gone')) }, abortAt) : undefined
      const kind = i % 3
      const call = kind === 0
        ? g.propose(put(`k${i}`, 'v'), { signal: ac.signal })
        : kind === 1
          ? g.readBarrier({ signal: ac.signal })
          : g.waitForLeader({ signal: ac.signal })
      calls.push(call.then(() => { outcomes.push('ok') }, (err: Error) => {
        outcomes.push(err.name)
        assert.ok(err instanceof RaftTimeoutError, `call ${i} (abort at ${abortAt} ms) failed with ${err.name}: ${err.message} (seed ${SEED})`)
      }).finally(() => { clearTimeout(timer) }))
    }
    await Promise.all(calls)
    await settleTicks()
    assert.deepEqual(unhandled.map(e => (e as Error)?.message), [], `unhandled rejections (seed ${SEED})`)
    assert.ok(outcomes.every(o => o === 'RaftTimeoutError'), `outcomes: ${outcomes.join(',')} (seed ${SEED})`)
  })

  it('an already aborted signal and a stop with waiters pending reject only to their callers', async () => {
    const g = await isolate(1)
    await assert.rejects(g.propose(put('x', '1'), { signal: AbortSignal.abort() }), RaftTimeoutError)
    await assert.rejects(g.readBarrier({ signal: AbortSignal.abort() }), RaftTimeoutError)
    const pending = [
      g.propose(put('y', '1'), { timeoutMs: 30_000 }),
      g.readBarrier({ timeoutMs: 30_000 }),
      g.waitForLeader({ timeoutMs: 30_000 })
    ].map(async p => p.then(() => 'ok', (err: Error) => err))
    await new Promise(resolve => setTimeout(resolve, 100))
    await g.stop()
    const results = await Promise.all(pending)
    for (const r of results) assert.ok(r instanceof RaftGroupStoppedError || r instanceof RaftTimeoutError, `after stop: ${String(r)}`)
    await settleTicks()
    assert.deepEqual(unhandled.map(e => (e as Error)?.message), [])
  })
})
