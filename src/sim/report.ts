/**
 * report.json: every measurement of a run, the scenario, versions and seed;
 * the checks it passed or failed; and the summary table `dcis sim report`
 * prints.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ReportError } from './errors.js'
import { checkRevisionHistory } from './history.js'
import { summarize } from './stats.js'
import type { FaultWindow, Observations, RunRecord } from './runner.js'
import type { Summary } from './stats.js'
import { counterBounds } from './workload.js'
import type { OpRecord } from './workload.js'
import type { SimPeer } from './peers.js'

export interface Check { name: string, ok: boolean, detail: string }

export interface SimReport {
  format: 'dcis-sim-report/1'
  scenario: { name: string, file: string, text: string, seed: number, duration: number }
  versions: Record<string, string>
  network: { kind: string, limits: string[], emulator: { linkFaults: boolean, rtt: boolean } }
  startedAt: string
  readyMs: number
  peers: Array<{ name: string, site: string, region: string, zone: string, nat: boolean, peerId: string, joinAt: number }>
  events: Array<{ t: number, action: string, detail: string }>
  windows: FaultWindow[]
  endPropagation: { summary: Summary, samplesMs: number[] }
  registry: Observations['registry']
  counterFreshness: Observations['counters']
  staleness: { summary: Summary, samplesMs: number[] }
  strong?: { service: string, ops: number, ok: number, commitLatency: Summary, commitSamples: Array<{ t: number, ms: number }>, availability: Array<{ t: number, ok: number, total: number }>, linearizable: boolean, problems: string[], writes: { acked: number, unknown: number }, reads: number, errors?: Record<string, number> }
  eventual?: { counters: Array<{ key: string, acked: number, unknown: number, values: Record<string, number | null>, exact: boolean }>, settledMs: number | null }
  functions?: { invocations: number, ok: number, latency: Summary, errors: Record<string, number>, samples: Array<{ t: number, ms: number, ok: boolean }> }
  allocations?: { requests: number, ok: number, latency: Summary, errors: Record<string, number> }
  pipeline?: { invocations: number, ok: number, filterMismatches: number, latency: Summary, errors: Record<string, number> }
  resources: { samples: Observations['resources'], perPeer: Array<{ peer: string, cpuPct: Summary, rssMb: Summary }>, total: { cpuPctMedian: number | null, rssMbMedian: number | null } }
  setupErrors: string[]
  checks: Check[]
  /** NAT traversal at the end of the run (scenarios with nat or relay sites; docs/nat.md) */
  nat?: NatReport
}

export interface NatReport {
  peers: Array<{ name: string, status: string | null, reservations: number | null, direct: number | null, relayed: number | null, upgradedToDirect: number | null, reservationEvents: Array<{ kind: string, peer: string }> }>
  /** relayed connections followed by a direct one (DCUtR or a direct dial), summed over peers */
  upgradedToDirect: number
  /** per NAT type of the NAT'd sites: relayed connections, circuits opened, DCUtR punches */
  byNatType: NatTypeRow[]
  /** medians of the peers' ping windows: through a relay vs direct (ms) */
  relayedRttMs: Summary
  directRttMs: Summary
}

function availability (ops: OpRecord[], bucketMs = 5000): Array<{ t: number, ok: number, total: number }> {
  const buckets = new Map<number, { ok: number, total: number }>()
  for (const o of ops) {
    const b = Math.floor(o.t / bucketMs) * bucketMs
    const cur = buckets.get(b) ?? { ok: 0, total: 0 }
    cur.total++
    if (o.ok) cur.ok++
    buckets.set(b, cur)
  }
  return [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([t, v]) => ({ t, ...v }))
}

const r1 = (v: number): number => Math.round(v * 10) / 10

export function buildReport (rec: RunRecord): SimReport {
  const { scenario, workload } = rec
  const res = workload.results
  const checks: Check[] = []
  const spec = scenario.spec

  const endMs = rec.obs.endSeen.map(e => r1(e.ms))
  const expectedPairs = rec.peers.length * (rec.peers.length - 1)
  const seenPairs = new Set(rec.obs.endSeen.map(e => `${e.observer}>${e.subject}`)).size
  checks.push({ name: 'registry: every peer listed every other peer', ok: seenPairs >= expectedPairs, detail: `${seenPairs}/${expectedPairs} observer/subject pairs seen` })
  checks.push({ name: 'mesh settled after the run (registries full, counters equal)', ok: rec.settledMs != null, detail: rec.settledMs != null ? `${r1(rec.settledMs / 1000)} s after the end` : `not within ${spec.settle ?? 20} s` })
  for (const e of res.setupErrors) checks.push({ name: 'workload setup', ok: false, detail: e })

  let strong: SimReport['strong']
  if (res.strong != null) {
    const verdict = checkRevisionHistory(res.strong.history)
    const puts = res.strong.history.filter(h => h.kind === 'put')
    const committed = res.strong.ops.filter((_o, i) => i >= 0)
    const commitSamples = res.strong.history.filter(h => h.kind === 'put' && Number.isFinite(h.ret)).map(h => ({ t: r1(h.call), ms: r1(h.ret - h.call) }))
    strong = {
      service: res.strong.service,
      ops: committed.length,
      ok: committed.filter(o => o.ok).length,
      commitLatency: summarize(commitSamples.map(s => s.ms)),
      commitSamples,
      availability: availability(res.strong.ops),
      linearizable: verdict.ok,
      problems: verdict.problems,
      writes: { acked: puts.filter(p => Number.isFinite(p.ret)).length, unknown: puts.filter(p => !Number.isFinite(p.ret)).length },
      reads: res.strong.history.filter(h => h.kind === 'get').length
    }
    checks.push({ name: `strong service ${res.strong.service}: history linearizable`, ok: verdict.ok, detail: verdict.ok ? `${res.strong.history.length} operations (${strong.writes.acked} acknowledged writes, ${strong.writes.unknown} unknown, ${strong.reads} reads)` : verdict.problems.slice(0, 3).join('; ') })
    const errs: Record<string, number> = {}
    for (const o of res.strong.ops) if (o.error != null) errs[o.error] = (errs[o.error] ?? 0) + 1
    strong.errors = errs
    checks.push({ name: `strong service ${res.strong.service}: operations succeeded`, ok: strong.ok > 0, detail: `${strong.ok}/${strong.ops}${Object.keys(errs).length > 0 ? `; failures: ${Object.entries(errs).map(([k, v]) => `${v}x ${k}`).join(', ')}` : ''}` })
  }

  let eventual: SimReport['eventual']
  if (rec.finalCounters.length > 0) {
    const counters = rec.finalCounters.map(c => {
      const b = counterBounds(workload, c.key)
      const vs = Object.values(c.values)
      const exact = vs.every(v => v != null) && new Set(vs).size === 1 && vs[0]! >= b.acked && vs[0]! <= b.acked + b.unknown
      return { key: c.key, ...b, values: c.values, exact }
    })
    eventual = { counters, settledMs: rec.settledMs }
    for (const c of counters) {
      checks.push({ name: `eventual counter ${c.key}: every peer converged exactly`, ok: c.exact, detail: `acknowledged ${c.acked}${c.unknown > 0 ? ` (+ up to ${c.unknown} unknown)` : ''}; peers read ${[...new Set(Object.values(c.values))].join(', ')}` })
    }
  }

  const opSummary = (ops: OpRecord[]): { n: number, ok: number, latency: Summary, errors: Record<string, number> } => {
    const errors: Record<string, number> = {}
    for (const o of ops) if (o.error != null) errors[o.error] = (errors[o.error] ?? 0) + 1
    return { n: ops.length, ok: ops.filter(o => o.ok).length, latency: summarize(ops.filter(o => o.ok).map(o => o.ms)), errors }
  }
  const errText = (e: Record<string, number>): string => Object.keys(e).length === 0 ? '' : `; failures: ${Object.entries(e).map(([k, v]) => `${v}x ${k}`).join(', ')}`
  let functions: SimReport['functions']
  if (res.functions != null) {
    const s = opSummary(res.functions.invocations)
    functions = { invocations: s.n, ok: s.ok, latency: s.latency, errors: s.errors, samples: res.functions.invocations.map(o => ({ t: r1(o.t), ms: r1(o.ms), ok: o.ok })) }
    checks.push({ name: 'function invocations succeeded', ok: s.ok > 0, detail: `${s.ok}/${s.n}${errText(s.errors)}` })
  }
  let allocations: SimReport['allocations']
  if (res.allocations != null) {
    const s = opSummary(res.allocations.requests)
    allocations = { requests: s.n, ok: s.ok, latency: s.latency, errors: s.errors }
    checks.push({ name: 'allocations succeeded', ok: s.ok > 0, detail: `${s.ok}/${s.n}${errText(s.errors)}` })
  }
  let pipeline: SimReport['pipeline']
  if (res.pipeline != null) {
    const s = opSummary(res.pipeline.invocations)
    pipeline = { invocations: s.n, ok: s.ok, filterMismatches: res.pipeline.mismatches, latency: s.latency, errors: s.errors }
    checks.push({ name: 'sensor pipeline: the filter accepted exactly the in-range readings', ok: s.ok > 0 && res.pipeline.mismatches === 0, detail: `${s.ok}/${s.n} batches, ${res.pipeline.mismatches} mismatches${errText(s.errors)}` })
  }

  const names = rec.peers.map(p => p.plan.name)
  const perPeer = names.map(peer => {
    const rows = rec.obs.resources.filter(r => r.peer === peer)
    return { peer, cpuPct: summarize(rows.map(r => r.cpuPct).filter((v): v is number => v != null)), rssMb: summarize(rows.map(r => r.rssMb)) }
  })
  const med = (xs: Array<number | null>): number | null => { const s = xs.filter((v): v is number => v != null).sort((a, b) => a - b); return s.length === 0 ? null : s[Math.floor(s.length / 2)] }

  const nat = rec.nat != null ? natReport(rec) : undefined
  if (nat != null) {
    const natted = rec.peers.filter(p => p.plan.site.nat === true).map(p => p.plan.name)
    const holding = nat.peers.filter(p => natted.includes(p.name) && (p.reservations ?? 0) > 0)
    checks.push({ name: 'nat: every NAT\'d peer holds a relay reservation at the end', ok: holding.length === natted.length, detail: `${holding.length}/${natted.length}` })
  }

  return {
    format: 'dcis-sim-report/1',
    scenario: { name: spec.name, file: scenario.file, text: scenario.text, seed: spec.seed, duration: spec.duration },
    versions: rec.versions,
    network: { kind: rec.network.kind, limits: rec.network.limits, emulator: rec.emulator },
    startedAt: new Date(rec.t0Wall).toISOString(),
    readyMs: r1(rec.readyMs),
    peers: rec.peers.map(p => ({ name: p.plan.name, site: p.plan.site.name, region: p.plan.region, zone: p.plan.zone, nat: p.plan.site.nat === true, peerId: p.peerId, joinAt: p.plan.joinAt })),
    events: rec.events.map(e => ({ ...e, t: r1(e.t) })),
    windows: rec.windows.map(w => ({ ...w, from: r1(w.from), to: w.to == null ? null : r1(w.to) })),
    endPropagation: { summary: summarize(endMs), samplesMs: endMs },
    registry: rec.obs.registry.map(r => ({ ...r, t: r1(r.t), fraction: Math.round(r.fraction * 1000) / 1000 })),
    counterFreshness: rec.obs.counters.map(r => ({ t: r1(r.t), fraction: Math.round(r.fraction * 1000) / 1000 })),
    staleness: { summary: summarize(rec.obs.staleness), samplesMs: rec.obs.staleness.map(r1) },
    strong,
    eventual,
    functions,
    allocations,
    pipeline,
    resources: { samples: rec.obs.resources.map(r => ({ ...r, t: r1(r.t), cpuPct: r.cpuPct == null ? null : r1(r.cpuPct), rssMb: r1(r.rssMb) })), perPeer, total: { cpuPctMedian: med(perPeer.map(p => p.cpuPct.p50)), rssMbMedian: med(perPeer.map(p => p.rssMb.p50)) } },
    setupErrors: res.setupErrors,
    checks,
    ...(nat != null ? { nat } : {})
  }
}

export interface NatJson { reachability?: { status?: string }, reservations?: string[], connections?: { direct?: number, relayed?: number }, upgradedToDirect?: number, relayedConnectionsOpened?: number, events?: Array<{ kind: string, peer: string }> }

export interface NatTypeRow {
  /** the sites' natMapping: preserving (endpoint-independent mapping) or random (symmetric) */
  natType: string
  peers: string[]
  /** relayed connections open at the sample */
  relayedOpen: number
  /** relayed connections (circuits) the peers opened since start */
  relayedOpened: number
  /** relayed connections to a peer behind another site's NAT followed by a direct one: DCUtR punches */
  punched: number
}

/**
 * DCUtR by NAT type. A direct connection between peers behind two different
 * NATs can only come from a hole punch (every router drops new inbound
 * connections), so a NAT'd peer's `upgraded` events whose remote sits behind
 * another site's NAT count as punches.
 */
export function natTypes (peers: SimPeer[], natOf: (name: string) => NatJson | null | undefined): NatTypeRow[] {
  const site = new Map(peers.map(p => [p.peerId, p.plan.site]))
  const rows = new Map<string, NatTypeRow>()
  for (const p of peers.filter(q => q.plan.site.nat === true)) {
    const natType = p.plan.site.natMapping ?? 'preserving'
    const n = natOf(p.plan.name)
    let r = rows.get(natType)
    if (r === undefined) { r = { natType, peers: [], relayedOpen: 0, relayedOpened: 0, punched: 0 }; rows.set(natType, r) }
    r.peers.push(p.plan.name)
    r.relayedOpen += n?.connections?.relayed ?? 0
    r.relayedOpened += n?.relayedConnectionsOpened ?? 0
    r.punched += (n?.events ?? []).filter(e => e.kind === 'upgraded' && site.get(e.peer)?.nat === true && site.get(e.peer) !== p.plan.site).length
  }
  return [...rows.values()]
}
interface LatencyJson { peers?: Array<{ rttMs?: number | null, relayedRttMs?: number }> }

function natReport (rec: RunRecord): NatReport {
  const name = new Map(rec.peers.map(p => [p.peerId, p.plan.name]))
  const relayed: number[] = []
  const direct: number[] = []
  const peers = (rec.nat ?? []).map(s => {
    const n = s.nat as NatJson | null
    for (const e of (s.latency as LatencyJson | null)?.peers ?? []) {
      if (typeof e.relayedRttMs === 'number') relayed.push(e.relayedRttMs)
      if (typeof e.rttMs === 'number') direct.push(e.rttMs)
    }
    return {
      name: s.peer,
      status: n?.reachability?.status ?? null,
      reservations: n?.reservations?.length ?? null,
      direct: n?.connections?.direct ?? null,
      relayed: n?.connections?.relayed ?? null,
      upgradedToDirect: n?.upgradedToDirect ?? null,
      reservationEvents: (n?.events ?? []).filter(e => e.kind !== 'upgraded').map(e => ({ kind: e.kind, peer: name.get(e.peer) ?? e.peer }))
    }
  })
  const byName = new Map((rec.nat ?? []).map(s => [s.peer, s.nat as NatJson | null]))
  return { peers, upgradedToDirect: peers.reduce((a, p) => a + (p.upgradedToDirect ?? 0), 0), byNatType: natTypes(rec.peers, n => byName.get(n)), relayedRttMs: summarize(relayed), directRttMs: summarize(direct) }
}

export function readReport (dir: string): SimReport {
  let r: SimReport
  try {
    r = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as SimReport
  } catch (err) {
    throw new ReportError(`${dir}: no readable report.json (${(err as NodeJS.ErrnoException).code ?? (err as Error).message.split('\n')[0]})`)
  }
  if (r?.format !== 'dcis-sim-report/1') throw new ReportError(`${dir}/report.json: not a dcis sim report (format ${JSON.stringify(r?.format)})`)
  return r
}

const fmt = (v: number | null | undefined, unit = ''): string => v == null ? '-' : `${v}${unit}`

/** The terminal summary: one table of measurements, one of checks. */
export function summaryTable (r: SimReport): string {
  const rows: string[][] = [['MEASUREMENT', 'VALUE']]
  rows.push(['scenario', `${r.scenario.name} (seed ${r.scenario.seed}, ${r.scenario.duration} s, ${r.peers.length} peers, ${r.network.kind})`])
  rows.push(['mesh ready after', fmt(Math.round(r.readyMs / 100) / 10, ' s')])
  const e = r.endPropagation.summary
  rows.push(['END propagation p50 / p90 / max', `${fmt(e.p50, ' ms')} / ${fmt(e.p90, ' ms')} / ${fmt(e.max, ' ms')} (${e.n} pairs)`])
  if (r.strong != null) {
    rows.push(['strong commit latency p50 / p99', `${fmt(r.strong.commitLatency.p50, ' ms')} / ${fmt(r.strong.commitLatency.p99, ' ms')}`])
    rows.push(['strong ops ok', `${r.strong.ok}/${r.strong.ops}; linearizable: ${r.strong.linearizable ? 'yes' : 'NO'}`])
  }
  if (r.eventual != null) {
    rows.push(['eventual staleness p50 / p90 / max', `${fmt(r.staleness.summary.p50, ' ms')} / ${fmt(r.staleness.summary.p90, ' ms')} / ${fmt(r.staleness.summary.max, ' ms')}`])
    rows.push(['counters converged exactly', `${r.eventual.counters.filter(c => c.exact).length}/${r.eventual.counters.length}`])
  }
  if (r.functions != null) rows.push(['invocations ok / p50 / p99', `${r.functions.ok}/${r.functions.invocations} / ${fmt(r.functions.latency.p50, ' ms')} / ${fmt(r.functions.latency.p99, ' ms')}`])
  if (r.allocations != null) rows.push(['allocations ok / p50', `${r.allocations.ok}/${r.allocations.requests} / ${fmt(r.allocations.latency.p50, ' ms')}`])
  if (r.pipeline != null) rows.push(['pipeline batches ok / mismatches', `${r.pipeline.ok}/${r.pipeline.invocations} / ${r.pipeline.filterMismatches}`])
  if (r.nat != null) {
    rows.push(['nat: relayed connections followed by a direct one (DCUtR or a direct dial)', String(r.nat.upgradedToDirect)])
    for (const t of r.nat.byNatType ?? []) rows.push([`nat: ${t.natType} NAT: DCUtR punches / circuits opened / relayed open`, `${t.punched} / ${t.relayedOpened} / ${t.relayedOpen} (${t.peers.join(', ')})`])
    rows.push(['nat: ping p50 through a relay / direct', `${fmt(r.nat.relayedRttMs.p50, ' ms')} (${r.nat.relayedRttMs.n}) / ${fmt(r.nat.directRttMs.p50, ' ms')} (${r.nat.directRttMs.n})`])
  }
  rows.push(['per-peer CPU (median) / RSS (median)', `${fmt(r.resources.total.cpuPctMedian, ' %')} / ${fmt(r.resources.total.rssMbMedian, ' MiB')}`])
  const checks: string[][] = [['CHECK', 'RESULT', 'DETAIL'], ...r.checks.map(c => [c.name, c.ok ? 'ok' : 'FAIL', c.detail])]
  return `${table(rows)}\n\n${table(checks)}\n`
}

function table (rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => (r[i] ?? '').length)))
  return rows.map(r => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i])).join('  ')).join('\n')
}
