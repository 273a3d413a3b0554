/**
 * An in-memory WalFs that models what a power loss keeps: file contents are
 * durable only up to their last fsync/fdatasync, directory entries (create,
 * rename, unlink) only after the directory's fsync. `crashImage(rnd)` builds
 * the file system a reboot could find: per directory either the synced or
 * the current entries; per file its synced bytes plus a random prefix of
 * the unsynced appended bytes, sometimes with a zeroed (torn) stretch.
 *
 * `crashAfter(n)` makes the n-th mutating operation from now (and every
 * later one) fail as if the machine had stopped.
 */
import { dirname, basename } from 'node:path'
import type { WalFile, WalFs } from '../../../src/raft/storage/index.js'

interface Inode {
  current: Uint8Array
  durable: Uint8Array
}

export class CrashedError extends Error {
  constructor () {
    super('simulated crash')
    this.name = 'CrashedError'
  }
}

function concat (a: Uint8Array, b: Uint8Array, at: number): Uint8Array {
  const out = new Uint8Array(Math.max(a.length, at + b.length))
  out.set(a)
  out.set(b, at)
  return out
}

export class SimFs implements WalFs {
  private readonly dirs = new Set<string>()
  /** directory -> name -> inode, as the running system sees it */
  private readonly current = new Map<string, Map<string, Inode>>()
  /** directory -> name -> inode, as a crash would keep them */
  private readonly durable = new Map<string, Map<string, Inode>>()
  private countdown = Infinity
  crashed = false
  mutations = 0

  crashAfter (n: number): void { this.countdown = n }

  private mutate (): void {
    if (this.crashed) throw new CrashedError()
    this.mutations++
    if (--this.countdown <= 0) {
      this.crashed = true
      throw new CrashedError()
    }
  }

  private guard (): void {
    if (this.crashed) throw new CrashedError()
  }

  private entries (map: Map<string, Map<string, Inode>>, dir: string): Map<string, Inode> {
    let m = map.get(dir)
    if (m == null) {
      m = new Map()
      map.set(dir, m)
    }
    return m
  }

  private lookup (path: string): Inode | undefined {
    return this.current.get(dirname(path))?.get(basename(path))
  }

  async mkdirp (path: string): Promise<void> {
    this.guard()
    // directories themselves are treated as durable on creation (the storage root exists before open)
    for (let p = path; p !== dirname(p); p = dirname(p)) this.dirs.add(p)
    this.entries(this.current, path)
    this.entries(this.durable, path)
  }

  async readdir (path: string): Promise<string[]> {
    this.guard()
    if (!this.dirs.has(path)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' })
    return [...(this.current.get(path)?.keys() ?? [])]
  }

  async readFile (path: string): Promise<Uint8Array> {
    this.guard()
    const inode = this.lookup(path)
    if (inode == null) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' })
    return inode.current.slice()
  }

  async open (path: string, mode: 'read' | 'append' | 'create'): Promise<WalFile> {
    let inode = this.lookup(path)
    if (mode === 'create') {
      this.mutate()
      if (inode != null) throw Object.assign(new Error(`EEXIST: ${path}`), { code: 'EEXIST' })
      inode = { current: new Uint8Array(0), durable: new Uint8Array(0) }
      this.entries(this.current, dirname(path)).set(basename(path), inode)
    } else {
      this.guard()
      if (inode == null) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' })
    }
    const node = inode
    return {
      write: async (data, position) => {
        this.mutate()
        node.current = concat(node.current, data, position)
      },
      datasync: async () => { this.mutate(); node.durable = node.current.slice() },
      sync: async () => { this.mutate(); node.durable = node.current.slice() },
      truncate: async (length) => { this.mutate(); node.current = node.current.slice(0, length) },
      readSync: (into, position) => {
        const part = node.current.subarray(position, position + into.length)
        into.set(part)
        return part.length
      },
      close: async () => {}
    }
  }

  async rename (from: string, to: string): Promise<void> {
    this.mutate()
    const inode = this.lookup(from)
    if (inode == null) throw Object.assign(new Error(`ENOENT: ${from}`), { code: 'ENOENT' })
    this.current.get(dirname(from))?.delete(basename(from))
    this.entries(this.current, dirname(to)).set(basename(to), inode)
  }

  async unlink (path: string): Promise<void> {
    this.mutate()
    if (this.current.get(dirname(path))?.delete(basename(path)) !== true) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' })
  }

  async syncDir (path: string): Promise<void> {
    this.mutate()
    this.durable.set(path, new Map(this.current.get(path) ?? []))
  }

  /** the file system a reboot after a crash right now could find */
  crashImage (rnd: () => number): SimFs {
    const out = new SimFs()
    for (const d of this.dirs) out.dirs.add(d)
    const kept = new Map<Inode, Inode>()
    const survive = (inode: Inode): Inode => {
      let copy = kept.get(inode)
      if (copy != null) return copy
      const { current, durable } = inode
      let bytes: Uint8Array
      const extends_ = current.length >= durable.length && durable.every((b, i) => current[i] === b)
      if (extends_) {
        const extra = current.length - durable.length
        const keep = rnd() < 0.3 ? extra : Math.floor(rnd() * (extra + 1))
        bytes = current.slice(0, durable.length + keep)
        if (keep > 0 && rnd() < 0.3) {
          // a torn write: a stretch of the unsynced bytes never reached the disk
          const from = durable.length + Math.floor(rnd() * keep)
          const to = from + Math.floor(rnd() * (durable.length + keep - from + 1))
          bytes.fill(0, from, to)
        }
      } else {
        bytes = (rnd() < 0.5 ? durable : current).slice()
      }
      copy = { current: bytes, durable: bytes.slice() }
      kept.set(inode, copy)
      return copy
    }
    const dirNames = new Set([...this.current.keys(), ...this.durable.keys()])
    for (const dir of dirNames) {
      const source = rnd() < 0.5 ? this.durable.get(dir) : this.current.get(dir)
      const m = new Map<string, Inode>()
      for (const [name, inode] of source ?? []) m.set(name, survive(inode))
      out.current.set(dir, m)
      out.durable.set(dir, new Map(m))
    }
    return out
  }
}
