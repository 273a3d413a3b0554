/**
 * Batched, gzipped log export for peers on thin links (issue 14): a pino
 * destination that keeps lines in a bounded memory buffer and, every
 * `intervalMs`, gzips the batch and appends it as one gzip member to
 * `file` (a file of concatenated members is one valid gzip stream: `zcat`
 * reads it whole). Past `maxFileBytes` the file rotates (`file.1` ...
 * `file.<keepFiles - 1>`, the oldest deleted), so shipping the closed files
 * (rsync, a sidecar) moves compressed batches only.
 *
 * The buffer is bounded by `maxBufferBytes`: when the disk or the interval
 * cannot keep up, the oldest lines are dropped, counted, and the next batch
 * starts with a line saying how many.
 */
import { open, rename, rm, stat } from 'node:fs/promises'
import { promisify } from 'node:util'
import { gzip as gzipCb } from 'node:zlib'

const gzip = promisify(gzipCb)

export interface LogExportInit {
  file: string
  /** default 10 s */
  intervalMs?: number
  /** default 4 MiB */
  maxBufferBytes?: number
  /** default 64 MiB */
  maxFileBytes?: number
  /** files kept including the current one, default 5 */
  keepFiles?: number
  /** failures of the exporter itself (it must not log through the logger it serves) */
  onError?: (err: Error) => void
}

export interface LogExportStats {
  bufferedBytes: number
  bufferedLines: number
  shippedLines: number
  droppedLines: number
  batches: number
  rotations: number
}

export class GzipLogExporter {
  private readonly init: Required<Omit<LogExportInit, 'onError'>> & Pick<LogExportInit, 'onError'>
  private lines: string[] = []
  private head = 0
  private bytes = 0
  private droppedSinceBatch = 0
  private timer?: ReturnType<typeof setInterval>
  private chain: Promise<void> = Promise.resolve()
  readonly stats: LogExportStats = { bufferedBytes: 0, bufferedLines: 0, shippedLines: 0, droppedLines: 0, batches: 0, rotations: 0 }

  constructor (init: LogExportInit) {
    this.init = { intervalMs: 10_000, maxBufferBytes: 4 * 1024 * 1024, maxFileBytes: 64 * 1024 * 1024, keepFiles: 5, ...init }
    if (this.init.keepFiles < 1) throw new RangeError('keepFiles must be at least 1')
  }

  /** pino's destination interface: one serialized line (with its newline) per call */
  write (line: string): boolean {
    const size = Buffer.byteLength(line)
    if (size > this.init.maxBufferBytes) {
      this.drop(1)
      return true
    }
    this.lines.push(line)
    this.bytes += size
    while (this.bytes > this.init.maxBufferBytes && this.head < this.lines.length) {
      this.bytes -= Buffer.byteLength(this.lines[this.head])
      this.head++
      this.drop(1)
    }
    if (this.head > 1024 && this.head * 2 > this.lines.length) {
      this.lines = this.lines.slice(this.head)
      this.head = 0
    }
    this.stats.bufferedBytes = this.bytes
    this.stats.bufferedLines = this.lines.length - this.head
    return true
  }

  private drop (n: number): void {
    this.droppedSinceBatch += n
    this.stats.droppedLines += n
  }

  start (): void {
    if (this.timer != null) return
    this.timer = setInterval(() => { this.flush().catch(() => {}) }, this.init.intervalMs)
    this.timer.unref()
  }

  /** ships what is buffered now (serialized with any flush in progress) */
  async flush (): Promise<void> {
    const run = async (): Promise<void> => { await this.ship() }
    this.chain = this.chain.then(run, run)
    await this.chain
  }

  /** stops the timer and ships the rest */
  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.flush()
  }

  private async ship (): Promise<void> {
    const batch = this.lines.slice(this.head)
    if (batch.length === 0 && this.droppedSinceBatch === 0) return
    const dropped = this.droppedSinceBatch
    this.lines = []
    this.head = 0
    this.bytes = 0
    this.droppedSinceBatch = 0
    this.stats.bufferedBytes = 0
    this.stats.bufferedLines = 0
    if (dropped > 0) {
      batch.unshift(JSON.stringify({ level: 40, time: new Date().toISOString(), component: 'dcis:log-export', dropped, msg: `log export buffer full: ${dropped} lines dropped` }) + '\n')
    }
    try {
      const body = await gzip(Buffer.from(batch.join('')))
      await this.rotateIfNeeded(body.byteLength)
      const fh = await open(this.init.file, 'a', 0o640)
      try {
        await fh.write(body)
        await fh.datasync()
      } finally {
        await fh.close()
      }
      this.stats.shippedLines += batch.length
      this.stats.batches++
    } catch (err) {
      // the batch is lost; say so on the next one
      this.drop(batch.length)
      this.init.onError?.(err as Error)
    }
  }

  private async rotateIfNeeded (incoming: number): Promise<void> {
    let size: number
    try { size = (await stat(this.init.file)).size } catch { return }
    if (size === 0 || size + incoming <= this.init.maxFileBytes) return
    const f = this.init.file
    const keep = this.init.keepFiles
    await rm(`${f}.${keep - 1}`, { force: true })
    for (let i = keep - 2; i >= 1; i--) {
      await rename(`${f}.${i}`, `${f}.${i + 1}`).catch(() => {})
    }
    if (keep > 1) await rename(f, `${f}.1`)
    else await rm(f, { force: true })
    this.stats.rotations++
  }
}
