/**
 * The function store: module bytes in helia (a raw block per module, its
 * CID the function id), announced as provider, and a persistent index of
 * names -> versions (current, history, known-good marks, events) in the
 * node's datastore under /dcis/functions/<name>.
 */
import { Key } from 'interface-datastore'
import { InvalidModuleError, ModuleTooLargeError } from '../errors.js'
import { DEFAULT_MAX_MODULE_BYTES } from '../validate.js'
import { collectBytes, moduleCid, parseModuleCid } from './cid.js'
import { CorruptIndexError, InvalidFunctionRequestError, ModuleUnavailableError, UnknownFunctionError } from './errors.js'
import type { DeployOptions, DeployResult, FunctionEvent, FunctionRecord, FunctionRef, FunctionStore, FunctionStoreComponents, FunctionStoreInit, FunctionVersion, RuntimeSpecFields } from './index.js'
import type { Abi } from '../abi.js'
import type { FunctionSpec } from '../spec.js'
import type { AbortOptions } from '@libp2p/interface'

export const INDEX_PREFIX = '/dcis/functions/'
export const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
const MAX_EVENTS = 100
const MAX_VERSIONS = 1000

function checkName (name: unknown): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new InvalidFunctionRequestError('name', 'must be 1-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit')
  }
  return name
}

function checkAbi (abi: unknown): Abi {
  if (abi === undefined) return 'wasi'
  if (abi !== 'wasi' && abi !== 'reactor') throw new InvalidFunctionRequestError('abi', 'must be wasi or reactor')
  return abi
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** reads a persisted record back, checking its shape (a corrupt store must not crash the node) */
function decodeRecord (key: string, bytes: Uint8Array): FunctionRecord {
  let v: unknown
  try {
    v = JSON.parse(new TextDecoder().decode(bytes))
  } catch (err) {
    throw new CorruptIndexError(key, `not JSON: ${(err as Error).message}`)
  }
  if (!isRecord(v) || typeof v.name !== 'string' || typeof v.current !== 'string' || !Array.isArray(v.versions) || !Array.isArray(v.events)) {
    throw new CorruptIndexError(key, 'missing name, current, versions or events')
  }
  for (const x of v.versions as unknown[]) {
    if (!isRecord(x) || typeof x.id !== 'string' || typeof x.version !== 'number' || (x.abi !== 'wasi' && x.abi !== 'reactor')) {
      throw new CorruptIndexError(key, 'a version lacks id, version or abi')
    }
  }
  const rec = v as unknown as FunctionRecord
  if (!rec.versions.some(x => x.id === rec.current)) throw new CorruptIndexError(key, 'current is not one of the versions')
  return rec
}

export class DefaultFunctionStore implements FunctionStore {
  private readonly c: FunctionStoreComponents
  private readonly maxModuleBytes: number
  private readonly fetchTimeoutMs: number
  private readonly records = new Map<string, FunctionRecord>()
  /** CID -> names that have it as a version */
  private readonly byCid = new Map<string, Set<string>>()
  /** serializes index mutations (read-modify-write of a record + its persist) */
  private queue: Promise<unknown> = Promise.resolve()
  private readonly shutdown = new AbortController()
  private started = false
  private readonly listeners = new Set<(name: string, record: FunctionRecord) => void>()

  constructor (components: FunctionStoreComponents, init: FunctionStoreInit = {}) {
    this.c = components
    this.maxModuleBytes = init.maxModuleBytes ?? DEFAULT_MAX_MODULE_BYTES
    this.fetchTimeoutMs = init.fetchTimeoutMs ?? 15_000
  }

  get maxBytes (): number {
    return this.maxModuleBytes
  }

  async start (): Promise<void> {
    if (this.started) return
    this.records.clear()
    this.byCid.clear()
    for await (const { key, value } of this.c.datastore.query({ prefix: INDEX_PREFIX })) {
      try {
        const rec = decodeRecord(key.toString(), value)
        this.records.set(rec.name, rec)
        this.indexCids(rec)
      } catch (err) {
        // one bad entry must not take the others (or the node) down
        this.c.logger?.error({ err, key: key.toString() }, 'skipping a corrupt function index entry')
      }
    }
    this.started = true
    this.c.logger?.info({ functions: this.records.size }, 'function index loaded')
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.shutdown.abort()
    await this.queue.catch(() => {})
  }

  onChange (listener: (name: string, record: FunctionRecord) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  list (): FunctionRecord[] {
    return [...this.records.values()].sort((a, b) => a.name.localeCompare(b.name))
  }

  get (name: string): FunctionRecord | undefined {
    return this.records.get(name)
  }

  resolve (ref: string): FunctionRef | undefined {
    const rec = this.records.get(ref)
    if (rec != null) {
      const v = rec.versions.find(x => x.id === rec.current) as FunctionVersion
      return { name: rec.name, version: v, record: rec }
    }
    const names = this.byCid.get(ref)
    if (names != null) {
      // prefer a name whose current version it is, else the first holder
      let chosen: FunctionRecord | undefined
      for (const n of names) {
        const r = this.records.get(n)
        if (r == null) continue
        if (r.current === ref) { chosen = r; break }
        chosen ??= r
      }
      if (chosen != null) {
        return { name: chosen.name, version: chosen.versions.find(x => x.id === ref) as FunctionVersion, record: chosen }
      }
    }
    return undefined
  }

  async deploy (bytes: Uint8Array, options: DeployOptions, abort: AbortOptions = {}): Promise<DeployResult> {
    const name = checkName(options.name)
    const abi = checkAbi(options.abi)
    const limits: unknown = options.limits
    if (limits != null && !isRecord(limits)) throw new InvalidFunctionRequestError('limits', 'must be an object')
    const checkStart = performance.now()
    // the size limit first (cheap); the structure, ABI and engine checks run
    // once, in runtime.load (validateModule + WebAssembly.compile), before
    // anything is stored
    if (bytes.byteLength > this.maxModuleBytes) throw new ModuleTooLargeError(bytes.byteLength, this.maxModuleBytes)
    if (bytes.byteLength === 0) throw new InvalidModuleError('module is empty')
    const cid = await moduleCid(bytes)
    if (options.expectedId != null && options.expectedId !== cid.toString()) {
      throw new InvalidFunctionRequestError('source', `the bytes hash to ${cid.toString()}, not ${options.expectedId}`)
    }
    const id = cid.toString()
    const fields: RuntimeSpecFields = { abi, limits: options.limits, env: options.env, grants: options.grants, warmPoolSize: options.warmPoolSize }
    const checkMs = performance.now() - checkStart
    // loads (validates, compiles) now, so the first invoke is warm; a module
    // that is invalid or fails to instantiate (its init traps, bad spec) is
    // refused here and never stored
    // the block is written while the runtime compiles (disk and CPU overlap);
    // if the load fails, a block this deploy added is deleted again
    const blocks = this.c.helia.blockstore
    const existed = blocks.has != null ? await blocks.has(cid, abort) : true
    const started = performance.now()
    let storedMs = 0
    const stored = Promise.resolve(existed ? undefined : blocks.put(cid, bytes, abort)).then(() => { storedMs = performance.now() - started })
    // awaited below, after the load: a write failing meanwhile must not be an unhandled rejection
    stored.catch(() => {})
    let load: DeployResult['load']
    try {
      load = await this.c.runtime.load(this.specOf(id, name, bytes, fields), abort)
    } catch (err) {
      await stored.catch(() => {})
      if (!existed) await Promise.resolve(blocks.delete?.(cid)).catch(() => {})
      throw err
    }
    await stored
    const result = await this.mutate(name, (rec) => {
      const now = new Date(this.now()).toISOString()
      let entry = rec?.versions.find(v => v.id === id)
      const versions = rec?.versions.slice() ?? []
      if (entry == null) {
        const next = versions.reduce((m, v) => Math.max(m, v.version), 0) + 1
        entry = { id, version: next, size: bytes.byteLength, deployedAt: now, knownGood: false, ...fields }
        versions.push(entry)
        while (versions.length > MAX_VERSIONS) {
          const drop = versions.findIndex(v => v.id !== id)
          versions.splice(drop, 1)
        }
      } else {
        const updated: FunctionVersion = { ...entry, ...fields, deployedAt: now }
        versions[versions.indexOf(entry)] = updated
        entry = updated
      }
      const event: FunctionEvent = { at: now, type: 'deployed', version: entry.version, id, ...(rec != null && rec.current !== id ? { from: rec.current } : {}) }
      const next: FunctionRecord = { name, current: id, versions, events: [...(rec?.events ?? []), event].slice(-MAX_EVENTS) }
      return next
    })
    this.announce(cid)
    const version = (result.versions.find(v => v.id === id) as FunctionVersion).version
    this.c.logger?.info({ name, id, version, bytes: bytes.byteLength }, 'function deployed')
    return { id, name, version, checkMs, storedMs, load }
  }

  async adopt (name: string, id: string, fields: RuntimeSpecFields, abort: AbortOptions = {}): Promise<DeployResult> {
    const bytes = await this.bytesOf(id, abort)
    return await this.deploy(bytes, { name, ...fields, expectedId: id }, abort)
  }

  async bytesOf (id: string, abort: AbortOptions = {}): Promise<Uint8Array> {
    const cid = parseModuleCid(id)
    if (cid == null) throw new InvalidFunctionRequestError('id', `${JSON.stringify(id)} is not a CIDv1 of the raw codec`)
    const signal = AbortSignal.any([
      ...(abort.signal != null ? [abort.signal] : []),
      this.shutdown.signal,
      AbortSignal.timeout(this.fetchTimeoutMs)
    ])
    try {
      // helia's blockstore reads the local store first, then asks providers
      // and connected peers over bitswap (and checks the hash of what comes)
      return await collectBytes(await this.c.helia.blockstore.get(cid, { signal }), this.maxModuleBytes)
    } catch (err) {
      if (abort.signal?.aborted === true) throw err
      throw new ModuleUnavailableError(id, { cause: err })
    }
  }

  async ensureLoaded (ref: { id: string, name: string } & RuntimeSpecFields, abort: AbortOptions = {}): Promise<boolean> {
    if (this.c.runtime.has(ref.id)) return false
    const bytes = await this.bytesOf(ref.id, abort)
    if (this.c.runtime.has(ref.id)) return false
    await this.c.runtime.load(this.specOf(ref.id, ref.name, bytes, ref), abort)
    return true
  }

  async setCurrent (name: string, id: string, event: Omit<FunctionEvent, 'at'>): Promise<FunctionRecord> {
    const rec = await this.mutate(name, (r) => {
      if (r == null) throw new UnknownFunctionError(name)
      if (!r.versions.some(v => v.id === id)) throw new UnknownFunctionError(id)
      return { ...r, current: id, events: [...r.events, { at: new Date(this.now()).toISOString(), ...event }].slice(-MAX_EVENTS) }
    })
    return rec
  }

  async markKnownGood (name: string, id: string): Promise<boolean> {
    const rec = this.records.get(name)
    const v = rec?.versions.find(x => x.id === id)
    if (v == null || v.knownGood) return false
    await this.mutate(name, (r) => {
      if (r == null) throw new UnknownFunctionError(name)
      return { ...r, versions: r.versions.map(x => x.id === id ? { ...x, knownGood: true } : x) }
    })
    return true
  }

  async recordEvent (name: string, event: Omit<FunctionEvent, 'at'>): Promise<void> {
    await this.mutate(name, (r) => {
      if (r == null) throw new UnknownFunctionError(name)
      return { ...r, events: [...r.events, { at: new Date(this.now()).toISOString(), ...event }].slice(-MAX_EVENTS) }
    })
  }

  /** the spec the runtime loads for a version */
  specOf (id: string, name: string, bytes: Uint8Array, f: RuntimeSpecFields): FunctionSpec {
    return {
      id,
      name,
      abi: f.abi,
      bytes,
      ...(f.limits != null ? { limits: f.limits } : {}),
      ...(f.env != null ? { env: f.env } : {}),
      ...(f.grants != null ? { grants: f.grants } : {}),
      ...(f.warmPoolSize != null ? { warmPoolSize: f.warmPoolSize } : {})
    }
  }

  private now (): number {
    return this.c.now?.() ?? Date.now()
  }

  private announce (cid: ReturnType<typeof parseModuleCid> & object): void {
    const provide = this.c.helia.routing?.provide
    if (provide == null) return
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(30_000)])
    // announcing is best effort: with no DHT peers yet it fails, and the
    // bytes are still reachable over bitswap from connected peers
    provide.call(this.c.helia.routing, cid, { signal }).catch((err: unknown) => {
      this.c.logger?.debug({ err, id: cid.toString() }, 'provide failed')
    })
  }

  private indexCids (rec: FunctionRecord): void {
    for (const v of rec.versions) {
      let set = this.byCid.get(v.id)
      if (set == null) { set = new Set(); this.byCid.set(v.id, set) }
      set.add(rec.name)
    }
  }

  private async mutate (name: string, fn: (rec: FunctionRecord | undefined) => FunctionRecord): Promise<FunctionRecord> {
    const run = async (): Promise<FunctionRecord> => {
      const next = fn(this.records.get(name))
      await this.c.datastore.put(new Key(INDEX_PREFIX + name), new TextEncoder().encode(JSON.stringify(next)))
      this.records.set(name, next)
      this.indexCids(next)
      for (const l of this.listeners) {
        try { l(name, next) } catch (err) { this.c.logger?.warn({ err }, 'function store listener failed') }
      }
      return next
    }
    const p = this.queue.then(run, run)
    this.queue = p.catch(() => {})
    return await p
  }
}
