/**
 * A datastore whose values are sealed (AES-256-GCM, src/protection/sealer.ts)
 * with the datastore key as the record identity: a value copied under
 * another key, altered, or written in clear fails to open and is reported
 * (TamperedRecordError), never returned. Keys stay in clear (they name
 * services and objects, not their data).
 */
import { BaseDatastore } from 'datastore-core'
import type { Sealer } from './sealer.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Batch, Datastore, Key, KeyQuery, Pair, Query } from 'interface-datastore'

type LevelOp = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

/** the durable-write part of a LevelDatastore's `db` (classic-level) */
interface LevelHandle {
  put: (key: string, value: Uint8Array, options: { sync: boolean }) => Promise<void>
  del: (key: string, options: { sync: boolean }) => Promise<void>
  batch: (ops: LevelOp[], options: { sync: boolean }) => Promise<void>
}

export type SealedLevelHandle = LevelHandle

export class SealedDatastore extends BaseDatastore {
  constructor (private readonly inner: Datastore, private readonly sealer: Sealer) {
    super()
  }

  private sealed (key: Key, value: Uint8Array): Uint8Array {
    return this.sealer.seal(value, key.toString())
  }

  private opened (key: Key, value: Uint8Array): Uint8Array {
    return this.sealer.open(value, key.toString())
  }

  override async put (key: Key, val: Uint8Array, options?: AbortOptions): Promise<Key> {
    return await this.inner.put(key, this.sealed(key, val), options)
  }

  override async get (key: Key, options?: AbortOptions): Promise<Uint8Array> {
    return this.opened(key, await this.inner.get(key, options))
  }

  override async has (key: Key, options?: AbortOptions): Promise<boolean> {
    return await this.inner.has(key, options)
  }

  override async delete (key: Key, options?: AbortOptions): Promise<void> {
    await this.inner.delete(key, options)
  }

  override async * putMany (source: Iterable<Pair> | AsyncIterable<Pair>, options?: AbortOptions): AsyncGenerator<Key> {
    const seal = (key: Key, value: Uint8Array): Uint8Array => this.sealed(key, value)
    async function * sealedPairs (): AsyncGenerator<Pair> {
      for await (const p of source) yield { key: p.key, value: seal(p.key, p.value) }
    }
    yield * this.inner.putMany(sealedPairs(), options)
  }

  override async * getMany (source: Iterable<Key> | AsyncIterable<Key>, options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const p of this.inner.getMany(source, options)) yield { key: p.key, value: this.opened(p.key, p.value) }
  }

  override async * deleteMany (source: Iterable<Key> | AsyncIterable<Key>, options?: AbortOptions): AsyncGenerator<Key> {
    yield * this.inner.deleteMany(source, options)
  }

  /**
   * The inner LevelDB handle's durable writes (`put`/`del`/`batch` with
   * `{ sync }`), values sealed. Stores that fsync through a LevelDatastore's
   * `db` (the reservation ledger, CRDT objects' group commit) find it here
   * too, so wrapping a store for encryption never silently drops an fsync.
   * Undefined when the inner store has no such handle.
   */
  get db (): SealedLevelHandle | undefined {
    const db = (this.inner as { db?: Partial<LevelHandle> }).db
    if (db == null || typeof db.put !== 'function' || typeof db.del !== 'function' || typeof db.batch !== 'function') return undefined
    const level = db as LevelHandle
    const seal = (key: string, value: Uint8Array): Uint8Array => this.sealer.seal(value, key)
    return {
      put: async (key, value, options) => { await level.put(key, seal(key, value), options) },
      del: async (key, options) => { await level.del(key, options) },
      batch: async (ops, options) => {
        await level.batch(ops.map(o => o.type === 'put' ? { type: 'put' as const, key: o.key, value: seal(o.key, o.value) } : o), options)
      }
    }
  }

  override batch (): Batch {
    const b = this.inner.batch()
    return {
      put: (key, value) => { b.put(key, this.sealed(key, value)) },
      delete: (key) => { b.delete(key) },
      commit: async (options?: AbortOptions) => { await b.commit(options) }
    }
  }

  /**
   * Queries run on the inner store by prefix; filters and orders see the
   * opened values, so they are applied here (BaseDatastore.query does it on _all).
   */
  override async * _all (q: Query, options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const p of this.inner.query({ ...(q.prefix !== undefined ? { prefix: q.prefix } : {}) }, options)) {
      yield { key: p.key, value: this.opened(p.key, p.value) }
    }
  }

  override async * _allKeys (q: KeyQuery, options?: AbortOptions): AsyncGenerator<Key> {
    yield * this.inner.queryKeys({ ...(q.prefix !== undefined ? { prefix: q.prefix } : {}) }, options)
  }
}
