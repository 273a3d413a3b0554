/**
 * The catalogue on disk: one snapshot file (the CRDT state and the HLC),
 * replaced atomically (write a temporary file, fsync, rename, fsync the
 * directory), so a crash leaves either the old or the new snapshot. A
 * local write is acknowledged only once its snapshot is on disk, so a
 * restarted peer never reuses a dot it has already shipped.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { CATALOGUE_SECTIONS, decodeSnapshot, encodeSnapshot } from '../crdt/replication/index.js'
import type { SectionedState } from '../crdt/replication/index.js'
import type { Hlc } from '../crdt/index.js'
import { Key } from 'interface-datastore'
import type { Datastore } from 'interface-datastore'
import { CatalogueStorageError } from './errors.js'
import type { Sealer } from '../protection/sealer.js'

export const SNAPSHOT_FILE = 'catalogue.snapshot'
export const SNAPSHOT_KEY = '/dcis/catalogue/snapshot'

export interface SnapshotStore {
  load(): Promise<{ state: SectionedState, clock: Hlc } | undefined>
  quarantine(): Promise<string>
  write(get: () => { state: SectionedState, clock: Hlc }): Promise<void>
  flushed(): Promise<void>
}

/** Coalescing: calls made while a write is queued share it; each resolves once a write that started after it is done. */
class Coalesced {
  private saving: Promise<void> = Promise.resolve()
  private queued: Promise<void> | null = null

  async write (save: () => Promise<void>): Promise<void> {
    if (this.queued != null) return await this.queued
    const p = this.saving.then(async () => {
      this.queued = null
      await save()
    })
    this.queued = p
    this.saving = p.catch(() => {})
    return await p
  }

  async flushed (): Promise<void> {
    await this.saving
  }
}

/** The snapshot as one datastore entry (a catalogue of one peer, without a data dir of its own). */
export class DatastoreSnapshot implements SnapshotStore {
  private readonly ds: Datastore
  private readonly coalesced = new Coalesced()

  constructor (ds: Datastore) {
    this.ds = ds
  }

  async load (): Promise<{ state: SectionedState, clock: Hlc } | undefined> {
    const key = new Key(SNAPSHOT_KEY)
    if (!(await this.ds.has(key))) return undefined
    try {
      return decodeSnapshot(await this.ds.get(key), CATALOGUE_SECTIONS)
    } catch (err) {
      throw new CatalogueStorageError(`${SNAPSHOT_KEY} is damaged: ${(err as Error).message}`, { cause: err })
    }
  }

  async quarantine (): Promise<string> {
    const to = `${SNAPSHOT_KEY}-damaged-${Date.now()}`
    await this.ds.put(new Key(to), await this.ds.get(new Key(SNAPSHOT_KEY)))
    await this.ds.delete(new Key(SNAPSHOT_KEY))
    return to
  }

  async write (get: () => { state: SectionedState, clock: Hlc }): Promise<void> {
    await this.coalesced.write(async () => {
      const { state, clock } = get()
      await this.ds.put(new Key(SNAPSHOT_KEY), encodeSnapshot(state, clock))
    })
  }

  async flushed (): Promise<void> {
    await this.coalesced.flushed()
  }
}

export class SnapshotFile implements SnapshotStore {
  private readonly dir: string
  private readonly file: string
  private readonly coalesced = new Coalesced()
  private readonly sealer?: Pick<Sealer, 'seal' | 'open'>

  /** with a sealer, the file is one AES-256-GCM record (identity: catalogue.snapshot) */
  constructor (dir: string, sealer?: Pick<Sealer, 'seal' | 'open'>) {
    this.dir = dir
    this.file = join(dir, SNAPSHOT_FILE)
    if (sealer !== undefined) this.sealer = sealer
  }

  /** the persisted state, or undefined when there is none; CatalogueStorageError when it is damaged */
  async load (): Promise<{ state: SectionedState, clock: Hlc } | undefined> {
    let bytes: Uint8Array
    try {
      bytes = await readFile(this.file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new CatalogueStorageError(`cannot read ${this.file}: ${(err as Error).message}`, { cause: err })
    }
    try {
      return decodeSnapshot(this.sealer !== undefined ? this.sealer.open(bytes, SNAPSHOT_FILE) : bytes, CATALOGUE_SECTIONS)
    } catch (err) {
      if ((err as Error).name === 'UnknownKeyError') throw err
      throw new CatalogueStorageError(`${this.file} is damaged: ${(err as Error).message}`, { cause: err })
    }
  }

  /** moves a damaged snapshot aside (kept for inspection) */
  async quarantine (): Promise<string> {
    const to = `${this.file}.damaged-${Date.now()}`
    await rename(this.file, to)
    return to
  }

  /** stores `get()` as it is when the write starts (coalesced); resolves once on disk */
  async write (get: () => { state: SectionedState, clock: Hlc }): Promise<void> {
    await this.coalesced.write(async () => {
      const { state, clock } = get()
      const plain = encodeSnapshot(state, clock)
      await this.writeNow(this.sealer !== undefined ? this.sealer.seal(plain, SNAPSHOT_FILE) : plain)
    })
  }

  async flushed (): Promise<void> {
    await this.coalesced.flushed()
  }

  private async writeNow (bytes: Uint8Array): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const tmp = `${this.file}.tmp`
    const fh = await open(tmp, 'w', 0o600)
    try {
      await fh.writeFile(bytes)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, this.file)
    const dh = await open(this.dir, 'r')
    try {
      await dh.sync()
    } finally {
      await dh.close()
    }
  }
}
