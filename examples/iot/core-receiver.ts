/**
 * A small "core" for the IoT case study: receives sink batches (POST,
 * NDJSON, gzip or not), deduplicates records on their `key` (the sink's
 * idempotency key) and appends the new ones to NDJSON files, one per record
 * type, in a directory. `available = false` answers 503 (a core outage).
 *
 *   npx tsx examples/iot/core-receiver.ts --port 9400 --dir /tmp/core
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { gunzip } from 'node:zlib'
import { promisify } from 'node:util'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'

const gunzipAsync = promisify(gunzip)

export interface CoreRecord { key: string, type: string, [k: string]: unknown }

export class CoreReceiver {
  readonly records = new Map<string, CoreRecord>()
  duplicates = 0
  batches = 0
  bytes = 0
  available = true
  private server?: Server

  constructor (readonly dir?: string) {}

  async start (port = 0, host = '127.0.0.1'): Promise<string> {
    if (this.dir != null) {
      await mkdir(this.dir, { recursive: true })
      // dedup survives a restart: reload the keys already written
      for (const type of ['snapshot', 'counter', 'log', 'event']) {
        const text = await readFile(join(this.dir, `${type}.ndjson`), 'utf8').catch(() => '')
        for (const line of text.split('\n')) if (line !== '') { const r = JSON.parse(line) as CoreRecord; this.records.set(r.key, r) }
      }
    }
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        this.handle(req.headers['content-encoding'], Buffer.concat(chunks)).then(status => {
          res.statusCode = status
          res.end()
        }, () => { res.statusCode = 400; res.end() })
      })
    })
    await new Promise<void>(resolve => this.server?.listen(port, host, resolve))
    return `http://${host}:${(this.server.address() as AddressInfo).port}/ingest`
  }

  private async handle (encoding: string | undefined, body: Buffer): Promise<number> {
    if (!this.available) return 503
    const text = (encoding === 'gzip' ? await gunzipAsync(body) : body).toString('utf8')
    this.batches++
    this.bytes += body.length
    const fresh: CoreRecord[] = []
    for (const line of text.split('\n')) {
      if (line === '') continue
      const r = JSON.parse(line) as CoreRecord
      if (typeof r.key !== 'string') return 400
      if (this.records.has(r.key)) { this.duplicates++; continue }
      this.records.set(r.key, r)
      fresh.push(r)
    }
    if (this.dir != null) {
      const byType = new Map<string, string[]>()
      for (const r of fresh) byType.set(r.type, [...(byType.get(r.type) ?? []), JSON.stringify(r)])
      for (const [type, lines] of byType) await appendFile(join(this.dir, `${type}.ndjson`), lines.join('\n') + '\n')
    }
    return 200
  }

  of (type: string): CoreRecord[] {
    return [...this.records.values()].filter(r => r.type === type)
  }

  async stop (): Promise<void> {
    await new Promise(resolve => this.server?.close(resolve))
    this.server?.closeAllConnections?.()
  }
}

if (process.argv[1] != null && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  const arg = (name: string, def: string): string => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : def }
  const core = new CoreReceiver(arg('--dir', '/tmp/dcis-core'))
  core.start(Number(arg('--port', '9400'))).then(url => { console.log(`core receiver on ${url}, writing ${core.dir}`) }, (err: Error) => { console.error(err); process.exit(1) })
}
