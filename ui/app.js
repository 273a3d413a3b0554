// The dcis dashboard: polls this peer's own API every 2 s and draws the mesh.
// Every value shown comes from peers (descriptors are signed by their peer,
// not by us): text goes in with textContent only, never as HTML.
'use strict'

const REFRESH_MS = 2000
const COLORS = ['#4fc3f7', '#ffb74d', '#81c784', '#e57373', '#ba68c8', '#fff176', '#4db6ac', '#f06292', '#9575cd', '#a1887f']
let meshChart = null

const short = (id) => typeof id === 'string' && id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-6)}` : String(id ?? '')

async function getJson (path) {
  const res = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' })
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`)
  return await res.json()
}

async function getText (path) {
  const res = await fetch(path, { cache: 'no-store' })
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`)
  return await res.text()
}

function el (tag, text, cls) {
  const e = document.createElement(tag)
  if (text != null) e.textContent = String(text)
  if (cls != null) e.className = cls
  return e
}

function fillTable (id, rows, cells, empty) {
  const tbody = document.querySelector(`#${id} tbody`)
  const frag = document.createDocumentFragment()
  if (rows.length === 0) {
    const tr = el('tr')
    const td = el('td', empty, 'muted')
    td.colSpan = document.querySelectorAll(`#${id} thead th`).length
    tr.appendChild(td)
    frag.appendChild(tr)
  }
  for (const row of rows) {
    const tr = el('tr')
    for (const c of cells(row, tr)) tr.appendChild(c instanceof Node ? c : el('td', c))
    frag.appendChild(tr)
  }
  tbody.replaceChildren(frag)
}

function td (text, cls, title) {
  const e = el('td', text, cls)
  if (title != null) e.title = String(title)
  return e
}

/** Vivaldi estimate between two coordinates: |a - b| + heights (ms) */
function vivaldi (a, b) {
  if (a == null || b == null || !Array.isArray(a.vec) || !Array.isArray(b.vec) || a.vec.length !== b.vec.length) return null
  let s = 0
  for (let i = 0; i < a.vec.length; i++) s += (a.vec[i] - b.vec[i]) ** 2
  return Math.sqrt(s) + (a.height ?? 0) + (b.height ?? 0)
}

function heat (ms, max) {
  // green (fast) to red (slow)
  const t = Math.max(0, Math.min(1, ms / Math.max(1, max)))
  return `hsl(${Math.round(120 - 120 * t)}, 70%, 60%)`
}

function renderMap (peers, selfId) {
  const status = document.getElementById('mesh-map-status')
  const placed = peers.filter(p => p.coord != null && p.coord.vec.length >= 2)
  const box = document.getElementById('mesh-map')
  box.dataset.points = String(placed.length)
  status.textContent = placed.length < peers.length ? `${peers.length - placed.length} peer(s) without a coordinate yet` : ''
  if (typeof window.Chart !== 'function') { status.textContent = 'chart library not loaded'; return }
  const regions = [...new Set(placed.map(p => p.region ?? 'unknown'))].sort()
  const datasets = []
  // edges: every pair, labelled by the estimated RTT
  for (let i = 0; i < placed.length; i++) {
    for (let j = i + 1; j < placed.length; j++) {
      datasets.push({ type: 'line', data: [{ x: placed[i].coord.vec[0], y: placed[i].coord.vec[1] }, { x: placed[j].coord.vec[0], y: placed[j].coord.vec[1] }], borderColor: 'rgba(139,152,165,0.35)', borderWidth: 1, pointRadius: 0, showLine: true, label: '_edge' })
    }
  }
  regions.forEach((region, k) => {
    const ps = placed.filter(p => (p.region ?? 'unknown') === region)
    datasets.push({
      type: 'scatter',
      label: region,
      data: ps.map(p => ({ x: p.coord.vec[0], y: p.coord.vec[1], peer: p.peerId })),
      backgroundColor: COLORS[k % COLORS.length],
      pointRadius: ps.map(p => p.peerId === selfId ? 9 : 6),
      pointStyle: ps.map(p => p.peerId === selfId ? 'rectRot' : 'circle')
    })
  })
  const options = {
    animation: false,
    maintainAspectRatio: false,
    scales: { x: { title: { display: true, text: 'ms' }, ticks: { color: '#8b98a5' }, grid: { color: '#2a333d' } }, y: { title: { display: true, text: 'ms' }, ticks: { color: '#8b98a5' }, grid: { color: '#2a333d' } } },
    plugins: {
      legend: { labels: { color: '#e6e6e6', filter: (item) => item.text !== '_edge' } },
      tooltip: { callbacks: { label: (ctx) => ctx.raw?.peer != null ? `${short(ctx.raw.peer)} (${ctx.dataset.label})` : '' } }
    }
  }
  if (meshChart == null) {
    meshChart = new window.Chart(box, { type: 'scatter', data: { datasets }, options })
  } else {
    meshChart.data.datasets = datasets
    meshChart.update('none')
  }
}

function renderHeat (peers, selfId, measured) {
  const ids = peers.map(p => p.peerId)
  const byId = new Map(peers.map(p => [p.peerId, p]))
  const cell = (from, to) => {
    if (from === to) return null
    if (from === selfId && measured.has(to)) return { ms: measured.get(to), how: 'measured' }
    const v = vivaldi(byId.get(from)?.coord, byId.get(to)?.coord)
    return v == null ? null : { ms: v, how: 'estimated from coordinates' }
  }
  let max = 1
  for (const a of ids) for (const b of ids) { const c = cell(a, b); if (c != null) max = Math.max(max, c.ms) }
  const table = el('table')
  table.dataset.size = String(ids.length)
  const head = el('tr')
  head.appendChild(el('th', ''))
  for (const b of ids) { const th = el('th', short(b)); th.title = `${b} (${byId.get(b)?.region ?? '?'})`; head.appendChild(th) }
  table.appendChild(head)
  for (const a of ids) {
    const tr = el('tr')
    const th = el('th', short(a)); th.title = a; tr.appendChild(th)
    for (const b of ids) {
      const c = cell(a, b)
      const t = td(c == null ? '–' : c.ms.toFixed(1), c == null ? 'none' : '', c == null ? '' : `${short(a)} → ${short(b)}: ${c.ms.toFixed(2)} ms (${c.how})`)
      if (c != null) t.style.background = heat(c.ms, max)
      tr.appendChild(t)
    }
    table.appendChild(tr)
  }
  document.getElementById('heatmap').replaceChildren(table)
}

function metricValue (text, name, labels = '') {
  const re = new RegExp(`^${name}${labels.replace(/[{}]/g, (m) => `\\${m}`)} (\\S+)$`, 'm')
  const m = re.exec(text)
  return m == null ? null : Number(m[1])
}

function renderContract (node, metrics) {
  const rows = [
    ['peer', short(node.peerId)],
    ['region / zone', `${node.region} / ${node.zone}`],
    ['cpu_usage', (() => { const v = metricValue(metrics, 'dcis_cpu_usage_ratio'); return v == null ? '–' : `${(v * 100).toFixed(1)} %` })()],
    ['latency_p95 (api)', (() => { const v = metricValue(metrics, 'dcis_latency_p95_seconds', '{operation="api"}'); return v == null ? '–' : `${(v * 1000).toFixed(1)} ms` })()],
    ['traffic in / out', (() => { const i = metricValue(metrics, 'dcis_traffic_bytes_per_second', '{direction="in"}'); const o = metricValue(metrics, 'dcis_traffic_bytes_per_second', '{direction="out"}'); return i == null ? '–' : `${i} / ${o} B/s` })()]
  ]
  const box = document.getElementById('contract')
  box.replaceChildren(...rows.map(([k, v]) => { const d = el('div'); d.append(el('span', k, 'muted'), el('span', v)); return d }))
}

async function refresh () {
  const started = Date.now()
  const [node, registry, latency, services, functions, allocations, rollouts, metrics] = await Promise.allSettled([
    getJson('/v1/node'), getJson('/v1/registry/nodes'), getJson('/v1/latency'), getJson('/v1/services'),
    getJson('/v1/functions'), getJson('/v1/allocations'), getJson('/v1/rollouts'), getText('/metrics')
  ])
  const selfId = node.status === 'fulfilled' ? node.value.peerId : null
  if (node.status === 'fulfilled') {
    document.getElementById('self').textContent = `${node.value.peerId} · ${node.value.region}/${node.value.zone}`
    renderContract(node.value, metrics.status === 'fulfilled' ? metrics.value : '')
  }

  // peers: the registry (signed descriptors with coordinates), this peer's own live coordinate and measured RTTs
  const nodes = registry.status === 'fulfilled' ? registry.value.nodes : []
  const measured = new Map()
  let selfCoord = null
  if (latency.status === 'fulfilled') {
    selfCoord = latency.value.self.coordinate
    for (const p of latency.value.peers) if (p.rttMs != null) measured.set(p.peerId, p.rttMs)
  }
  const peers = nodes.map(n => {
    const lat = n.end?.latency
    const coord = n.peerId === selfId && selfCoord != null ? selfCoord : (lat != null && Array.isArray(lat.vec) ? lat : null)
    return { peerId: n.peerId, region: n.region, coord }
  }).sort((a, b) => a.peerId.localeCompare(b.peerId))
  renderMap(peers, selfId)
  renderHeat(peers, selfId, measured)

  document.getElementById('registry-count').textContent = `(${nodes.length} peers)`
  fillTable('registry', [...nodes].sort((a, b) => a.peerId.localeCompare(b.peerId)), (n, tr) => {
    tr.dataset.peer = n.peerId
    const e = n.end ?? {}
    const ageS = e.issuedAt != null ? Math.max(0, Math.round((Date.now() - Date.parse(e.issuedAt)) / 1000)) : null
    return [
      td(short(n.peerId), 'mono' + (n.peerId === selfId ? ' ok' : ''), n.peerId),
      td(n.region ?? '–'), td(n.zone ?? '–'),
      td(`${n.trust?.level ?? 0} (${n.trust?.source ?? '?'})`),
      td(e.cpu?.cores ?? '–', 'num'), td(e.memory?.totalMb != null ? `${e.memory.totalMb} MiB` : '–', 'num'),
      td(e.capacity != null ? `${e.capacity.cpu} cpu / ${e.capacity.memoryMb} MiB` : '–', 'num'),
      td(e.load != null ? `${e.load.cpu} / ${e.load.memory}` : '–', 'num'),
      td((e.runtimes ?? []).join(', ')),
      td(ageS == null ? '–' : `${ageS} s`, 'num')
    ]
  }, registry.status === 'fulfilled' ? 'no descriptors yet' : `error: ${registry.reason.message}`)

  const list = services.status === 'fulfilled' ? services.value.services : []
  const statuses = await Promise.allSettled(list.slice(0, 50).map(s => getJson(`/v1/services/${encodeURIComponent(s.name)}`)))
  fillTable('services', list.slice(0, 50).map((s, i) => ({ s, st: statuses[i] })), ({ s, st }) => {
    if (st.status !== 'fulfilled') return [td(s.name), td(s.mode), td(`error: ${st.reason.message}`, 'bad')]
    const v = st.value
    const failing = (v.conditions ?? []).filter(c => c.status !== 'True' && c.status !== true)
    return [
      td(s.name), td(s.mode),
      td(`${(v.liveReplicas ?? []).length}/${v.desiredReplicas ?? '?'}`, 'num', (v.replicas ?? []).map(r => `${short(r.peerId)} ${r.region ?? ''} ${r.role}`).join('\n')),
      td(v.leader != null ? short(v.leader) : (s.mode === 'strong' ? 'electing' : '–'), 'mono', v.leader ?? ''),
      td(v.stalenessMs != null ? `${v.stalenessMs} ms` : '–', 'num'),
      td((v.conditions ?? []).map(c => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}`).join('; ') || '–', failing.length > 0 ? 'bad' : '')
    ]
  }, services.status === 'fulfilled' ? 'no services' : `error: ${services.reason.message}`)

  const fns = functions.status === 'fulfilled' ? functions.value.functions : []
  const details = await Promise.allSettled(fns.slice(0, 50).map(f => getJson(`/v1/functions/${encodeURIComponent(f.name)}`)))
  fillTable('functions', fns.slice(0, 50).map((f, i) => ({ f, d: details[i] })), ({ f, d }) => {
    const health = d.status === 'fulfilled' ? (d.value.health ?? []) : []
    const bad = health.some(h => h.healthy === false || h.status === 'fail' || h.state === 'failing')
    return [
      td(f.name), td(f.version, 'num'), td(short(f.id), 'mono', f.id), td(f.abi), td(f.knownGood ? 'yes' : 'no', f.knownGood ? 'ok' : ''),
      td(health.length === 0 ? '–' : (bad ? 'failing' : 'passing'), bad ? 'bad' : 'ok', JSON.stringify(health))
    ]
  }, functions.status === 'fulfilled' ? 'no functions' : `error: ${functions.reason.message}`)

  const allocs = allocations.status === 'fulfilled' ? allocations.value.allocations : []
  if (allocations.status === 'fulfilled') document.getElementById('alloc-free').textContent = `(free here: ${allocations.value.free.cpu} cpu, ${allocations.value.free.memoryMb} MiB)`
  fillTable('allocations', allocs, (a) => [
    td(short(a.id), 'mono', a.id), td(a.nodes.map(n => `${short(n.peerId)} ${n.region}`).join(', ')), td(a.cpu, 'num'), td(`${a.memoryMb} MiB`, 'num'), td(a.expiresAt)
  ], allocations.status === 'fulfilled' ? 'no allocations on this peer' : `error: ${allocations.reason.message}`)

  const rolls = rollouts.status === 'fulfilled' ? rollouts.value.rollouts : []
  fillTable('rollouts', rolls, (r) => [
    td(r.name ?? r.function ?? '?'), td(r.state ?? '?'), td(r.version ?? r.canary?.version ?? '–', 'num'), td(Array.isArray(r.cohort) ? r.cohort.join(', ') : (r.canaryRegions ?? []).join(', '))
  ], rollouts.status === 'fulfilled' ? 'no rollouts' : `error: ${rollouts.reason.message}`)

  document.getElementById('updated').textContent = `updated ${new Date().toLocaleTimeString()} (${Date.now() - started} ms)`
  document.body.dataset.ready = 'true'
}

async function loop () {
  try { await refresh() } catch (err) { document.getElementById('updated').textContent = `refresh failed: ${err.message}` }
  setTimeout(() => { loop().catch(() => {}) }, REFRESH_MS)
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => { loop().catch(() => {}) })
else loop().catch(() => {})
