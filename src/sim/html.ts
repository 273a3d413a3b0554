/**
 * report.html: one self-contained page (no scripts, no external assets)
 * with SVG plots drawn here: END propagation CDF, registry and counter
 * convergence over time with fault windows shaded, strong commit latency
 * and availability, eventual staleness, invocation latency, CPU and RSS
 * per peer. Each plot is an <svg class="plot" data-plot="NAME">.
 */
import type { SimReport } from './report.js'

interface Series { name: string, points: Array<[number, number]>, kind?: 'line' | 'dots' | 'step' }
interface Plot {
  id: string
  title: string
  xLabel: string
  yLabel: string
  series: Series[]
  windows?: SimReport['windows']
  yMax?: number
  xMax?: number
}

const W = 720
const H = 280
const M = { l: 60, r: 150, t: 30, b: 42 }
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf']
const WINDOW_COLORS: Record<string, string> = { partition: '#f4a582', loss: '#fddbc7', kill: '#d1e5f0', stop: '#d1e5f0', latency: '#e6f5d0' }

const esc = (s: string): string => s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

function niceMax (v: number): number {
  if (v <= 0 || !Number.isFinite(v)) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p
  return 10 * p
}

function fmtTick (v: number): string {
  return Math.abs(v) >= 1000 ? `${Math.round(v / 100) / 10}k` : String(Math.round(v * 100) / 100)
}

export function svgPlot (p: Plot): string {
  const all = p.series.flatMap(s => s.points)
  const xMax = p.xMax ?? niceMax(Math.max(1, ...all.map(q => q[0]), ...(p.windows ?? []).map(w => w.to ?? w.from)))
  const yMax = p.yMax ?? niceMax(Math.max(0, ...all.map(q => q[1])))
  const iw = W - M.l - M.r
  const ih = H - M.t - M.b
  const X = (x: number): number => M.l + (x / xMax) * iw
  const Y = (y: number): number => M.t + ih - (y / yMax) * ih
  const parts: string[] = []
  parts.push(`<text x="${M.l}" y="18" class="title">${esc(p.title)}</text>`)
  for (const w of p.windows ?? []) {
    const x0 = X(Math.max(0, w.from))
    const x1 = X(Math.min(xMax, w.to ?? xMax))
    parts.push(`<rect class="window" x="${x0.toFixed(1)}" y="${M.t}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${ih}" fill="${WINDOW_COLORS[w.kind] ?? '#eeeeee'}" opacity="0.6"><title>${esc(w.label)}</title></rect>`)
  }
  for (let i = 0; i <= 5; i++) {
    const yv = (yMax * i) / 5
    const xv = (xMax * i) / 5
    parts.push(`<line x1="${M.l}" x2="${M.l + iw}" y1="${Y(yv).toFixed(1)}" y2="${Y(yv).toFixed(1)}" class="grid"/>`)
    parts.push(`<text x="${M.l - 6}" y="${(Y(yv) + 4).toFixed(1)}" text-anchor="end" class="tick">${fmtTick(yv)}</text>`)
    parts.push(`<text x="${X(xv).toFixed(1)}" y="${M.t + ih + 16}" text-anchor="middle" class="tick">${fmtTick(xv)}</text>`)
  }
  parts.push(`<rect x="${M.l}" y="${M.t}" width="${iw}" height="${ih}" fill="none" stroke="#444"/>`)
  parts.push(`<text x="${M.l + iw / 2}" y="${H - 6}" text-anchor="middle" class="label">${esc(p.xLabel)}</text>`)
  parts.push(`<text transform="translate(14 ${M.t + ih / 2}) rotate(-90)" text-anchor="middle" class="label">${esc(p.yLabel)}</text>`)
  p.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]
    const pts = s.points.filter(q => Number.isFinite(q[0]) && Number.isFinite(q[1]))
    if (s.kind === 'dots') {
      for (const [x, y] of pts) parts.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(Math.min(y, yMax)).toFixed(1)}" r="2" fill="${color}" class="datum"/>`)
    } else if (pts.length > 0) {
      let d = ''
      pts.forEach(([x, y], j) => {
        if (s.kind === 'step' && j > 0) d += ` L${X(x).toFixed(1)},${Y(pts[j - 1][1]).toFixed(1)}`
        d += `${j === 0 ? 'M' : ' L'}${X(x).toFixed(1)},${Y(Math.min(y, yMax)).toFixed(1)}`
      })
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8" class="datum"/>`)
    }
    if (i < 12) {
      const ly = M.t + 8 + i * 16
      parts.push(`<rect x="${M.l + iw + 10}" y="${ly - 8}" width="10" height="10" fill="${color}"/><text x="${M.l + iw + 25}" y="${ly + 1}" class="legend">${esc(s.name)}</text>`)
    }
  })
  if (all.length === 0) parts.push(`<text x="${M.l + iw / 2}" y="${M.t + ih / 2}" text-anchor="middle" class="empty">no data</text>`)
  return `<svg class="plot" data-plot="${p.id}" data-points="${all.length}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join('')}</svg>`
}

function cdf (samples: number[]): Array<[number, number]> {
  const s = [...samples].sort((a, b) => a - b)
  return s.map((v, i) => [v, (i + 1) / s.length])
}

const secs = (ms: number): number => Math.round(ms / 100) / 10

export function renderHtml (r: SimReport): string {
  const windows = r.windows.map(w => ({ ...w, from: secs(w.from), to: w.to == null ? null : secs(w.to) }))
  const xMaxRun = Math.ceil(Math.max(r.scenario.duration, ...r.registry.map(x => secs(x.t))) / 20) * 20
  const plots: Plot[] = []
  plots.push({ id: 'end-cdf', title: 'END propagation: time until a peer\'s registry lists another peer (CDF)', xLabel: 'ms after the subject\'s API first answered', yLabel: 'fraction of pairs', yMax: 1, series: [{ name: 'all pairs', points: cdf(r.endPropagation.samplesMs), kind: 'step' }] })
  const conv: Series[] = [{ name: 'registry complete', points: r.registry.map(x => [secs(x.t), x.fraction]) }]
  if (r.counterFreshness.length > 0) conv.push({ name: 'counter reads fresh', points: r.counterFreshness.map(x => [secs(x.t), x.fraction]) })
  plots.push({ id: 'convergence', title: 'Registry and service convergence over time (shaded: faults)', xLabel: 's since t0', yLabel: 'fraction', yMax: 1, xMax: xMaxRun, series: conv, windows })
  if (r.strong != null) {
    plots.push({ id: 'commit-latency', title: `Strong service ${r.strong.service}: commit latency of acknowledged writes`, xLabel: 's since t0', yLabel: 'ms', xMax: xMaxRun, windows, series: [{ name: 'write', points: r.strong.commitSamples.map(s => [secs(s.t), s.ms]), kind: 'dots' }] })
    plots.push({ id: 'availability', title: `Strong service ${r.strong.service}: availability (successful operations per 5 s)`, xLabel: 's since t0', yLabel: 'fraction ok', yMax: 1, xMax: xMaxRun, windows, series: [{ name: 'ok / all', points: r.strong.availability.map(a => [secs(a.t), a.total === 0 ? 0 : a.ok / a.total]), kind: 'step' }] })
  }
  if (r.eventual != null) {
    plots.push({ id: 'staleness', title: 'Eventual counters: staleness of reads (CDF; 0 = fresh)', xLabel: 'ms since the oldest acknowledged write the read missed', yLabel: 'fraction of reads', yMax: 1, series: [{ name: 'reads', points: cdf(r.staleness.samplesMs), kind: 'step' }] })
  }
  if (r.functions != null) {
    plots.push({ id: 'invocations', title: 'Function invocation latency', xLabel: 's since t0', yLabel: 'ms', xMax: xMaxRun, windows, series: [{ name: 'ok', points: r.functions.samples.filter(s => s.ok).map(s => [secs(s.t), s.ms]), kind: 'dots' }, { name: 'failed', points: r.functions.samples.filter(s => !s.ok).map(s => [secs(s.t), s.ms]), kind: 'dots' }] })
  }
  const byPeer = new Map<string, SimReport['resources']['samples']>()
  for (const s of r.resources.samples) byPeer.set(s.peer, [...(byPeer.get(s.peer) ?? []), s])
  const peerSeries = (f: (s: SimReport['resources']['samples'][number]) => number | null): Series[] => [...byPeer.entries()].slice(0, 12).map(([peer, rows]) => ({ name: peer, points: rows.filter(x => f(x) != null).map(x => [secs(x.t), f(x)!]) }))
  plots.push({ id: 'cpu', title: `CPU per peer (% of one core; ${byPeer.size > 12 ? 'first 12 of ' : ''}${byPeer.size} peers)`, xLabel: 's since t0', yLabel: '% CPU', xMax: xMaxRun, windows, series: peerSeries(x => x.cpuPct) })
  plots.push({ id: 'rss', title: `RSS per peer (${byPeer.size > 12 ? 'first 12 of ' : ''}${byPeer.size} peers)`, xLabel: 's since t0', yLabel: 'MiB', xMax: xMaxRun, windows, series: peerSeries(x => x.rssMb) })

  const checks = r.checks.map(c => `<tr class="${c.ok ? 'ok' : 'fail'}"><td>${c.ok ? '✔' : '✘'}</td><td>${esc(c.name)}</td><td>${esc(c.detail)}</td></tr>`).join('')
  const events = r.events.map(e => `<tr><td>${secs(e.t)}</td><td>${esc(e.action)}</td><td>${esc(e.detail)}</td></tr>`).join('')
  const peers = r.peers.map(p => `<tr><td>${esc(p.name)}</td><td>${esc(p.region)}</td><td>${esc(p.zone)}</td><td>${p.nat ? 'yes' : ''}</td><td><code>${esc(p.peerId)}</code></td></tr>`).join('')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dcis sim: ${esc(r.scenario.name)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
tr.ok td:first-child{color:#1a7f37}tr.fail td{background:#fde2e1}
svg.plot{display:block;margin:12px 0 24px;background:#fff;border:1px solid #ddd}
.title{font-weight:600;font-size:13px}.tick{font-size:10px;fill:#555}.label{font-size:11px;fill:#333}.legend{font-size:11px}
.grid{stroke:#eee}.empty{fill:#999;font-size:14px}
</style></head><body>
<h1>dcis sim: ${esc(r.scenario.name)}</h1>
<p>seed ${r.scenario.seed}, ${r.scenario.duration} s, ${r.peers.length} peers, ${esc(r.network.kind)} network; started ${esc(r.startedAt)}; dcis ${esc(r.versions.dcis ?? '')}, node ${esc(r.versions.node ?? '')}, kernel ${esc(r.versions.kernel ?? '')}</p>
${r.network.limits.length > 0 ? `<ul>${r.network.limits.map(l => `<li>${esc(l)}</li>`).join('')}</ul>` : ''}
<h2>Checks</h2><table><tr><th></th><th>check</th><th>detail</th></tr>${checks}</table>
<h2>Plots</h2>
${plots.map(svgPlot).join('\n')}
<h2>Timeline</h2><table><tr><th>t (s)</th><th>action</th><th>detail</th></tr>${events}</table>
<h2>Peers</h2><table><tr><th>name</th><th>region</th><th>zone</th><th>NAT</th><th>peer id</th></tr>${peers}</table>
</body></html>
`
}
