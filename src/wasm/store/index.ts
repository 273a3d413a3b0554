/**
 * Function store: content-addressed Wasm modules (raw blocks in helia, id =
 * CIDv1 raw sha2-256 of the bytes, announced as provider) and names ->
 * versions in the federation catalogue (src/catalogue), so every peer
 * resolves every name the same way.
 *
 *   const store = createFunctionStore({ helia, catalogue, runtime, logger })
 *   await store.start()
 *   const { id, version } = await store.deploy(bytes, { name: 'echo', abi: 'wasi' })
 *   store.resolve('echo')        // -> { name, version: { id, version, abi, ... }, record }
 */
import { DefaultFunctionStore } from './store.js'
import type { Abi } from '../abi.js'
import type { LoadInfo, WasmRuntime } from '../index.js'
import type { FunctionGrants, FunctionLimits, FunctionSpec } from '../spec.js'
import type { Logger } from '../../telemetry/index.js'
import type { Catalogue, CatalogueEventType } from '../../catalogue/index.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { CID } from 'multiformats/cid'

export { moduleCid, parseModuleCid } from './cid.js'
export { INDEX_PREFIX, NAME_PATTERN } from './store.js'
export * from './errors.js'
export { functionManifestHandler } from './manifest.js'

/** What of a version the runtime needs besides the bytes. */
export interface RuntimeSpecFields {
  abi: Abi
  limits?: FunctionLimits & { maxInputBytes?: number }
  env?: Record<string, string>
  grants?: FunctionGrants
  warmPoolSize?: number
}

export interface FunctionVersion extends RuntimeSpecFields {
  /** the CID of the bytes */
  id: string
  /** 1, 2, ... per name, in deploy order */
  version: number
  size: number
  deployedAt: string
  /** the peer it was deployed through */
  deployedBy: string
  /** passed a health check at least once */
  knownGood: boolean
}

export interface FunctionEvent {
  at: string
  type: CatalogueEventType
  /** the version (number) this event is about */
  version?: number
  id?: string
  /** the previous current id, on a change */
  from?: string
  reason?: string
  /** the peer that recorded it */
  by?: string
}

export interface FunctionRecord {
  name: string
  /** the id of the current version */
  current: string
  versions: FunctionVersion[]
  /** the last 100 events, oldest first (HLC order) */
  events: FunctionEvent[]
}

export interface FunctionRef {
  name: string
  version: FunctionVersion
  record: FunctionRecord
}

export interface DeployOptions extends Partial<RuntimeSpecFields> {
  name: string
  /** refuse the bytes unless they hash to this id (a manifest's `source`) */
  expectedId?: string
  /** false: add the version without making it current (a rollout's canary); default true */
  makeCurrent?: boolean
}

export interface DeployResult {
  id: string
  name: string
  version: number
  /** the store's own checks before storing (validate + hashing), ms */
  checkMs: number
  /** writing the block (overlaps the load), ms; 0 when it was already stored */
  storedMs: number
  load: LoadInfo
}

export interface FunctionStoreComponents {
  /** helia on the node's libp2p: blocks (bitswap behind) and routing (provide) */
  helia: {
    blockstore: {
      put: (cid: CID, bytes: Uint8Array, options?: AbortOptions) => unknown
      has?: (cid: CID, options?: AbortOptions) => boolean | Promise<boolean>
      delete?: (cid: CID, options?: AbortOptions) => unknown
      get: (cid: CID, options?: AbortOptions) => Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array> | Promise<Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>>
    }
    routing?: { provide?: (cid: CID, options?: AbortOptions) => Promise<void> }
  }
  /** names, versions, current pointers, known-good marks and events live here */
  catalogue: Catalogue
  /** the old per-peer index (/dcis/functions/<name>) is imported from here once, if present */
  datastore?: Datastore
  runtime: Pick<WasmRuntime, 'load' | 'has'>
  logger?: Logger
  now?: () => number
}

export interface FunctionStoreInit {
  /** module size limit, default 5 MiB */
  maxModuleBytes?: number
  /** how long to wait for a module's bytes from the network, default 15 s */
  fetchTimeoutMs?: number
  /**
   * fetch the module of every function's current version into this peer's
   * blockstore when the catalogue names it (so a function stays invocable
   * when the peer it was deployed through is gone), default false
   */
  prefetch?: boolean
}

export interface FunctionStore {
  start(): Promise<void>
  stop(): Promise<void>
  readonly maxBytes: number
  /** validate, store as a raw block, load into the runtime, make it the name's current version, announce */
  deploy(bytes: Uint8Array, options: DeployOptions, abort?: AbortOptions): Promise<DeployResult>
  /** deploy the module with CID `id` under `name`, fetching its bytes over bitswap if absent */
  adopt(name: string, id: string, fields: RuntimeSpecFields, abort?: AbortOptions): Promise<DeployResult>
  /** a name (its current version) or a CID this peer knows */
  resolve(ref: string): FunctionRef | undefined
  /**
   * Which version a name resolves to here when it is not `current` (a
   * rollout's canary inside its cohort); undefined = current.
   */
  setVersionSelector(select: ((name: string) => string | undefined) | undefined): void
  get(name: string): FunctionRecord | undefined
  list(): FunctionRecord[]
  /** the module bytes: local block, or fetched from a provider over bitswap */
  bytesOf(id: string, abort?: AbortOptions): Promise<Uint8Array>
  /** load into the runtime if not loaded (fetching the bytes if needed); true when it loaded now */
  ensureLoaded(ref: { id: string, name: string } & RuntimeSpecFields, abort?: AbortOptions): Promise<boolean>
  /** make `id` the current version of `name` (rollback), with an event; every peer sees the pointer move */
  setCurrent(name: string, id: string, event: Omit<FunctionEvent, 'at'>): Promise<FunctionRecord>
  /** true when the mark is new */
  markKnownGood(name: string, id: string): Promise<boolean>
  recordEvent(name: string, event: Omit<FunctionEvent, 'at'>): Promise<void>
  specOf(id: string, name: string, bytes: Uint8Array, fields: RuntimeSpecFields): FunctionSpec
  onChange(listener: (name: string, record: FunctionRecord) => void): () => void
}

export function createFunctionStore (components: FunctionStoreComponents, init: FunctionStoreInit = {}): FunctionStore {
  return new DefaultFunctionStore(components, init)
}
