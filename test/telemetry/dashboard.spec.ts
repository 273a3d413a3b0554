/**
 * The dashboard at GET /ui on a real 3-peer mesh, rendered by headless
 * Chromium (Debian `chromium`): the page loads from the peer alone (no
 * external resource), lists all three peers in the registry table, places
 * them on the mesh map and fills the 3x3 heat map. The test saves a
 * screenshot (to a temporary file; `DCIS_UI_SCREENSHOT=docs/dashboard.png`
 * refreshes the image the README shows). Skipped, saying so, without Chromium.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'
import { buildExamples } from '../wasm/integration-mesh.js'
import { startMesh, which } from './mesh.js'
import type { TelemetryMesh } from './mesh.js'

const CHROMIUM = which('chromium') ?? which('chromium-browser') ?? which('google-chrome')

async function chromium (args: string[]): Promise<string> {
  const child = spawn(CHROMIUM as string, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--hide-scrollbars', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.resume()
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 90_000)
  const code = await new Promise<number | null>(resolve => { child.once('exit', c => { resolve(c) }) })
  clearTimeout(timer)
  if (code !== 0) throw new Error(`chromium exited ${String(code)}`)
  return out
}

describe('telemetry: the /ui dashboard in headless Chromium on a 3-peer mesh', function () {
  this.timeout(300_000)
  let tm: TelemetryMesh | undefined

  before(async function () {
    if (CHROMIUM == null) {
      console.warn('    skipped: no chromium on PATH (apt-get install chromium)')
      this.skip()
    }
    this.timeout(300_000)
    tm = await startMesh(3)
    const p0 = tm.mesh.peers[0]
    // the map needs every peer's descriptor with its coordinate
    await waitFor('peer 0 has all three descriptors with coordinates', async () => {
      const body = await (await fetch(`${p0.apiUrl}/v1/registry/nodes`)).json() as { nodes: Array<{ peerId: string, end: { latency?: { vec?: number[] } | null } }> }
      return body.nodes.length === 3 && body.nodes.every(n => Array.isArray(n.end.latency?.vec))
    }, { timeoutMs: 180_000, intervalMs: 1000 })
    // something in every table: a service, a function, an allocation
    await buildExamples()
    const manifest = await readFile(join(REPO_ROOT, 'examples/manifests/leaderboard.yaml'), 'utf8')
    const svc = await fetch(`${p0.apiUrl}/v1/manifests`, { method: 'POST', body: manifest, headers: { 'content-type': 'application/yaml' } })
    assert.ok(svc.status < 300, await svc.text())
    const fn = await fetch(`${p0.apiUrl}/v1/functions?name=echo`, { method: 'POST', body: await readFile(join(REPO_ROOT, 'examples/functions/build/echo.wasm')), headers: { 'content-type': 'application/wasm' } })
    assert.equal(fn.status, 201, await fn.text())
    const alloc = await fetch(`${p0.apiUrl}/v1/allocations`, { method: 'POST', body: JSON.stringify({ constraints: { cpu: 0.25, memory: '64Mi' } }), headers: { 'content-type': 'application/json' } })
    assert.ok(alloc.status < 300, await alloc.text())
    await waitFor('the leaderboard placed', async () => {
      const st = await (await fetch(`${p0.apiUrl}/v1/services/leaderboard`)).json() as { liveReplicas?: unknown[] }
      return (st.liveReplicas?.length ?? 0) === 3
    }, { timeoutMs: 60_000, intervalMs: 500 })
  })

  after(async function () {
    this.timeout(60_000)
    await tm?.stop()
  })

  it('serves the page and its assets itself, with a CSP that allows nothing external', async function () {
    const p0 = (tm as TelemetryMesh).mesh.peers[0]
    const page = await fetch(`${p0.apiUrl}/ui`)
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type') ?? '', /text\/html/)
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/)
    const html = await page.text()
    assert.doesNotMatch(html, /https?:\/\//, 'no external URL in the page')
    for (const asset of ['/ui/app.js', '/ui/style.css', '/ui/vendor/chart.umd.min.js']) {
      const res = await fetch(`${p0.apiUrl}${asset}`)
      assert.equal(res.status, 200, asset)
      assert.ok((await res.arrayBuffer()).byteLength > 100, asset)
    }
    assert.equal((await fetch(`${p0.apiUrl}/ui/../package.json`)).status, 404)
  })

  it('renders all three peers: registry rows, map points, 3x3 heat map; saves a screenshot', async function () {
    const { peers } = (tm as TelemetryMesh).mesh
    const url = `${peers[0].apiUrl}/ui`
    const dom = await chromium(['--virtual-time-budget=15000', '--window-size=1400,1600', '--dump-dom', url])
    assert.match(dom, /<body[^>]*data-ready="true"/, 'the page finished a refresh')
    for (const p of peers) assert.match(dom, new RegExp(`<tr data-peer="${p.peerId}"`), `registry row of peer ${p.index}`)
    assert.match(dom, /<canvas id="mesh-map"[^>]*data-points="3"/, 'three peers on the mesh map')
    assert.match(dom, /<table data-size="3">/, 'a 3x3 heat map')
    const cells = [...dom.matchAll(/<td[^>]*style="background[^"]*"[^>]*>[\d.]+<\/td>/g)]
    assert.ok(cells.length >= 6, `heat map cells with a value: ${cells.length}`)
    assert.match(dom, /<td>leaderboard<\/td><td>eventual<\/td><td[^>]*>3\/3<\/td>/, 'the service with its replicas')
    assert.match(dom, /<td>echo<\/td><td class="num">1<\/td>/, 'the function with its version')
    assert.doesNotMatch(dom, /no allocations on this peer/, 'the allocation')
    // a test run must not rewrite tracked files: the screenshot goes to a
    // temporary file unless asked for (DCIS_UI_SCREENSHOT=docs/dashboard.png)
    const wanted = process.env.DCIS_UI_SCREENSHOT
    const shot = wanted != null && wanted !== '' ? join(REPO_ROOT, wanted) : join(tmpdir(), `dcis-dashboard-${process.pid}.png`)
    try {
      await chromium(['--virtual-time-budget=15000', '--window-size=1400,1500', `--screenshot=${shot}`, url])
      assert.ok((await stat(shot)).size > 10_000, 'a screenshot of the dashboard')
    } finally {
      if (wanted == null || wanted === '') await rm(shot, { force: true })
    }
  })
})
