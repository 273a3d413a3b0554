/**
 * Strong KV write benchmark: a 3-peer strong service (3 processes, libp2p on
 * loopback, WAL with fsync) vs a 3-member etcd cluster on loopback, 256 B
 * values, 1 and 16 concurrent clients. Prints one JSON object.
 *
 *   npx tsx bench/raft/kv.ts [--seconds N] [--no-etcd] [--cpu-prof DIR] [--clients 1,16]
 *
 * --cpu-prof DIR: the three peers run with node --cpu-prof and write their
 * profiles (peer<i>-<role>.cpuprofile) into DIR when they stop.
 *
 * dcis: the load runs inside the leader's process, calling the backend's
 * put() (what the HTTP handler on the leader does). etcd: clients in this
 * process use the v3 HTTP/JSON gateway (/v3/kv/put) of the leader, with
 * keep-alive. etcd is used only if the `etcd` binary is on PATH; nothing is
 * installed by this script.
 */
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { createServer } from 'node:net'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { waitFor } from '../../test/helpers/wait.js'
import { checkHistory } from '../../test/raft/sim/linearizability.js'
import type { Operation } from '../../test/raft/sim/linearizability.js'
import { Proc } from './proc.js'

const args = process.argv.slice(2)
const secIdx = args.indexOf('--seconds')
const SECONDS = secIdx >= 0 ? Number(args[secIdx + 1]) : 5
const VALUE_BYTES = 256
/** length of the mixed get/put phase whose history is checked for linearizability */
const LIN_SECONDS = 2
const clientsIdx = args.indexOf('--clients')
/** --clients 1,16 (default): the concurrency levels measured */
const CONCURRENCY = clientsIdx >= 0 ? args[clientsIdx + 1].split(',').map(Number) : [1, 16]
const profIdx = args.indexOf('--cpu-prof')
const PROF_DIR = profIdx >= 0 ? args[profIdx + 1] : undefined
const peerScript = fileURLToPath(new URL('./kv-peer.ts', import.meta.url))

interface LinearizabilityReport {
  ops: number
  completed: number
  unknown: number
  keys: number
  linearizable: boolean
  badKeys: string[]
  undecidedKeys: string[]
  /** global-revision checks: distinct puts got distinct revisions; a get returns the revision its value was written with; real-time order of puts agrees with revision order */
  revisionViolations: string[]
  checkMs: number
}

/**
 * Checks a recorded history: per key, Wing & Gong / Porcupine search
 * (test/raft/sim/linearizability.ts) on values; globally, the revision
 * counter (one per store) against real time.
 */
function checkLinearizable (ops: Operation[]): LinearizabilityReport {
  const t = performance.now()
  const r = checkHistory(ops, 2_000_000, { perKeyRevisions: false })
  const violations: string[] = []
  const putRev = new Map<string, number>()
  const puts = ops.filter((o): o is Extract<Operation, { kind: 'put' }> => o.kind === 'put' && o.out !== undefined)
  const seen = new Map<number, string>()
  for (const p of puts) {
    putRev.set(p.value, p.out!.rev)
    const other = seen.get(p.out!.rev)
    if (other !== undefined) violations.push(`revision ${p.out!.rev} given to two puts (${other}, ${p.value})`)
    seen.set(p.out!.rev, p.value)
  }
  for (const o of ops) {
    if (o.kind !== 'get' || o.out === undefined || o.out.value === null) continue
    const w = putRev.get(o.out.value)
    if (w !== undefined && w !== o.out.rev) violations.push(`get ${o.key} saw ${o.out.value} at revision ${o.out.rev}, written at ${w}`)
  }
  // real time: a put that returned before another was called has a lower revision
  const byCall = [...puts].sort((a, b) => a.call - b.call)
  const byRet = [...puts].sort((a, b) => a.ret - b.ret)
  let j = 0
  let maxRevReturned = 0
  for (const p of byCall) {
    while (j < byRet.length && byRet[j].ret < p.call) { maxRevReturned = Math.max(maxRevReturned, byRet[j].out!.rev); j++ }
    if (p.out!.rev <= maxRevReturned) violations.push(`put ${p.value} (revision ${p.out!.rev}) was called after a put with revision ${maxRevReturned} returned`)
  }
  return {
    ops: ops.length,
    completed: ops.filter(o => Number.isFinite(o.ret)).length,
    unknown: ops.filter(o => !Number.isFinite(o.ret)).length,
    keys: new Set(ops.map(o => o.key)).size,
    linearizable: r.ok && violations.length === 0,
    badKeys: r.badKeys,
    undecidedKeys: r.undecidedKeys,
    revisionViolations: violations.slice(0, 10),
    checkMs: Math.round(performance.now() - t)
  }
}

interface Stats { writesPerSec: number, p50Ms: number, p99Ms: number, ops: number, errors: number }

function summarize (lat: number[], errors: number, seconds: number): Stats {
  const s = [...lat].sort((a, b) => a - b)
  const q = (p: number): number => s.length === 0 ? NaN : Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 1000) / 1000
  return { writesPerSec: Math.round(s.length / seconds), p50Ms: q(0.5), p99Ms: q(0.99), ops: s.length, errors }
}

async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => { const p = (srv.address() as { port: number }).port; srv.close(() => { resolve(p) }) })
  })
}

async function exited (child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>(resolve => {
    const t = setTimeout(resolve, ms)
    child.once('exit', () => { clearTimeout(t); resolve() })
  })
}

async function benchDcis (): Promise<Record<string, unknown>> {
  const keys = await Promise.all([0, 1, 2].map(async () => generateKeyPair('Ed25519')))
  const ports = await Promise.all([0, 1, 2].map(async () => freePort()))
  const book = keys.map((k, i) => ({ peerId: peerIdFromPrivateKey(k).toString(), addr: `/ip4/127.0.0.1/tcp/${ports[i]}` }))
  const dirs = await Promise.all([0, 1, 2].map(async () => mkdtemp(join(tmpdir(), 'dcis-bench-kv-'))))
  const procs: Proc[] = []
  try {
    for (let i = 0; i < 3; i++) {
      const child = spawn(process.execPath, [...(PROF_DIR === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', PROF_DIR, '--cpu-prof-name', `peer${i}.cpuprofile`]), '--import', 'tsx', peerScript, JSON.stringify({ key: Buffer.from(privateKeyToProtobuf(keys[i])).toString('hex'), port: ports[i], dataDir: dirs[i], book })], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
      await new Promise<void>((resolve, reject) => { child.on('message', (m: { ready?: boolean }) => { if (m.ready === true) resolve() }); child.once('exit', c => { reject(new Error(`peer exited ${c}`)) }) })
      procs.push(new Proc(child))
    }
    const spec = { name: 'bench', replicas: 3, runtime: 'wasi', mode: 'strong', crdtEngine: 'delta-crdts', zones: [], maxStalenessMs: 1000, latencyRadiusMs: 20 }
    await procs[0].call('apply', spec)
    const leader = await waitFor('a leader', async () => {
      const st = await procs[0].call<{ leader: string | null }>('status', 'bench')
      const i = st.leader === null ? -1 : book.findIndex(b => b.peerId === st.leader)
      return i >= 0 ? i : undefined
    }, { timeoutMs: 10_000, intervalMs: 50 })
    const out: Record<string, unknown> = {}
    if (PROF_DIR !== undefined) console.error(`profiles in ${PROF_DIR}: leader is peer${leader}`)
    await procs[leader].call('load', 'bench', 4, 500, VALUE_BYTES) // warm-up
    for (const c of CONCURRENCY) {
      const before = await procs[leader].call<{ fsyncs: number, writes: number }>('wal', 'bench')
      const cpu0 = await Promise.all(procs.map(async p => p.call<{ userUs: number, systemUs: number }>('cpu')))
      const r = await procs[leader].call<{ latencies: number[], errors: number }>('load', 'bench', c, SECONDS * 1000, VALUE_BYTES)
      const cpu1 = await Promise.all(procs.map(async p => p.call<{ userUs: number, systemUs: number }>('cpu')))
      const after = await procs[leader].call<{ fsyncs: number, writes: number }>('wal', 'bench')
      // CPU (utime+stime) per committed write: far less sensitive to the shared machine's load than latency
      const perWrite = (i: number): number => Math.round((cpu1[i].userUs + cpu1[i].systemUs - cpu0[i].userUs - cpu0[i].systemUs) / Math.max(1, r.latencies.length))
      out[`clients${c}`] = { ...summarize(r.latencies, r.errors, SECONDS), cpuUsPerWriteLeader: perWrite(leader), cpuUsPerWriteFollowers: [0, 1, 2].filter(i => i !== leader).map(perWrite) }
      if (c === 16) out.walFsyncsPerWrite = Math.round((after.fsyncs - before.fsyncs) / Math.max(1, r.latencies.length) * 1000) / 1000
    }
    // linearizability sample: 8 clients on the leader and 8 on a follower
    // (forwarded puts, ReadIndex reads there), random get/put on 8 keys
    const follower = [0, 1, 2].find(i => i !== leader)!
    const hist = await Promise.all([leader, follower].map(async (i, n) => procs[i].call<Array<Operation & { ret: number | null }>>('history', 'bench', `p${n}`, 8, LIN_SECONDS * 1000, 8)))
    const ops = hist.flat().map(o => ({ ...o, ret: o.ret ?? Infinity }) as Operation)
    out.linearizability = { seconds: LIN_SECONDS, ...checkLinearizable(ops) }
    return out
  } finally {
    await Promise.all(procs.map(async p => p.call('stop').catch(() => {})))
    // a stopped peer exits by itself (and writes its --cpu-prof profile); kill stragglers
    await Promise.all(procs.map(async p => exited(p.child, 10_000)))
    for (const p of procs) p.child.kill('SIGKILL')
    await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
  }
}

async function benchEtcd (): Promise<Record<string, Stats> | string> {
  if (spawnSync('etcd', ['--version']).status !== 0) return 'not installed'
  const version = spawnSync('etcd', ['--version']).stdout.toString().split('\n')[0]
  const client = await Promise.all([0, 1, 2].map(async () => freePort()))
  const peer = await Promise.all([0, 1, 2].map(async () => freePort()))
  const dirs = await Promise.all([0, 1, 2].map(async () => mkdtemp(join(tmpdir(), 'dcis-bench-etcd-'))))
  const cluster = peer.map((p, i) => `e${i}=http://127.0.0.1:${p}`).join(',')
  const procs: ChildProcess[] = []
  try {
    for (let i = 0; i < 3; i++) {
      procs.push(spawn('etcd', [
        '--name', `e${i}`, '--data-dir', dirs[i],
        '--listen-client-urls', `http://127.0.0.1:${client[i]}`, '--advertise-client-urls', `http://127.0.0.1:${client[i]}`,
        '--listen-peer-urls', `http://127.0.0.1:${peer[i]}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer[i]}`,
        '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--initial-cluster-token', 'dcis-bench', '--log-level', 'error'
      ], { stdio: 'ignore' }))
    }
    const post = async (i: number, path: string, body: unknown): Promise<Record<string, unknown>> => {
      const res = await fetch(`http://127.0.0.1:${client[i]}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
      if (!res.ok) throw new Error(`etcd ${path}: ${res.status}`)
      return await res.json() as Record<string, unknown>
    }
    let leader = -1
    for (let t = 0; t < 200 && leader < 0; t++) {
      for (let i = 0; i < 3 && leader < 0; i++) {
        try {
          const st = await post(i, '/v3/maintenance/status', {})
          const header = st.header as { member_id: string }
          if (st.leader !== undefined && st.leader === header.member_id) leader = i
        } catch { // not up yet / not the leader
        }
      }
      if (leader < 0) await new Promise(resolve => setTimeout(resolve, 100))
    }
    if (leader < 0) return 'cluster did not elect a leader'
    const value = Buffer.from('x'.repeat(VALUE_BYTES)).toString('base64')
    const run = async (clients: number, ms: number): Promise<{ latencies: number[], errors: number }> => {
      const latencies: number[] = []
      let errors = 0
      const end = performance.now() + ms
      await Promise.all(Array.from({ length: clients }, async (_, c) => {
        let i = 0
        while (performance.now() < end) {
          const t = performance.now()
          try {
            await post(leader, '/v3/kv/put', { key: Buffer.from(`c${c}-${i++ % 1000}`).toString('base64'), value })
            latencies.push(performance.now() - t)
          } catch { errors++ }
        }
      }))
      return { latencies, errors }
    }
    await run(4, 500)
    const out: Record<string, Stats> & { version?: string } = {}
    for (const c of CONCURRENCY) {
      const r = await run(c, SECONDS * 1000)
      out[`clients${c}`] = summarize(r.latencies, r.errors, SECONDS)
    }
    out.version = version as never
    return out
  } finally {
    for (const p of procs) p.kill('SIGKILL')
    await Promise.all(procs.map(async p => new Promise<void>(resolve => { if (p.exitCode !== null || p.signalCode !== null) resolve(); else p.once('exit', () => { resolve() }) })))
    await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
  }
}

const dcis = await benchDcis()
const etcd = args.includes('--no-etcd') ? 'skipped' : await benchEtcd()
const ratio: Record<string, number | null> = {}
if (typeof etcd === 'object') {
  for (const c of CONCURRENCY) {
    const k = `clients${c}`
    const d = dcis[k] as Stats
    const e = etcd[k] as Stats
    ratio[`${k}WritesPerSec`] = Math.round(d.writesPerSec / e.writesPerSec * 100) / 100
    ratio[`${k}P50`] = Math.round(d.p50Ms / e.p50Ms * 100) / 100
    ratio[`${k}P99`] = Math.round(d.p99Ms / e.p99Ms * 100) / 100
  }
}
console.log(JSON.stringify({
  bench: 'raft-kv-writes',
  valueBytes: VALUE_BYTES,
  seconds: SECONDS,
  members: 3,
  fsync: true,
  cpus: cpus().length,
  loadavg: loadavg().map(x => Math.round(x * 100) / 100),
  dcis,
  etcd,
  ratioDcisOverEtcd: typeof etcd === 'object' ? ratio : null,
  notes: 'dcis load runs in the leader process (no HTTP); etcd clients use the HTTP/JSON gateway of the leader from the bench process. Shared 2-core machine: figures are noisy.'
}, null, 2))
