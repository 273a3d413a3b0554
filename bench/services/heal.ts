/**
 * Time-to-heal of stateful services (issue 11's done-when figure): 5 real
 * `dcis start` processes on loopback; for each mode, a service with 3
 * replicas, then SIGKILL of one replica's peer (eventual) or of one
 * non-leader voter's peer (strong) while a client writes; measures the time
 * from the kill until a surviving peer reports 3 live replicas again
 * (FullyReplicated), and checks the new replica serves the exact data.
 * Prints one JSON object.
 *
 *   npx tsx bench/services/heal.ts [--grace-ms 5000] [--runs 1]
 */
import { loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { waitFor } from '../../test/helpers/wait.js'
import { apply, byId, http, killHard, startHealMesh, status, waitHealed } from '../../test/e2e/heal-helpers.js'

const args = process.argv.slice(2)
const num = (name: string, dflt: number): number => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : dflt }
const GRACE_MS = num('grace-ms', 5000)
const RUNS = num('runs', 1)

interface Run { mode: 'eventual' | 'strong', healMs: number, afterGraceMs: number, exactData: boolean, writes: number, failedWrites: number }

async function eventual (): Promise<Run> {
  const m = await startHealMesh(5, GRACE_MS)
  try {
    const p0 = m.mesh.peers[0]
    await apply(p0, { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: 'bench-ev' }, spec: { replicas: 3, consistency: { mode: 'eventual' } } })
    const st = await waitFor('placed', async () => { const s = await status(p0, 'bench-ev'); return s?.replicas.length === 3 ? s : undefined }, { timeoutMs: 30_000 })
    const replicas: string[] = st.replicas.map((r: { peerId: string }) => r.peerId)
    let total = 0
    for (let i = 0; i < 50; i++) { await http(byId(m.mesh, replicas[i % 3]), 'POST', '/v1/services/bench-ev/counters/c', JSON.stringify({ delta: i })); total += i }
    await http(byId(m.mesh, replicas[0]), 'PUT', '/v1/services/bench-ev/kv/last', 'final')
    for (const id of replicas) await waitFor('converged', async () => (await http(byId(m.mesh, id), 'GET', '/v1/services/bench-ev/counters/c')).json?.value === total, { timeoutMs: 30_000 })
    const victim = replicas.find(id => id !== p0.peerId)!
    const observer = byId(m.mesh, replicas.find(id => id !== victim)!)
    await killHard(byId(m.mesh, victim))
    const t0 = performance.now()
    const { st: healed, ms } = await waitHealed(observer, 'bench-ev', victim, 3, t0, 120_000)
    const newcomer = byId(m.mesh, healed.replicas.map((r: { peerId: string }) => r.peerId).find((id: string) => !replicas.includes(id)))
    const exact = await waitFor('exact', async () => {
      const c = await http(newcomer, 'GET', '/v1/services/bench-ev/counters/c')
      const k = await http(newcomer, 'GET', '/v1/services/bench-ev/kv/last')
      return (await status(newcomer, 'bench-ev'))?.local === true && c.json?.value === total && k.json?.value === 'final' ? true : undefined
    }, { timeoutMs: 30_000 }).catch(() => false)
    return { mode: 'eventual', healMs: Math.round(ms), afterGraceMs: Math.round(ms - GRACE_MS), exactData: exact, writes: 51, failedWrites: 0 }
  } finally {
    await m.stop()
  }
}

async function strong (): Promise<Run> {
  const m = await startHealMesh(5, GRACE_MS)
  try {
    const p0 = m.mesh.peers[0]
    await apply(p0, { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: 'bench-st' }, spec: { replicas: 3, consistency: { mode: 'strong', latencyRadiusMs: 50 } } })
    const st = await waitFor('a leader', async () => { const s = await status(p0, 'bench-st'); return typeof s?.leader === 'string' ? s : undefined }, { timeoutMs: 30_000 })
    const voters: string[] = st.replicas.filter((r: { role: string }) => r.role === 'voter').map((r: { peerId: string }) => r.peerId)
    const victim = voters.find(v => v !== st.leader)!
    const writer = byId(m.mesh, voters.find(v => v !== victim)!)
    let stop = false
    let writes = 0
    let failed = 0
    let last = ''
    const client = (async () => {
      while (!stop) {
        const r = await http(writer, 'PUT', '/v1/services/bench-st/kv/last', `w${writes + failed}`)
        if (r.status === 200) { writes++; last = `w${writes + failed - 1}` } else failed++
      }
    })()
    let ms = 0
    let healed
    try {
      await waitFor('load', () => writes >= 20, { timeoutMs: 30_000, intervalMs: 20 })
      await killHard(byId(m.mesh, victim))
      const t0 = performance.now()
      ;({ st: healed, ms } = await waitHealed(writer, 'bench-st', victim, 3, t0, 120_000))
    } finally {
      stop = true
      await client
    }
    const newcomer = byId(m.mesh, healed.replicas.map((r: { peerId: string }) => r.peerId).find((id: string) => !voters.includes(id)))
    const exact = await waitFor('exact', async () => {
      if ((await status(newcomer, 'bench-st'))?.local !== true) return undefined
      const r = await http(newcomer, 'GET', '/v1/services/bench-st/kv/last')
      return r.json?.value === last ? true : undefined
    }, { timeoutMs: 30_000 }).catch(() => false)
    return { mode: 'strong', healMs: Math.round(ms), afterGraceMs: Math.round(ms - GRACE_MS), exactData: exact, writes, failedWrites: failed }
  } finally {
    await m.stop()
  }
}

const runs: Run[] = []
for (let i = 0; i < RUNS; i++) {
  runs.push(await eventual())
  runs.push(await strong())
}
console.log(JSON.stringify({
  benchmark: 'services/heal',
  peers: 5,
  replicas: 3,
  graceMs: GRACE_MS,
  loadavg: loadavg().map(x => Math.round(x * 100) / 100),
  runs
}))
