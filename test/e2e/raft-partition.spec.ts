/**
 * e2e (issue 10): a strong service with 5 replicas on 5 real `dcis start`
 * processes (from dist/, under --unhandled-rejections=strict, link emulator
 * with link faults: docs/link-faults.md) is partitioned {3} | {2} for 20 s.
 *
 * - every peer keeps running and answers /healthz throughout;
 * - the majority side keeps writing (PUTs acknowledged during the partition);
 * - the minority side never acknowledges a write it started during the
 *   partition: it answers 503 or the client's deadline passes, never a 500;
 * - after the heal all five agree: every key read (linearizably) from every
 *   peer gives the same value and revision, no acknowledged write is lost.
 *
 * Needs dist/ (`npm run build`). PARTITION_SEED=<n> replays the choice of
 * sides and the clients' keys.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'
import { createPrng } from '../../src/latency/prng.js'
import { REPO_ROOT } from '../helpers/cli.js'
import { tryHttp } from '../helpers/http.js'
import type { Json } from '../helpers/http.js'
import { writeLinkFaults } from '../helpers/link-faults.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'

const SEED = Number(process.env.PARTITION_SEED ?? Math.floor(Math.random() * 2 ** 31))
const DIST_CLI = join(REPO_ROOT, 'dist/cli/main.js')
const STRICT = '--unhandled-rejections=strict'
const PARTITION_MS = 20_000
const SERVICE = 'bank'
const MANIFEST = JSON.stringify({ apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: SERVICE }, spec: { replicas: 5, runtime: 'wasi', consistency: { mode: 'strong' } } })

async function http (peer: LocalPeer, method: string, path: string, body?: string, timeoutMs = 8000): Promise<{ status: number, json: Json }> {
  return tryHttp(peer.apiUrl, method, path, body, path.includes('/kv/') ? 'text/plain' : 'application/json', timeoutMs)
}

interface Ack { value: string, revision: number }

describe('e2e: raft partition {3} | {2} of a 5-replica strong service', function () {
  this.timeout(240_000)
  let dir: string
  let mesh: LocalMesh | undefined

  before(async () => {
    if (!existsSync(DIST_CLI)) throw new Error('dist/ is missing: run `npm run build` first')
    dir = await mkdtemp(join(tmpdir(), 'dcis-partition-'))
  })
  after(async () => {
    await mesh?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it(`the majority writes, the minority refuses cleanly, all five agree after the heal (seed ${SEED})`, async () => {
    const rng = createPrng(SEED)
    const faults = join(dir, 'faults.json')
    await writeLinkFaults(faults, [])
    const saved = process.env.NODE_OPTIONS
    process.env.NODE_OPTIONS = [saved ?? '', STRICT].join(' ').trim()
    try {
      mesh = new LocalMesh({ nodes: 5, regions: ['eu-west'], basePort: await freePortBlock(5), dataDir: dir, logLevel: 'warn', command: [process.execPath, DIST_CLI], linkFaults: faults })
      await mesh.start()
    } finally {
      if (saved === undefined) delete process.env.NODE_OPTIONS
      else process.env.NODE_OPTIONS = saved
    }
    const peers = mesh.peers
    await waitFor('a connected mesh', async () => LocalMesh.fullyConnected(await mesh!.snapshots()), { timeoutMs: 90_000 })
    await waitFor('manifest applied', async () => { const r = await http(peers[0], 'POST', '/v1/manifests', MANIFEST); return r.status === 201 || r.status === 200 }, { timeoutMs: 30_000 })
    const status = await waitFor('five voters and a leader', async () => {
      const r = await http(peers[0], 'GET', `/v1/services/${SERVICE}`)
      return r.status === 200 && r.json.replicas.length === 5 && typeof r.json.leader === 'string' ? r.json : undefined
    }, { timeoutMs: 30_000 })
    assert.deepEqual(new Set((status.replicas as Array<{ peerId: string }>).map(r => r.peerId)), new Set(peers.map(p => p.peerId)))

    const acked = new Map<string, Ack>()
    const put = async (p: LocalPeer, key: string, value: string, timeoutMs = 8000): Promise<number> => {
      const r = await http(p, 'PUT', `/v1/services/${SERVICE}/kv/${key}`, value, timeoutMs)
      if (r.status === 200) {
        const prev = acked.get(key)
        if (prev === undefined || r.json.revision > prev.revision) acked.set(key, { value, revision: r.json.revision })
      }
      return r.status
    }
    // every peer can write before the partition
    for (const p of peers) {
      await waitFor(`a write through peer ${p.index}`, async () => (await put(p, `before-${p.index}`, `v${p.index}`)) === 200, { timeoutMs: 30_000 })
    }

    // seeded sides; the leader is on either side depending on the seed
    const order = peers.map(p => ({ p, r: rng.next() })).sort((a, b) => a.r - b.r).map(x => x.p)
    const majority = order.slice(0, 3)
    const minority = order.slice(3)
    const site = (p: LocalPeer): string => `peer-${p.index}`
    const leaderBefore = status.leader as string
    console.log(`      majority ${majority.map(p => p.index).join(',')} | minority ${minority.map(p => p.index).join(',')}; leader before on the ${majority.some(p => p.peerId === leaderBefore) ? 'majority' : 'minority'} side (seed ${SEED})`)

    // returns once every peer applies the rules: writes started after it are inside the partition
    await writeLinkFaults(faults, [
      { from: majority.map(site), to: minority.map(site), action: 'block' },
      { from: minority.map(site), to: majority.map(site), action: 'block' }
    ], peers)
    const partitionedAt = Date.now()

    const majorityAcks: string[] = []
    const minorityStatuses: number[] = []
    const healthFailures: string[] = []
    let seq = 0
    const writer = async (p: LocalPeer, onMinority: boolean): Promise<void> => {
      while (Date.now() - partitionedAt < PARTITION_MS) {
        const key = `p${p.index}-k${Math.floor(rng.next() * 4)}`
        const value = `${p.index}.${seq++}`
        const st = await put(p, key, value)
        if (onMinority) minorityStatuses.push(st)
        else if (st === 200) majorityAcks.push(key)
        if (st !== 200) await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
    const watcher = async (): Promise<void> => {
      while (Date.now() - partitionedAt < PARTITION_MS) {
        for (const p of peers) {
          if (p.exited) healthFailures.push(`peer ${p.index} exited (${String(p.exitCode)})`)
          else if ((await http(p, 'GET', '/healthz', undefined, 5000)).status !== 200) healthFailures.push(`peer ${p.index} /healthz`)
        }
        await new Promise(resolve => setTimeout(resolve, 1000))
      }
    }
    await Promise.all([...majority.map(async p => writer(p, false)), ...minority.map(async p => writer(p, true)), watcher()])

    assert.deepEqual(healthFailures, [], `every peer runs and is healthy during the partition (seed ${SEED})`)
    assert.ok(majorityAcks.length >= 3, `the majority side kept writing: ${majorityAcks.length} acknowledged PUTs (seed ${SEED})`)
    assert.ok(minorityStatuses.length > 0, 'the minority side was asked')
    assert.deepEqual(minorityStatuses.filter(s => s === 200), [], `the minority acknowledged no write (seed ${SEED})`)
    // 503: no quorum (typed error); 0: the client's 8 s deadline passed
    const unclean = minorityStatuses.filter(s => s !== 503 && s !== 0)
    assert.deepEqual(unclean, [], `the minority answers 503 or times out, statuses: ${minorityStatuses.join(',')} (seed ${SEED})`)
    console.log(`      during ${PARTITION_MS / 1000} s: ${majorityAcks.length} majority writes acknowledged; minority answers ${[...new Set(minorityStatuses)].map(s => `${s}×${minorityStatuses.filter(x => x === s).length}`).join(' ')}`)

    // ---- heal ----
    await writeLinkFaults(faults, [])
    for (const p of minority) {
      await waitFor(`a write through minority peer ${p.index} after the heal`, async () => (await put(p, `after-${p.index}`, `healed${p.index}`)) === 200, { timeoutMs: 60_000, intervalMs: 500 })
    }
    const keys = [...acked.keys()].sort()
    for (const key of keys) {
      const seen = await Promise.all(peers.map(async p => waitFor(`${key} at peer ${p.index}`, async () => {
        const r = await http(p, 'GET', `/v1/services/${SERVICE}/kv/${key}`)
        return r.status === 200 ? { value: r.json.value as string, revision: r.json.revision as number } : undefined
      }, { timeoutMs: 30_000 })))
      for (const s of seen) assert.deepEqual(s, seen[0], `all five agree on ${key}: ${JSON.stringify(seen)} (seed ${SEED})`)
      const a = acked.get(key)!
      assert.ok(seen[0].revision >= a.revision, `acknowledged ${key}@${a.revision} not lost: read ${JSON.stringify(seen[0])} (seed ${SEED})`)
      if (seen[0].revision === a.revision) assert.equal(seen[0].value, a.value)
    }
    // and their logs agree: every replica applied the same commit index once quiet
    await waitFor('equal commit indexes', async () => {
      const idx = await Promise.all(peers.map(async p => (await http(p, 'GET', `/v1/services/${SERVICE}`)).json?.commitIndex as number | undefined))
      return idx.every(i => i !== undefined && i === idx[0])
    }, { timeoutMs: 30_000 })
    for (const p of peers) {
      assert.equal(p.exited, false, `peer ${p.index} still runs`)
      const log = await readFile(p.logFile, 'utf8')
      assert.doesNotMatch(log, /"level":60/, `peer ${p.index} logged no fatal line`)
    }
  })
})
