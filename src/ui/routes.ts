/**
 * `GET /ui`: the dashboard (issue 14). Static files from the package's own
 * `ui/` folder and Chart.js from its npm package, read once and served from
 * memory; no CDN, no external resource (the CSP says so). The page polls
 * this peer's own read API (/v1/node, /v1/registry/nodes, /v1/latency,
 * /v1/services, /v1/functions, /v1/allocations, /v1/rollouts, /metrics).
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ApiRoutes } from '../api/index.js'

/** the repository's (or installed package's) ui/ folder: ../../ui from src/ui and from dist/ui */
export const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url))

interface Asset { path: string, type: string }

function chartJsPath (): string {
  // chart.js's "main" is dist/chart.cjs; the browser build sits beside it
  return join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js')
}

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

export function uiRoutes (): ApiRoutes {
  const assets: Record<string, Asset> = {
    '/ui': { path: join(UI_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
    '/ui/app.js': { path: join(UI_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
    '/ui/style.css': { path: join(UI_DIR, 'style.css'), type: 'text/css; charset=utf-8' },
    '/ui/vendor/chart.umd.min.js': { path: chartJsPath(), type: 'text/javascript; charset=utf-8' }
  }
  const cache = new Map<string, Promise<Buffer>>()
  const load = async (url: string): Promise<Buffer> => {
    let p = cache.get(url)
    if (p == null) {
      p = readFile(assets[url].path)
      // a failed read is retried on the next request, not cached
      p.catch(() => { cache.delete(url) })
      cache.set(url, p)
    }
    return await p
  }
  return {
    name: 'ui',
    description: 'The dashboard: mesh map, latency heat map, registry, services, functions, allocations (static, served by the peer itself)',
    register (app) {
      for (const [url, asset] of Object.entries(assets)) {
        app.get(url, {
          schema: {
            summary: url === '/ui' ? 'The dashboard (HTML; polls this peer\'s read API)' : `Dashboard asset ${url.slice(4)}`,
            operationId: url === '/ui' ? 'getDashboard' : `getDashboardAsset${url.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
            response: { 200: { description: asset.type.split(';')[0], content: { [asset.type.split(';')[0]]: { schema: { type: 'string' } } } } }
          }
        }, async (_req, reply) => {
          const body = await load(url)
          return await reply
            .type(asset.type)
            .header('content-security-policy', CSP)
            .header('x-content-type-options', 'nosniff')
            .header('cache-control', 'no-cache')
            .send(body)
        })
      }
    }
  }
}
