/**
 * Placement quality on an emulated 3-region mesh of REAL processes (the
 * `dcis up --rtt-matrix` setup: LocalMesh + the user-space link emulator).
 * Prints one JSON object on stdout (progress goes to stderr).
 *
 * After the latency maps have settled, N allocations are placed one after the
 * other from random peers over HTTP (POST /v1/allocations), each with a
 * random `latencyMs` limit, half of the time a random `region` and a quarter
 * of the time a random `from` region (latency measured from that region, by
 * third-party estimates). For each we compare the chosen peer's TRUE
 * (emulated) RTT from the measuring point with the best possible: the
 * smallest true RTT among peers that satisfy the constraints (the placer
 * itself counts, at 0 ms, when measuring from it). Use a matrix with more
 * regions (simulations/rtt/six-regions.json) for finer choices. Reported:
 *  - excessMs p50/p95/max (chosen - best), over placed requests;
 *  - violations: placed on a peer whose true RTT exceeds the limit;
 *  - falseRejections: 409 although a satisfying peer existed (the hard
 *    constraint is estimate + error bound, so limits just above a true RTT
 *    may be refused: this counts them), correctRejections: 409 when none existed;
 *  - httpMs p50/p95/p99: POST round trip as a client sees it (includes the
 *    reserve round trip to the chosen peer over the emulated link), and
 *    decisionMs: the same minus the chosen peer's emulated RTT (the placer's
 *    own work + HTTP + local I/O; a borderline probe adds one more RTT).
 * Every allocation is released before the next, so capacity never decides.
 *
 *   npx tsx bench/scheduler/quality-mesh.ts [--nodes 6] [--requests 80] [--seed 1] [--matrix simulations/rtt/three-regions.json]
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

function arg (name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] != null ? process.argv[i + 1] : fallback
}
function num (name: string, fallback: number): number {
  const v = Number(arg(name, String(fallback)))
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`)
  return v
}

const NODES = Math.floor(num('nodes', 6))
const REQUESTS = Math.floor(num('requests', 80))
const SEED = Math.floor(num('seed', 1))
const MATRIX = resolve(ROOT, arg('matrix', 'simulations/rtt/three-regions.json'))

function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function quantile (xs: number[], q: number): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))] * 100) / 100
}

async function api (url: string, init?: RequestInit): Promise<{ status: number, body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text) }
}

async function waitFor (what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now()
  while (true) {
    try { if (await cond()) return Date.now() - t0 } catch { /* not yet */ }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 1000))
  }
}

async function main (): Promise<void> {
  const matrix = JSON.parse(await readFile(MATRIX, 'utf8')) as { regions: string[], rttMs: number[][] }
  const regions = matrix.regions
  const dir = await mkdtemp(join(tmpdir(), 'dcis-bench-quality-'))
  const config = join(dir, 'resources.yaml')
  await writeFile(config, 'resources:\n  cpu: 2\n  memoryMb: 4096\n')
  process.env.DCIS_LATENCY_PROBE_MS ??= '1000'
  process.env.DCIS_LATENCY_GOSSIP_MS ??= '2000'
  process.env.DCIS_END_REPUBLISH_MS ??= '5000'
  const { freePortBlock } = await import('../../test/helpers/ports.js')
  const mesh = new LocalMesh({
    nodes: NODES,
    regions,
    basePort: await freePortBlock(NODES),
    dataDir: dir,
    rttMatrix: MATRIX,
    logLevel: 'warn',
    extraArgs: ['--config', config],
    command: [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/main.ts')]
  })
  const rtt = (a: LocalPeer, b: LocalPeer): number => a === b ? 0 : matrix.rttMs[regions.indexOf(a.region)][regions.indexOf(b.region)]
  const rnd = prng(SEED)
  try {
    await mesh.start()
    const startMs = await waitFor('every API', async () => {
      for (const p of mesh.peers) {
        if (p.exited) throw new Error(`peer ${p.index} exited; log ${p.logFile}`)
        if ((await fetch(`${p.apiUrl}/readyz`, { signal: AbortSignal.timeout(3000) })).status !== 200) return false
      }
      return true
    }, 180_000)
    process.stderr.write(`mesh up in ${startMs} ms\n`)
    let lastReport = 0
    const settleMs = await waitFor('latency maps within 20% (same region: 6 ms) and full registries', async () => {
      const off: string[] = []
      for (const p of mesh.peers) {
        const reg = await api(`${p.apiUrl}/v1/registry/nodes`)
        if (reg.body.nodes.length !== NODES) off.push(`registry of ${p.index}: ${reg.body.nodes.length as number}`)
        const { body } = await api(`${p.apiUrl}/v1/latency`)
        for (const q of mesh.peers) {
          if (q === p) continue
          const e = (body.peers as Array<{ peerId: string, estimatedMs: number | null, source: string | null }>).find(x => x.peerId === q.peerId)
          const t = rtt(p, q)
          const ms = e?.estimatedMs
          if (ms == null || Math.abs(ms - t) > (p.region === q.region ? 6 : 0.2 * t)) off.push(`${p.index}->${q.index} want ${t} got ${ms ?? 'none'} (${e?.source ?? '-'})`)
        }
      }
      if (off.length > 0 && Date.now() - lastReport > 10_000) { lastReport = Date.now(); process.stderr.write(`not settled: ${off.join('; ')}\n`) }
      return off.length === 0
    }, 180_000)
    process.stderr.write(`latency settled in ${settleMs} ms\n`)

    const excess: number[] = []
    const httpMs: number[] = []
    const decisionMs: number[] = []
    let placed = 0
    let violations = 0
    let falseRejections = 0
    let correctRejections = 0
    let optimal = 0
    const onSelf = { self: 0, sameRegion: 0, otherRegion: 0 }
    const samples: unknown[] = []
    for (let i = 0; i < REQUESTS; i++) {
      const placer = mesh.peers[Math.floor(rnd() * NODES)]
      const latencyMs = Math.round(5 + rnd() * 255)
      const region = rnd() < 0.5 ? regions[Math.floor(rnd() * regions.length)] : undefined
      // a quarter of the requests measure from a random region instead of the placer
      const from = rnd() < 0.25 ? regions[Math.floor(rnd() * regions.length)] : undefined
      const truthOf = (p: LocalPeer): number => from != null ? matrix.rttMs[regions.indexOf(from)][regions.indexOf(p.region)] : rtt(placer, p)
      const satisfying = mesh.peers.filter(p => truthOf(p) <= latencyMs && (region == null || p.region === region))
      const best = satisfying.length > 0 ? Math.min(...satisfying.map(truthOf)) : null
      const body = { constraints: { memory: '16Mi', latencyMs, ...(region != null ? { region } : {}), ...(from != null ? { from } : {}) }, leaseMs: 60_000 }
      const t0 = performance.now()
      const res = await api(`${placer.apiUrl}/v1/allocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      const took = performance.now() - t0
      httpMs.push(took)
      if (res.status === 201) {
        placed++
        const chosen = mesh.peers.find(p => p.peerId === res.body.nodes[0].peerId)
        if (chosen == null) throw new Error(`placed on an unknown peer ${res.body.nodes[0].peerId}`)
        const truth = truthOf(chosen)
        decisionMs.push(took - rtt(placer, chosen))
        if (truth > latencyMs || (region != null && chosen.region !== region)) violations++
        if (best != null) {
          excess.push(truth - best)
          if (truth === best) optimal++
        }
        if (chosen === placer) onSelf.self++
        else if (chosen.region === placer.region) onSelf.sameRegion++
        else onSelf.otherRegion++
        if (samples.length < 5) samples.push({ placer: placer.region, from: from ?? 'placer', latencyMs, region: region ?? null, chosen: chosen.region, trueRttMs: truth, bestMs: best })
        await api(`${placer.apiUrl}/v1/allocations/${encodeURIComponent(res.body.id as string)}`, { method: 'DELETE' })
      } else if (res.status === 409) {
        if (best != null) falseRejections++
        else correctRejections++
      } else {
        throw new Error(`unexpected answer ${res.status}: ${JSON.stringify(res.body)}`)
      }
    }
    process.stdout.write(JSON.stringify({
      bench: 'scheduler/quality-mesh',
      seed: SEED,
      nodes: NODES,
      regions,
      matrix: MATRIX.replace(ROOT, ''),
      requests: REQUESTS,
      meshStartMs: startMs,
      latencySettleMs: settleMs,
      placed,
      violations,
      optimal,
      excessMs: { p50: quantile(excess, 0.5), p95: quantile(excess, 0.95), max: excess.length > 0 ? Math.max(...excess) : null },
      rejections: { correct: correctRejections, false: falseRejections },
      placedOn: onSelf,
      httpMs: { p50: quantile(httpMs, 0.5), p95: quantile(httpMs, 0.95), p99: quantile(httpMs, 0.99) },
      decisionMs: { p50: quantile(decisionMs, 0.5), p95: quantile(decisionMs, 0.95), p99: quantile(decisionMs, 0.99) },
      samples,
      machine: { cores: availableParallelism(), loadavg1: Math.round(loadavg()[0] * 100) / 100 }
    }, null, 2) + '\n')
  } finally {
    await mesh.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
