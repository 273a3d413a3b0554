/**
 * Idle cost per peer as the federation grows: for each N in --nodes
 * (default 5,10,20), start N real `dcis start` processes on loopback, wait
 * until every peer is ready and every registry is complete, let them settle
 * (--settle seconds), then measure over --window seconds:
 * - CPU: utime+stime from /proc/<pid>/stat, as % of one core, per peer
 * - RSS (VmRSS) and PSS (smaps_rollup) per peer at the end of the window,
 *   and the V8 heap used from each peer's /metrics
 * - background traffic: libp2p's byte counters (all connections, in + out)
 *   from each peer's /metrics, delta over the window, bytes/s per peer; and
 *   the peer's own dcis_traffic_bytes_per_second gauge at the end
 * Prints one JSON object; every row carries the load average it ran under.
 *   node --import tsx bench/scale/idle.ts --nodes 5,10,20 --settle 30 --window 60
 * (`--stagger MS` starts the peers MS apart; the 50-peer run uses it)
 * `--cpu-prof DIR` runs the peers under `node --cpu-prof` (profiles in DIR;
 * `--cpu-prof-interval US` sampling period, default 10 000 µs), read them
 * with prof-top.ts. `--cli FILE` runs another build's CLI (e.g. a checkout
 * of main built with tsc) to compare before/after on the same machine.
 */
import { readFile } from 'node:fs/promises'
import { allReady, arg, cpuSeconds, gossipHealth, load, metricsText, numbers, registriesComplete, rssMiB, sleep, startMesh, summary, until } from './_mesh.js'

/** libp2p's byte counters of one peer by label ("global sent", "/meshsub/1.2.0 received", ...); null when unreadable */
async function transferBytes (apiUrl: string): Promise<Map<string, number> | null> {
  const text = await metricsText(apiUrl)
  if (text == null) return null
  const out = new Map<string, number>()
  for (const m of text.matchAll(/^libp2p_data_transfer_bytes_total\{protocol="([^"]+)"\} (\S+)$/gm)) out.set(m[1], Number(m[2]))
  return out.size > 0 ? out : null
}

/** proportional set size: shared pages (the Node binary, libraries) divided among the processes mapping them */
async function pssMiB (pid: number): Promise<number> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8')
  return Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? NaN) / 1024
}

/** V8 heap used, from the peer's own /metrics (MiB) */
async function heapUsedMiB (apiUrl: string): Promise<number | null> {
  const line = (await metricsText(apiUrl))?.split('\n').find(l => l.startsWith('dcis_nodejs_heap_size_used_bytes '))
  return line != null ? Number(line.slice(line.lastIndexOf(' ') + 1)) / 1048576 : null
}

/** all connections, in + out (the muxer-level "global" counters) */
function backgroundBytes (t: Map<string, number> | null): number | null {
  if (t == null || !t.has('global sent')) return null
  return (t.get('global sent') ?? 0) + (t.get('global received') ?? 0)
}

/** bytes/s per peer by protocol (sent + received, mean over peers), largest first */
function byProtocol (t0: Array<Map<string, number> | null>, t1: Array<Map<string, number> | null>, seconds: number): Record<string, number> {
  const sum = new Map<string, number>()
  let peers = 0
  t1.forEach((m, i) => {
    const b = t0[i]
    if (m == null || b == null) return
    peers++
    for (const [k, v] of m) {
      const proto = k.replace(/ (sent|received)$/, '')
      if (proto === 'global') continue
      sum.set(proto, (sum.get(proto) ?? 0) + v - (b.get(k) ?? 0))
    }
  })
  return Object.fromEntries([...sum].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round(v / Math.max(1, peers) / seconds)]))
}

const sizes = numbers(arg('nodes', '5,10,20'))
const settleS = Number(arg('settle', '30'))
const windowS = Number(arg('window', '60'))
const profDir = arg('cpu-prof', '')
// ms between two peer starts (0: all at once)
const stagger = Number(arg('stagger', '0'))
// sampling every 1 ms (V8's default) costs an idle peer more than its own work
const profIntervalUs = arg('cpu-prof-interval', '10000')
const rows: unknown[] = []

for (const n of sizes) {
  const nodeArgs = profDir !== '' ? ['--cpu-prof', `--cpu-prof-dir=${profDir}/n${n}`, `--cpu-prof-interval=${profIntervalUs}`] : []
  const t0 = performance.now()
  const bench = await startMesh(n, { nodeArgs, stagger })
  try {
    await until('all peers ready', async () => allReady(bench.mesh), 60_000 + n * 10_000, 250)
    const readyS = (performance.now() - t0) / 1000
    await until('complete registries', async () => (await registriesComplete(bench.mesh)) === n, 120_000 + n * 10_000, 500)
    const registriesS = (performance.now() - t0) / 1000
    await sleep(settleS * 1000)
    const pids = bench.mesh.peers.map(p => p.process?.pid as number)
    const loadBefore = load()
    const cpu0 = await Promise.all(pids.map(cpuSeconds))
    const t0s = await Promise.all(bench.mesh.peers.map(async p => transferBytes(p.apiUrl)))
    const bytes0 = t0s.map(backgroundBytes)
    const w0 = performance.now()
    await sleep(windowS * 1000)
    const cpu1 = await Promise.all(pids.map(cpuSeconds))
    const t1s = await Promise.all(bench.mesh.peers.map(async p => transferBytes(p.apiUrl)))
    const bytes1 = t1s.map(backgroundBytes)
    const elapsed = (performance.now() - w0) / 1000
    const rss = await Promise.all(pids.map(rssMiB))
    const pss = await Promise.all(pids.map(pssMiB))
    const heap = (await Promise.all(bench.mesh.peers.map(async p => heapUsedMiB(p.apiUrl)))).filter((h): h is number => h != null)
    const cpuPct = cpu1.map((c, i) => 100 * (c - cpu0[i]) / elapsed)
    const bps = bytes1.flatMap((b, i) => b != null && bytes0[i] != null ? [(b - (bytes0[i] as number)) / elapsed] : [])
    rows.push({
      nodes: n,
      readyAllS: Math.round(readyS * 10) / 10,
      registriesCompleteS: Math.round(registriesS * 10) / 10,
      windowS: Math.round(elapsed),
      cpuPctOfCorePerPeer: summary(cpuPct),
      rssMiB: summary(rss),
      pssMiB: summary(pss),
      heapUsedMiB: heap.length > 0 ? summary(heap) : null,
      backgroundBytesPerSecPerPeer: bps.length > 0 ? summary(bps) : null,
      bytesPerSecPerPeerByProtocol: byProtocol(t0s, t1s, elapsed),
      // gossip mesh and neighbours per peer (topicPeers ~ connections)
      gossip: await gossipHealth(bench.mesh),
      loadAvgBefore: loadBefore,
      loadAvgAfter: load()
    })
    process.stderr.write(JSON.stringify(rows[rows.length - 1]) + '\n')
  } finally {
    await bench.close()
  }
}

process.stdout.write(JSON.stringify({ settleS, cpuCores: (await import('node:os')).cpus().length, rows }) + '\n')
