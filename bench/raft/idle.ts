/**
 * Multi-Raft idle cost: 3 peer processes (libp2p on loopback, WAL with fsync),
 * first with no strong service, then with `--groups` (default 100) idle strong
 * services, each its own 3-replica Raft group. Measures each peer's CPU
 * (utime+stime from process.cpuUsage over `--seconds`) in both states, and the
 * commit latency of one of the many groups against a single group: steady
 * (1 client, group awake) and the first write to a quiesced group (wake-up).
 * Prints one JSON object.
 *
 *   npx tsx bench/raft/idle.ts [--groups N] [--seconds S] [--cpu-prof DIR] [--no-quiesce]
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { waitFor } from '../../test/helpers/wait.js'
import { Proc } from './proc.js'

const args = process.argv.slice(2)
const arg = (name: string, dflt: number): number => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : dflt }
const GROUPS = arg('groups', 100)
const SECONDS = arg('seconds', 20)
const profIdx = args.indexOf('--cpu-prof')
/** --cpu-prof DIR: each peer writes a CPU profile of the with-groups measurement window to DIR/idle-peer<i>.cpuprofile */
const PROF_DIR = profIdx >= 0 ? args[profIdx + 1] : undefined
/** --no-quiesce: groups never quiesce (the comparison without hibernation) */
const QUIESCE = !args.includes('--no-quiesce')
const peerScript = fileURLToPath(new URL('./kv-peer.ts', import.meta.url))

async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => { const p = (srv.address() as { port: number }).port; srv.close(() => { resolve(p) }) })
  })
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const q = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 1000) / 1000 }

/** per-peer CPU, % of one core, over `seconds` */
async function cpuPercent (procs: Proc[], seconds: number): Promise<number[]> {
  const before = await Promise.all(procs.map(async p => p.call<{ userUs: number, systemUs: number }>('cpu')))
  const t0 = performance.now()
  await sleep(seconds * 1000)
  const after = await Promise.all(procs.map(async p => p.call<{ userUs: number, systemUs: number }>('cpu')))
  const wallUs = (performance.now() - t0) * 1000
  return after.map((a, i) => Math.round((a.userUs + a.systemUs - before[i].userUs - before[i].systemUs) / wallUs * 100 * 1000) / 1000)
}

const keys = await Promise.all([0, 1, 2].map(async () => generateKeyPair('Ed25519')))
const ports = await Promise.all([0, 1, 2].map(async () => freePort()))
const book = keys.map((k, i) => ({ peerId: peerIdFromPrivateKey(k).toString(), addr: `/ip4/127.0.0.1/tcp/${ports[i]}` }))
const dirs = await Promise.all([0, 1, 2].map(async () => mkdtemp(join(tmpdir(), 'dcis-bench-idle-'))))
const procs: Proc[] = []
const spec = (name: string): Record<string, unknown> => ({ name, replicas: 3, runtime: 'wasi', mode: 'strong', crdtEngine: 'delta-crdts', zones: [], maxStalenessMs: 1000, latencyRadiusMs: 20 })

async function leaderOf (name: string): Promise<number> {
  return await waitFor(`a leader of ${name}`, async () => {
    const st = await procs[0].call<{ leader: string | null }>('status', name)
    const i = st.leader === null ? -1 : book.findIndex(b => b.peerId === st.leader)
    return i >= 0 ? i : undefined
  }, { timeoutMs: 60_000, intervalMs: 50 })
}

async function allQuiesced (names: string[]): Promise<number> {
  const t = performance.now()
  await waitFor('every replica quiesced', async () => {
    const n = await Promise.all(procs.map(async p => p.call<number>('quiesced', names)))
    return n.every(x => x === names.length) ? true : undefined
  }, { timeoutMs: 120_000, intervalMs: 250 })
  return Math.round(performance.now() - t)
}

/** steady 1-client commit latency and the latency of the first write to the quiesced group */
async function latency (name: string): Promise<{ steadyP50Ms: number, steadyP99Ms: number, steadyOps: number, wakeWriteMs: number[] }> {
  const wake: number[] = []
  for (let i = 0; i < (QUIESCE ? 5 : 0); i++) {
    await allQuiesced([name])
    const l = await leaderOf(name)
    const r = await procs[l].call<{ latencies: number[] }>('load', name, 1, 1, 256)
    wake.push(Math.round(r.latencies[0] * 1000) / 1000)
  }
  const l = await leaderOf(name)
  const r = await procs[l].call<{ latencies: number[], errors: number }>('load', name, 1, 3000, 256)
  return { steadyP50Ms: q(r.latencies, 0.5), steadyP99Ms: q(r.latencies, 0.99), steadyOps: r.latencies.length, wakeWriteMs: wake }
}

const out: Record<string, unknown> = { bench: 'raft-idle-groups', quiesce: QUIESCE, groups: GROUPS, seconds: SECONDS, peers: 3, cpus: cpus().length }
try {
  for (let i = 0; i < 3; i++) {
    const child = spawn(process.execPath, ['--import', 'tsx', peerScript, JSON.stringify({ key: Buffer.from(privateKeyToProtobuf(keys[i])).toString('hex'), port: ports[i], dataDir: dirs[i], book, quiesce: QUIESCE })], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    await new Promise<void>((resolve, reject) => { child.on('message', (m: { ready?: boolean }) => { if (m.ready === true) resolve() }); child.once('exit', c => { reject(new Error(`peer exited ${c}`)) }) })
    procs.push(new Proc(child))
  }
  await sleep(3000) // connections, first maintenance rounds
  out.loadavgBefore = loadavg().map(x => Math.round(x * 100) / 100)
  const base = await cpuPercent(procs, SECONDS)
  out.cpuPercentNoServices = base

  await procs[0].call('apply', spec('solo'))
  await leaderOf('solo')
  out.single = await latency('solo')

  const names = Array.from({ length: GROUPS }, (_, i) => `idle-${i}`)
  const t = performance.now()
  for (const n of names) await procs[0].call('apply', spec(n))
  for (const n of names) await leaderOf(n)
  out.createMs = Math.round(performance.now() - t)
  if (QUIESCE) out.quiesceMs = await allQuiesced([...names, 'solo'])
  else await sleep(3000)
  if (PROF_DIR !== undefined) await Promise.all(procs.map(async p => p.call('profStart')))
  const withGroups = await cpuPercent(procs, SECONDS)
  if (PROF_DIR !== undefined) await Promise.all(procs.map(async (p, i) => p.call('profStop', join(PROF_DIR, `idle-peer${i}.cpuprofile`))))
  out.cpuPercentWithGroups = withGroups
  out.cpuPercentOverhead = withGroups.map((c, i) => Math.round((c - base[i]) * 1000) / 1000)
  out.oneOfMany = await latency(names[Math.floor(GROUPS / 2)])
  const leaders = await procs[0].call<Array<string | null>>('leaders', names)
  out.leadersPerPeer = book.map(b => leaders.filter(l => l === b.peerId).length)
  out.loadavgAfter = loadavg().map(x => Math.round(x * 100) / 100)
  out.notes = 'cpu = utime+stime of each peer process over the window, % of one core; noisy on the shared 2-core machine (compare with the load averages). Every group quiesces when idle; wakeWriteMs = first write after the group quiesced.'
} finally {
  await Promise.all(procs.map(async p => p.call('stop').catch(() => {})))
  await Promise.all(procs.map(async p => new Promise<void>(resolve => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) { resolve(); return }
    const t = setTimeout(resolve, 10_000)
    p.child.once('exit', () => { clearTimeout(t); resolve() })
  })))
  for (const p of procs) p.child.kill('SIGKILL')
  await Promise.all(dirs.map(async d => rm(d, { recursive: true, force: true })))
}
console.log(JSON.stringify(out, null, 2))
