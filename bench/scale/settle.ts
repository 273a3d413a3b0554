/**
 * How a mesh settles after it starts: N real `dcis start` processes (started
 * --stagger ms apart), then every --every seconds, summed over all peers'
 * /metrics: open connections, dials and dial errors, libp2p bytes (in +
 * out), latency states published and accepted, END updates accepted; plus
 * the load average. One JSON line per sample (rates are per sample
 * interval), so the storm after a big start and its end are visible.
 *   node --import tsx bench/scale/settle.ts --nodes 50 --stagger 1000 --samples 20 --every 20
 */
import { arg, load, metricsText, sleep, startMesh } from './_mesh.js'

const nodes = Number(arg('nodes', '50'))
const samples = Number(arg('samples', '20'))
const everyS = Number(arg('every', '20'))

/** the series summed over the peers (every label set on its own; of libp2p's bytes only the "global" totals) */
const WATCHED = new Set([
  'libp2p_connection_manager_connections',
  'libp2p_connection_manager_dials_total',
  'libp2p_connection_manager_dial_errors_total',
  'libp2p_data_transfer_bytes_total',
  'dcis_latency_gossip_published_total',
  'dcis_latency_gossip_accepted_total',
  'dcis_registry_descriptors_accepted_total'
])

/** series (name + labels) -> sum over the peers; `unreachable` counts peers whose /metrics did not answer */
async function sums (apiUrls: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const add = (k: string, v: number): void => { out.set(k, (out.get(k) ?? 0) + v) }
  await Promise.all(apiUrls.map(async url => {
    const text = await metricsText(url, 8000)
    if (text == null) { add('unreachable', 1); return }
    for (const [, name, labels = '', value] of text.matchAll(/^(\w+)(\{[^}]*\})? (\S+)$/gm)) {
      if (!WATCHED.has(name) || (name === 'libp2p_data_transfer_bytes_total' && !labels.includes('"global '))) continue
      add(name + labels, Number(value))
    }
  }))
  return out
}

const bm = await startMesh(nodes, { stagger: Number(arg('stagger', '1000')) })
const t0 = performance.now()
try {
  let prev = new Map<string, number>()
  for (let i = 0; i < samples; i++) {
    await sleep(everyS * 1000)
    const now = await sums(bm.mesh.peers.map(p => p.apiUrl))
    const row: Record<string, number> = { t: Math.round((performance.now() - t0) / 1000), load1: load()[0] }
    // gauges as they are, counters (`_total`) as the change since the last sample
    for (const [k, v] of now) row[k] = /_total\b/.test(k) ? v - (prev.get(k) ?? 0) : v
    prev = now
    process.stdout.write(JSON.stringify(row) + '\n')
  }
} finally {
  await bm.close()
}
