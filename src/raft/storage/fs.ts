/**
 * The few file-system operations the WAL and snapshot store use, behind an
 * interface so tests can gate or fail fsync (group-commit and fault tests).
 * `nodeWalFs()` is the real implementation on node:fs.
 */
import * as fsp from 'node:fs/promises'
import * as fs from 'node:fs'

export interface WalFile {
  /** write all of `data` at `position` */
  write (data: Uint8Array, position: number): Promise<void>
  /** flush file data (and the size metadata needed to read it back) */
  datasync (): Promise<void>
  /** flush data and all metadata */
  sync (): Promise<void>
  truncate (length: number): Promise<void>
  /** synchronous positional read (serves LogStorage's synchronous reads); returns bytes read */
  readSync (into: Uint8Array, position: number): number
  close (): Promise<void>
}

export interface WalFs {
  mkdirp (path: string): Promise<void>
  readdir (path: string): Promise<string[]>
  readFile (path: string): Promise<Uint8Array>
  /** 'read' = existing file, read only; 'append' = existing file, read/write; 'create' = new file (fails if it exists), read/write */
  open (path: string, mode: 'read' | 'append' | 'create'): Promise<WalFile>
  rename (from: string, to: string): Promise<void>
  unlink (path: string): Promise<void>
  /** fsync a directory so creates, renames and unlinks in it are durable */
  syncDir (path: string): Promise<void>
}

/** batches up to this size are written synchronously (see NodeWalFile.write) */
const SYNC_WRITE_MAX = 256 * 1024

class NodeWalFile implements WalFile {
  constructor (private readonly fh: fsp.FileHandle) {}

  async write (data: Uint8Array, position: number): Promise<void> {
    let done = 0
    if (data.length <= SYNC_WRITE_MAX) {
      // a small write only copies into the page cache (microseconds): doing it
      // on the main thread saves a thread-pool round trip (a wake-up of the
      // event loop) per batch; the fdatasync that follows stays asynchronous
      while (done < data.length) {
        const n = fs.writeSync(this.fh.fd, data, done, data.length - done, position + done)
        if (n <= 0) throw new Error('write made no progress')
        done += n
      }
      return
    }
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, position + done)
      if (bytesWritten <= 0) throw new Error('write made no progress')
      done += bytesWritten
    }
  }

  async datasync (): Promise<void> { await this.fh.datasync() }
  async sync (): Promise<void> { await this.fh.sync() }
  async truncate (length: number): Promise<void> { await this.fh.truncate(length) }

  readSync (into: Uint8Array, position: number): number {
    let done = 0
    while (done < into.length) {
      const n = fs.readSync(this.fh.fd, into, done, into.length - done, position + done)
      if (n === 0) break
      done += n
    }
    return done
  }

  async close (): Promise<void> { await this.fh.close() }
}

const MODE_FLAGS = { read: 'r', append: 'r+', create: 'wx+' } as const

export function nodeWalFs (): WalFs {
  return {
    async mkdirp (path) { await fsp.mkdir(path, { recursive: true }) },
    async readdir (path) { return await fsp.readdir(path) },
    async readFile (path) { return await fsp.readFile(path) },
    async open (path, mode) { return new NodeWalFile(await fsp.open(path, MODE_FLAGS[mode])) },
    async rename (from, to) { await fsp.rename(from, to) },
    async unlink (path) { await fsp.unlink(path) },
    async syncDir (path) {
      const fh = await fsp.open(path, 'r')
      try {
        await fh.sync()
      } finally {
        await fh.close()
      }
    }
  }
}
