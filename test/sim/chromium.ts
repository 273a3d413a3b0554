/**
 * Headless Chromium for the report tests: the DOM of a page after layout
 * (--dump-dom) and the plots in it (name, size, drawn data marks).
 */
import { spawn, spawnSync } from 'node:child_process'

export const CHROMIUM = ['chromium', 'chromium-browser', 'google-chrome'].find(c => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0)

/** Headless Chromium's DOM of a file (after layout), or throws. */
export async function dumpDom (file: string): Promise<string> {
  const child = spawn(CHROMIUM!, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--virtual-time-budget=2000', '--dump-dom', `file://${file}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.resume()
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 60_000)
  const code = await new Promise<number | null>(resolve => { child.once('exit', c => { resolve(c) }) })
  clearTimeout(timer)
  if (code !== 0 || out.length === 0) throw new Error(`chromium exited ${code} with ${out.length} bytes`)
  return out
}

/** Every plot of a dumped page: its name, size and number of drawn data marks. */
export function plotsIn (dom: string): Array<{ name: string, width: number, height: number, marks: number }> {
  const out = []
  for (const m of dom.matchAll(/<svg class="plot" data-plot="([^"]+)"[^>]*width="(\d+)" height="(\d+)"[^>]*>([\s\S]*?)<\/svg>/g)) {
    out.push({ name: m[1], width: Number(m[2]), height: Number(m[3]), marks: (m[4].match(/class="datum"/g) ?? []).length })
  }
  return out
}

export const PLOTS = ['end-cdf', 'convergence', 'commit-latency', 'availability', 'staleness', 'invocations', 'cpu', 'rss']

