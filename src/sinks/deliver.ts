/**
 * Destinations of a sink: an HTTP endpoint (NDJSON body, gzip, the batch's
 * idempotency key in `Idempotency-Key`, every record with its own `key`) or
 * a directory of NDJSON files (one file per batch, named by its key,
 * written with fsync and an atomic rename, so a re-delivered batch
 * overwrites itself).
 */
import { mkdir, open, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { gzip } from 'node:zlib'
import { promisify } from 'node:util'
import type { SinkSpec } from './spec.js'
import type { SpooledBatch } from './spool.js'

const gzipAsync = promisify(gzip)

/** the destination refused or could not be reached; retried with back-off */
export class DeliveryError extends Error {
  readonly code = 'SINK_DELIVERY_FAILED'
  constructor (message: string, readonly retryable = true) {
    super(message)
    this.name = 'DeliveryError'
  }
}

export async function deliver (spec: SinkSpec, batch: SpooledBatch, signal: AbortSignal): Promise<number> {
  const d = spec.destination
  if (d.kind === 'directory') {
    await mkdir(d.path, { recursive: true })
    const name = `${batch.header.id.replace(/[^A-Za-z0-9._-]/g, '_')}.ndjson`
    const tmp = join(d.path, `.${name}.tmp`)
    const fh = await open(tmp, 'w')
    try {
      await fh.writeFile(batch.body)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, join(d.path, name))
    return batch.bytes
  }
  const raw = Buffer.from(batch.body)
  const body = d.gzip ? await gzipAsync(raw) : raw
  let res: Response
  try {
    res = await fetch(d.url, {
      method: 'POST',
      body,
      headers: {
        ...d.headers,
        'content-type': 'application/x-ndjson',
        ...(d.gzip ? { 'content-encoding': 'gzip' } : {}),
        'idempotency-key': batch.header.id
      },
      signal: AbortSignal.any([signal, AbortSignal.timeout(d.timeoutMs)])
    })
  } catch (err) {
    throw new DeliveryError(`POST ${d.url}: ${(err as Error).message}`)
  }
  await res.arrayBuffer().catch(() => undefined)
  if (res.status >= 200 && res.status < 300) return body.length
  // 4xx other than 408/429: the core refuses this batch; retrying cannot help, but dropping data silently is
  // worse: it stays in the buffer and is retried (slowly) until an operator fixes the core or the buffer bound drops it
  throw new DeliveryError(`POST ${d.url}: HTTP ${res.status}`, res.status >= 500 || res.status === 408 || res.status === 429)
}
