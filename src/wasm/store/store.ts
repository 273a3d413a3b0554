/**
 * The function store: module bytes in helia (a raw block per module, its
 * CID the function id), announced as provider; names -> versions (current,
 * history, known-good marks, events) live in the federation catalogue
 * (src/catalogue), read here as FunctionRecords. The old per-peer index
 * (/dcis/functions/<name> in the datastore) is imported once on start.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { InvalidModuleError, ModuleTooLargeError } from '../errors.js'
import { DEFAULT_MAX_MODULE_BYTES } from '../validate.js'
import { collectBytes, moduleCid, parseModuleCid } from './cid.js'
import { InvalidFunctionRequestError, ModuleUnavailableError, UnknownFunctionError } from './errors.js'
import type { DeployOptions, DeployResult, FunctionEvent, FunctionRecord, FunctionRef, FunctionStore, FunctionStoreComponents, FunctionStoreInit, FunctionVersion, RuntimeSpecFields } from './index.js'
import type { Abi } from '../abi.js'
import type { FunctionSpec } from '../spec.js'
import type { FunctionView } from '../../catalogue/index.js'
import type { AbortOptions } from '@libp2p/interface'

export const INDEX_PREFIX = '/dcis/functions/'
export const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

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

/** reads a record of the old per-peer index back (imported into the catalogue once); undefined when it is not one */
function decodeLegacyRecord (bytes: Uint8Array): { name: string, current: string, versions: Array<FunctionVersion & { knownGood?: boolean }> } | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as unknown
    if (!isRecord(v) || typeof v.name !== 'string' || typeof v.current !== 'string' || !Array.isArray(v.versions)) return undefined
    const versions = (v.versions as unknown[]).filter((x): x is FunctionVersion => isRecord(x) && typeof x.id === 'string' && typeof x.version === 'number' && (x.abi === 'wasi' || x.abi === 'reactor') && typeof x.size === 'number')
    return { name: v.name, current: v.current, versions: versions.sort((a, b) => a.version - b.version) }
  } catch {
    return undefined
  }
}

/** the store's shape of a catalogue view */
export function recordOf (v: FunctionView): FunctionRecord {
  return {
    name: v.name,
    current: v.current,
    versions: v.versions.map(x => ({
      id: x.cid,
      version: x.version,
      abi: x.abi,
      size: x.size,
      deployedAt: x.deployedAt,
      deployedBy: x.deployedBy,
      knownGood: x.knownGood,
      ...(x.limits != null ? { limits: x.limits } : {}),
      ...(x.env != null ? { env: x.env } : {}),
      ...(x.grants != null ? { grants: x.grants as FunctionVersion['grants'] } : {}),
      ...(x.warmPoolSize != null ? { warmPoolSize: x.warmPoolSize } : {})
    })),
    events: v.events.map(e => ({
      at: e.at,
      type: e.type,
      ...(e.version != null ? { version: e.version } : {}),
      ...(e.id != null ? { id: e.id } : {}),
      ...(e.from != null ? { from: e.from } : {}),
      ...(e.reason != null ? { reason: e.reason } : {}),
      by: e.by
    }))
  }
}

export class DefaultFunctionStore implements FunctionStore {
  private readonly c: FunctionStoreComponents
  private readonly maxModuleBytes: number
  private readonly fetchTimeoutMs: number
  private readonly prefetch: boolean
  /** CIDs being prefetched now */
  private readonly fetching = new Set<string>()
  /** the catalogue's functions in the store's shape, rebuilt when the catalogue changes */
  private records?: Map<string, FunctionRecord>
  /** CID -> names that have it as a version */
  private byCid = new Map<string, Set<string>>()
  private readonly shutdown = new AbortController()
  private started = false
  private unsubscribe?: () => void
  private readonly listeners = new Set<(name: string, record: FunctionRecord) => void>()
  private selectVersion?: (name: string) => string | undefined

  constructor (components: FunctionStoreComponents, init: FunctionStoreInit = {}) {
    this.c = components
    this.maxModuleBytes = init.maxModuleBytes ?? DEFAULT_MAX_MODULE_BYTES
    this.fetchTimeoutMs = init.fetchTimeoutMs ?? 15_000
    this.prefetch = init.prefetch ?? false
  }

  get maxBytes (): number {
    return this.maxModuleBytes
  }

  async start (): Promise<void> {
    if (this.started) return
    this.unsubscribe = this.c.catalogue.onChange(() => { this.refresh() })
    this.started = true
    await this.importLegacyIndex()
    this.c.logger?.info({ functions: this.index().size }, 'function index loaded')
    this.schedulePrefetch()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.shutdown.abort()
    this.unsubscribe?.()
  }

  onChange (listener: (name: string, record: FunctionRecord) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  list (): FunctionRecord[] {
    return [...this.index().values()].sort((a, b) => a.name.localeCompare(b.name))
  }

  get (name: string): FunctionRecord | undefined {
    return this.index().get(name)
  }

  resolve (ref: string): FunctionRef | undefined {
    const records = this.index()
    const rec = records.get(ref)
    if (rec != null) {
      const chosen = this.selectVersion?.(rec.name)
      const v = (chosen != null ? rec.versions.find(x => x.id === chosen) : undefined) ?? rec.versions.find(x => x.id === rec.current) as FunctionVersion
      return { name: rec.name, version: v, record: rec }
    }
    const names = this.byCid.get(ref)
    if (names != null) {
      // prefer a name whose current version it is, else the first holder
      let chosen: FunctionRecord | undefined
      for (const n of [...names].sort()) {
        const r = records.get(n)
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

  setVersionSelector (select: ((name: string) => string | undefined) | undefined): void {
    this.selectVersion = select
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
    const view = await this.c.catalogue.deployVersion(name, {
      cid: id,
      abi,
      size: bytes.byteLength,
      ...(fields.limits != null ? { limits: fields.limits as Record<string, number> } : {}),
      ...(fields.env != null ? { env: fields.env } : {}),
      ...(fields.grants != null ? { grants: fields.grants as Record<string, boolean> } : {}),
      ...(fields.warmPoolSize != null ? { warmPoolSize: fields.warmPoolSize } : {})
    }, { makeCurrent: options.makeCurrent ?? true })
    const result = recordOf(view)
    this.announce(cid)
    const version = (result.versions.find(v => v.id === id) as FunctionVersion).version
    this.c.logger?.info({ name, id, version, bytes: bytes.byteLength }, 'function deployed')
    return { id, name, version, checkMs, storedMs, load }
  }

  async adopt (name: string, id: string, fields: RuntimeSpecFields, abort: AbortOptions = {}): Promise<DeployResult> {
    const bytes = await this.bytesOf(id, abort)
    return await this.deploy(bytes, { name, ...fields, expectedId: id }, abort)
  }

  async bytesOf (id: string, abort: AbortOptions = {}, timeoutMs = this.fetchTimeoutMs): Promise<Uint8Array> {
    const cid = parseModuleCid(id)
    if (cid == null) throw new InvalidFunctionRequestError('id', `${JSON.stringify(id)} is not a CIDv1 of the raw codec`)
    const signal = AbortSignal.any([
      ...(abort.signal != null ? [abort.signal] : []),
      this.shutdown.signal,
      AbortSignal.timeout(timeoutMs)
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
    const rec = this.get(name)
    if (rec == null) throw new UnknownFunctionError(name)
    if (!rec.versions.some(v => v.id === id)) throw new UnknownFunctionError(id)
    const { by: _by, ...e } = event
    return recordOf(await this.c.catalogue.setCurrent(name, id, e))
  }

  async markKnownGood (name: string, id: string): Promise<boolean> {
    return await this.c.catalogue.markKnownGood(name, id)
  }

  async recordEvent (name: string, event: Omit<FunctionEvent, 'at'>): Promise<void> {
    if (this.get(name) == null) throw new UnknownFunctionError(name)
    const { by: _by, ...e } = event
    await this.c.catalogue.recordEvent(name, e)
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

  /** the records, rebuilt from the catalogue after a change */
  private index (): Map<string, FunctionRecord> {
    if (this.records != null) return this.records
    const records = new Map<string, FunctionRecord>()
    const byCid = new Map<string, Set<string>>()
    for (const v of this.c.catalogue.functions()) {
      const rec = recordOf(v)
      records.set(rec.name, rec)
      for (const x of rec.versions) {
        let set = byCid.get(x.id)
        if (set == null) { set = new Set(); byCid.set(x.id, set) }
        set.add(rec.name)
      }
    }
    this.records = records
    this.byCid = byCid
    return records
  }

  /** the catalogue changed (here or on another peer): rebuild, tell listeners what moved */
  private refresh (): void {
    const before = this.records
    this.records = undefined
    this.schedulePrefetch()
    if (this.listeners.size === 0) return
    for (const [name, rec] of this.index()) {
      const old = before?.get(name)
      if (old != null && old.current === rec.current && old.versions.length === rec.versions.length && old.events.length === rec.events.length && old.events.at(-1)?.at === rec.events.at(-1)?.at) continue
      for (const l of this.listeners) {
        try { l(name, rec) } catch (err) { this.c.logger?.warn({ err }, 'function store listener failed') }
      }
    }
  }

  /** starts a background fetch of every current module this peer lacks (one per CID at a time) */
  private schedulePrefetch (): void {
    if (!this.prefetch || !this.started) return
    for (const rec of this.list()) {
      const id = rec.current
      const cid = parseModuleCid(id)
      if (cid == null || this.fetching.has(id)) continue
      this.fetching.add(id)
      this.prefetchOne(rec.name, id, cid)
        .catch((err: unknown) => { this.c.logger?.debug({ err, id }, 'prefetch stopped') })
        .finally(() => { this.fetching.delete(id) })
    }
  }

  /** one module into the local blockstore (bitswap from whoever has it), retried with back-off (10 s, 20 s, ... 5 tries) */
  private async prefetchOne (name: string, id: string, cid: NonNullable<ReturnType<typeof parseModuleCid>>): Promise<void> {
    const blocks = this.c.helia.blockstore
    for (let attempt = 1; attempt <= 5 && this.started; attempt++) {
      if (blocks.has == null || await blocks.has(cid)) return
      try {
        const bytes = await this.bytesOf(id, {}, Math.max(this.fetchTimeoutMs, 60_000))
        if (!(await blocks.has(cid))) await blocks.put(cid, bytes, { signal: this.shutdown.signal })
        this.c.logger?.debug({ name, id, attempt }, 'prefetched the current version of a function')
        return
      } catch (err) {
        if (this.shutdown.signal.aborted) return
        this.c.logger?.debug({ name, id, attempt, err: (err as Error).message }, 'prefetch failed')
      }
      await sleep(10_000 * attempt, undefined, { signal: this.shutdown.signal, ref: false })
    }
  }

  /** names of the old per-peer index that the catalogue lacks are deployed into it once (oldest version first) */
  private async importLegacyIndex (): Promise<void> {
    const ds = this.c.datastore
    if (ds == null) return
    for await (const { key, value } of ds.query({ prefix: INDEX_PREFIX })) {
      const rec = decodeLegacyRecord(value)
      if (rec == null || !NAME_PATTERN.test(rec.name) || this.get(rec.name) != null) continue
      try {
        const ordered = [...rec.versions.filter(v => v.id !== rec.current), ...rec.versions.filter(v => v.id === rec.current)]
        for (const v of ordered) {
          await this.c.catalogue.deployVersion(rec.name, {
            cid: v.id,
            abi: v.abi,
            size: Math.max(1, v.size),
            ...(v.limits != null ? { limits: v.limits as Record<string, number> } : {}),
            ...(v.env != null ? { env: v.env } : {}),
            ...(v.grants != null ? { grants: v.grants as Record<string, boolean> } : {}),
            ...(v.warmPoolSize != null ? { warmPoolSize: v.warmPoolSize } : {})
          })
          if (v.knownGood === true) await this.c.catalogue.markKnownGood(rec.name, v.id)
        }
        this.c.logger?.info({ name: rec.name, versions: ordered.length }, 'imported a function of the old per-peer index into the catalogue')
      } catch (err) {
        this.c.logger?.warn({ err, key: key.toString() }, 'could not import an entry of the old function index')
      }
    }
  }
}
