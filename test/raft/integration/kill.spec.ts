/**
 * Real processes: 3 strong-KV peers (each its own node process, libp2p on
 * 127.0.0.1, WAL + LevelDB datastore on disk). 8 concurrent clients write and
 * read through all peers; the leader is SIGKILLed mid-load, writes continue
 * on the survivors, the killed peer restarts from its disk and catches up.
 * The client history must be linearizable and no acknowledged write lost.
 * Seeded: RAFT_KILL_SEED=<n> replays the client schedule.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { freePortBlock } from '../../helpers/ports.js'
import { waitFor } from '../../helpers/wait.js'
import { checkRevisionHistory } from './history.js'
import type { HistOp } from './history.js'
import { makeTempDir, removeDir } from './helpers.js'
import { prng } from '../storage/helpers.js'
import type { ChildProcess } from 'node:child_process'
import type { ServiceSpec } from '../../../src/services/types.js'

const fixture = fileURLToPath(new URL('./fixtures/raft-peer.ts', import.meta.url))
const SEED = Number(process.env.RAFT_KILL_SEED ?? 1)

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- IPC results are checked by the test
interface Reply { id: number, ok: boolean, result?: any, error?: string, message?: string }

class PeerProc {
  proc?: ChildProcess
  alive = false
  private seq = 0
  private readonly pending = new Map<number, { resolve: (r: Reply) => void }>()
  stderr = ''
  constructor (readonly peerId: string, readonly config: string) {}

  async start (): Promise<void> {
    const proc = spawn(process.execPath, ['--import', 'tsx', fixture, this.config], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    this.proc = proc
    proc.stderr?.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-4000) })
    proc.on('message', (m: Reply & { ready?: boolean }) => {
      if (m.ready === true) return
      const p = this.pending.get(m.id)
      this.pending.delete(m.id)
      p?.resolve(m)
    })
    proc.once('exit', () => {
      this.alive = false
      for (const p of this.pending.values()) p.resolve({ id: -1, ok: false, error: 'Killed', message: 'peer process exited' })
      this.pending.clear()
    })
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error(`peer did not start: ${this.stderr}`)) }, 30_000)
      proc.on('message', (m: { ready?: boolean }) => { if (m.ready === true) { clearTimeout(t); resolve() } })
      proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`peer exited (${code}): ${this.stderr}`)) })
    })
    this.alive = true
  }

  async call (op: string, ...args: unknown[]): Promise<Reply> {
    if (!this.alive || this.proc === undefined) return { id: -1, ok: false, error: 'Killed', message: 'peer is down' }
    const id = this.seq++
    const r = new Promise<Reply>(resolve => { this.pending.set(id, { resolve }) })
    this.proc.send({ id, op, args })
    return await r
  }

  async kill (): Promise<void> {
    if (this.proc === undefined || this.proc.exitCode !== null || this.proc.signalCode !== null) return
    const exited = new Promise<void>(resolve => this.proc!.once('exit', () => { resolve() }))
    this.proc.kill('SIGKILL')
    await exited
  }
}

const spec: ServiceSpec = { name: 'ledger', replicas: 3, runtime: 'wasi', mode: 'strong', crdtEngine: 'delta-crdts', zones: [], maxStalenessMs: 1000, latencyRadiusMs: 20 }

describe('raft KV: SIGKILL the leader under concurrent writes (real processes)', function () {
  this.timeout(120_000)
  const peers: PeerProc[] = []
  const dirs: string[] = []

  after(async () => {
    for (const p of peers) await p.kill()
    for (const d of dirs) await removeDir(d)
  })

  it(`history stays linearizable, no acknowledged write is lost, the killed peer catches up (seed ${SEED})`, async () => {
    const base = await freePortBlock(3)
    const keys = await Promise.all([0, 1, 2].map(async () => generateKeyPair('Ed25519')))
    const ids = keys.map(k => peerIdFromPrivateKey(k).toString())
    const book = ids.map((peerId, i) => ({ peerId, addr: `/ip4/127.0.0.1/tcp/${base + 100 + i}` }))
    for (let i = 0; i < 3; i++) {
      const dataDir = await makeTempDir()
      dirs.push(dataDir)
      peers.push(new PeerProc(ids[i], JSON.stringify({ key: Buffer.from(privateKeyToProtobuf(keys[i])).toString('hex'), port: base + 100 + i, dataDir, book })))
    }
    await Promise.all(peers.map(async p => p.start()))
    const created = await waitFor('service created', async () => { const r = await peers[0].call('apply', spec); return r.ok ? r : undefined }, { timeoutMs: 20_000, intervalMs: 200 })
    assert.equal(created.result.replicas.length, 3)
    const leaderId = async (): Promise<string> => waitFor('a leader', async () => {
      for (const p of peers) {
        const r = await p.call('status', 'ledger')
        if (r.ok && r.result.leader != null && peers.find(q => q.peerId === r.result.leader)?.alive === true) return r.result.leader as string
      }
      return undefined
    }, { timeoutMs: 20_000, intervalMs: 100 })
    await leaderId()

    const rng = prng(SEED)
    const history: HistOp[] = []
    const t0 = performance.now()
    const now = (): number => performance.now() - t0
    let stop = false
    let completed = 0
    let seq = 0
    const KEYS = ['k0', 'k1', 'k2']
    const client = async (c: number): Promise<void> => {
      while (!stop) {
        const target = peers[Math.floor(rng() * peers.length)]
        const key = KEYS[Math.floor(rng() * KEYS.length)]
        if (rng() < 0.65) {
          const value = `c${c}-${seq++}`
          const call = now()
          const r = await target.call('put', 'ledger', key, value)
          const ret = now()
          if (r.ok) { history.push({ kind: 'put', client: c, key, value, call, ret, rev: r.result.revision }); completed++ } else history.push({ kind: 'put', client: c, key, value, call, ret: Infinity })
        } else {
          const call = now()
          const r = await target.call('get', 'ledger', key)
          const ret = now()
          if (r.ok) { history.push({ kind: 'get', client: c, key, call, ret, value: r.result.value, rev: r.result.revision }); completed++ } else if (r.error === 'KeyNotFoundError') { history.push({ kind: 'get', client: c, key, call, ret, value: null, rev: 0 }); completed++ }
        }
        if (!target.alive) await new Promise(resolve => setTimeout(resolve, 20)) // do not spin on a dead peer
      }
    }
    const clients = [0, 1, 2, 3, 4, 5, 6, 7].map(async c => client(c))
    try {
      await waitFor('load before the kill', () => completed >= 80, { timeoutMs: 30_000, intervalMs: 20 })
      const lid = await leaderId()
      const killed = peers.find(p => p.peerId === lid)!
      await killed.kill()
      const atKill = completed
      await waitFor('writes acknowledged after the kill', () => completed >= atKill + 80, { timeoutMs: 30_000, intervalMs: 20 })
      const newLeader = await leaderId()
      assert.notEqual(newLeader, lid, `a new leader took over (seed ${SEED})`)
      await killed.start()
      const atRestart = completed
      await waitFor('load after the restart', () => completed >= atRestart + 60, { timeoutMs: 30_000, intervalMs: 20 })
    } finally {
      stop = true
      await Promise.all(clients)
    }

    // final linearizable reads at every peer, part of the history
    const finals = new Map<string, Array<{ value: string | null, rev: number }>>()
    for (const p of peers) {
      for (const key of KEYS) {
        const call = now()
        const r = await waitFor(`final read of ${key} at ${p.peerId}`, async () => { const x = await p.call('get', 'ledger', key); return x.ok || x.error === 'KeyNotFoundError' ? x : undefined }, { timeoutMs: 20_000, intervalMs: 100 })
        const out = r.ok ? { value: r.result.value as string, rev: r.result.revision as number } : { value: null, rev: 0 }
        history.push({ kind: 'get', client: 99, key, call, ret: now(), ...out })
        finals.set(key, [...(finals.get(key) ?? []), out])
      }
    }
    for (const [key, outs] of finals) {
      assert.ok(outs.every(o => o.value === outs[0].value && o.rev === outs[0].rev), `every peer reads the same ${key} (seed ${SEED}): ${JSON.stringify(outs)}`)
      const acked = history.filter(o => o.kind === 'put' && o.key === key && o.rev !== undefined) as Array<HistOp & { kind: 'put' }>
      const maxAcked = Math.max(0, ...acked.map(o => o.rev!))
      assert.ok(outs[0].rev >= maxAcked, `no acknowledged write of ${key} lost: final revision ${outs[0].rev} >= ${maxAcked} (seed ${SEED})`)
    }
    const verdict = checkRevisionHistory(history)
    assert.ok(verdict.ok, `history of ${history.length} ops not linearizable (seed ${SEED}):\n${verdict.problems.join('\n')}`)
    const acks = history.filter(o => o.kind === 'put' && o.rev !== undefined).length
    assert.ok(acks > 100, `enough acknowledged writes (${acks})`)
  })
})
