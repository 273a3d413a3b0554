/**
 * The bounded on-disk buffer of a sink: one file per batch, written with
 * fsync and an atomic rename, delivered in name (= creation) order and
 * deleted once the destination acknowledged it. When the buffer would
 * exceed its bound the oldest batches are dropped (and counted): the core
 * being unreachable for longer than the buffer lasts loses the oldest data,
 * never the peer's disk.
 */
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { LogMark } from './marks.js'

export interface BatchHeader {
  /** the batch's idempotency key (also its file name, after a sortable prefix) */
  id: string
  sink: string
  /** the snapshot window this batch belongs to (none: emitted records) */
  window?: number
  service?: string
  /** the window's last batch: delivering it marks the window shipped (and advances the log cursors) */
  final?: boolean
  /** log key -> the latest position shipped (final batches; the legacy cursor mark) */
  cursors?: Record<string, string>
  /** log key -> what is shipped once this window is delivered, by dot (final batches; src/sinks/marks.ts) */
  marks?: Record<string, LogMark>
}

export interface SpooledBatch {
  file: string
  header: BatchHeader
  /** NDJSON body: one record per line */
  body: string
  bytes: number
}

export class Spool {
  private seq = 0
  constructor (readonly dir: string, readonly maxBytes: number) {}

  async init (): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    // leftovers of an interrupted write
    for (const f of await readdir(this.dir)) if (f.endsWith('.tmp')) await rm(join(this.dir, f), { force: true })
  }

  /** stores a batch durably; returns the number of old batches dropped to stay within the bound */
  async put (header: BatchHeader, records: string[]): Promise<number> {
    const body = records.join('\n') + '\n'
    const text = JSON.stringify(header) + '\n' + body
    const name = `${Date.now().toString().padStart(15, '0')}-${(this.seq++).toString().padStart(8, '0')}.batch`
    const tmp = join(this.dir, `${name}.tmp`)
    const fh = await open(tmp, 'w')
    try {
      await fh.writeFile(text)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, join(this.dir, name))
    return this.trim()
  }

  /** batch files, oldest first */
  async list (): Promise<string[]> {
    return (await readdir(this.dir)).filter(f => f.endsWith('.batch')).sort()
  }

  async read (file: string): Promise<SpooledBatch | undefined> {
    let text: string
    try {
      text = await readFile(join(this.dir, file), 'utf8')
    } catch {
      return undefined
    }
    const nl = text.indexOf('\n')
    let header: BatchHeader
    try {
      header = JSON.parse(text.slice(0, nl)) as BatchHeader
      if (typeof header?.id !== 'string') throw new Error('no id')
    } catch {
      // a damaged file is dropped rather than retried forever
      await this.remove(file)
      return undefined
    }
    const body = text.slice(nl + 1)
    return { file, header, body, bytes: Buffer.byteLength(body) }
  }

  async remove (file: string): Promise<void> {
    await rm(join(this.dir, file), { force: true })
  }

  async bytes (): Promise<number> {
    let total = 0
    for (const f of await this.list()) total += (await stat(join(this.dir, f)).catch(() => ({ size: 0 }))).size
    return total
  }

  private async trim (): Promise<number> {
    const files = await this.list()
    const sizes = await Promise.all(files.map(async f => (await stat(join(this.dir, f)).catch(() => ({ size: 0 }))).size))
    let total = sizes.reduce((a, b) => a + b, 0)
    let dropped = 0
    for (let i = 0; i < files.length - 1 && total > this.maxBytes; i++) {
      await this.remove(files[i])
      total -= sizes[i]
      dropped++
    }
    return dropped
  }
}
