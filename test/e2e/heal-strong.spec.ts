/**
 * e2e, done-when of issue 11 (strong): 5 real `dcis start` processes, a
 * strong service with 3 voters; SIGKILL of a voter's peer while a client
 * keeps writing. Every write keeps succeeding (quorum 2 of 3, also during
 * the joint-consensus change), and within 60 s the group has 3 live voters
 * again: the leader replaced the dead voter by joint consensus in the
 * production driver, and the new voter serves the exact data.
 */
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { waitFor } from '../helpers/wait.js'
import { apply, byId, http, killHard, startHealMesh, status, waitHealed } from './heal-helpers.js'
import type { HealMesh } from './heal-helpers.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'

const GRACE_MS = 5000
const NAME = 'ledger'

describe('e2e: a strong service heals after kill -9 of a voter\'s peer', function () {
  this.timeout(300_000)
  let m: HealMesh | undefined

  after(async () => { await m?.stop() })

  it('writes keep succeeding; 3 live voters again within 60 s; the new voter serves the last written value', async () => {
    m = await startHealMesh(5, GRACE_MS)
    const { mesh } = m
    await apply(mesh.peers[0], { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: NAME }, spec: { replicas: 3, runtime: 'wasi', consistency: { mode: 'strong', latencyRadiusMs: 50 } } })
    const st0 = await waitFor('a leader', async () => { const s = await status(mesh.peers[0], NAME); return typeof s?.leader === 'string' ? s : undefined }, { timeoutMs: 30_000 })
    const voters: string[] = st0.replicas.filter((r: { role: string }) => r.role === 'voter').map((r: { peerId: string }) => r.peerId)
    assert.equal(voters.length, 3)
    // the victim: a voter that is not the leader; the client writes through a surviving voter
    const victimId = voters.find(v => v !== st0.leader)!
    const writer: LocalPeer = byId(mesh, voters.find(v => v !== victimId)!)
    let stop = false
    let written = 0
    const failures: Array<{ status: number, json: unknown }> = []
    let lastValue = ''
    const client = (async () => {
      while (!stop) {
        const value = `w${written}`
        const r = await http(writer, 'PUT', `/v1/services/${NAME}/kv/last`, value)
        if (r.status === 200) { written++; lastValue = value } else failures.push(r)
      }
    })()
    let healed: Awaited<ReturnType<typeof waitHealed>> | undefined
    try {
      await waitFor('writes before the kill', () => written >= 20, { timeoutMs: 30_000, intervalMs: 20 })
      await killHard(byId(mesh, victimId))
      const t0 = performance.now()
      healed = await waitHealed(writer, NAME, victimId, 3, t0)
      const at = written
      await waitFor('writes after the heal', () => written >= at + 20, { timeoutMs: 30_000, intervalMs: 20 })
    } finally {
      stop = true
      await client
    }
    assert.ok(healed !== undefined)
    const { st, ms } = healed
    console.log(`      strong time-to-heal: ${Math.round(ms)} ms (grace ${GRACE_MS} ms), ${written} writes, ${failures.length} failed`)
    assert.deepEqual(failures, [], 'every write succeeded throughout')
    assert.ok(ms < 60_000)
    const now: string[] = st.replicas.filter((r: { role: string }) => r.role === 'voter').map((r: { peerId: string }) => r.peerId)
    assert.equal(now.length, 3)
    const newcomer = now.find(v => !voters.includes(v))
    assert.ok(newcomer !== undefined, 'a new peer is a voter')
    const np = byId(mesh, newcomer)
    // the new voter holds a replica and serves the exact last value from its own state (ReadIndex)
    const s = await waitFor('the newcomer holds a replica', async () => { const x = await status(np, NAME); return x?.local === true ? x : undefined }, { timeoutMs: 30_000 })
    assert.ok(s.liveReplicas.length === 3)
    const r = await http(np, 'GET', `/v1/services/${NAME}/kv/last`)
    assert.equal(r.status, 200)
    assert.equal(r.json.value, lastValue)
    assert.equal(r.json.revision, written)
  })
})
