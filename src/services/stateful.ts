import { BackendUnavailableError, OperationNotSupportedError, ServiceConflictError, ServiceNotFoundError } from './errors.js'
import type { ManifestDispatcher, Manifest } from './manifests/index.js'
import type { KvEntry, ReadOptions, ServiceBackend, ServiceSpec, ServiceStatus, WriteOptions } from './types.js'

interface EssSpec {
  replicas: number
  runtime?: string
  crdtEngine?: 'delta-crdts' | 'automerge'
  access?: 'private' | 'public'
  dataSharding?: { strategy: string, zones?: string[] }
  consistency: { mode: 'eventual' | 'strong', maxStalenessMs?: number, latencyRadiusMs?: number }
  logs?: { retention?: { maxAgeMs?: number, maxEntries?: number } }
}

/** Normalises a validated EdgeStatefulService manifest. */
export function specFromManifest (m: Manifest): ServiceSpec {
  const s = m.spec as unknown as EssSpec
  return {
    name: m.metadata.name,
    replicas: s.replicas,
    // `wasm` (the article's) is the default Wasm runtime
    runtime: s.runtime === undefined || s.runtime === 'wasm' ? 'wasi' : s.runtime,
    mode: s.consistency.mode,
    crdtEngine: s.crdtEngine ?? 'delta-crdts',
    zones: s.dataSharding?.strategy === 'geographic' ? (s.dataSharding.zones ?? []) : [],
    maxStalenessMs: s.consistency.maxStalenessMs ?? 1000,
    latencyRadiusMs: s.consistency.latencyRadiusMs ?? 20,
    ...(s.logs?.retention != null ? { logRetention: { ...s.logs.retention } } : {}),
    ...(s.access === 'public' ? { public: true } : {})
  }
}

/**
 * EdgeStatefulService front: owns the manifest kind, sends each service to
 * the backend of its consistency mode, and answers the data API for any
 * service of the mesh by asking whichever backend knows it.
 */
export class StatefulServices {
  private readonly backends = new Map<'eventual' | 'strong', ServiceBackend>()

  /** registers the EdgeStatefulService kind with the manifest dispatcher */
  constructor (dispatcher: ManifestDispatcher) {
    dispatcher.register('EdgeStatefulService', {
      role: 'services',
      check: (m) => {
        const spec = specFromManifest(m)
        if (!this.backends.has(spec.mode)) throw new BackendUnavailableError(spec.mode)
        const other = this.backends.get(spec.mode === 'strong' ? 'eventual' : 'strong')
        if (other?.has(spec.name) === true) throw new ServiceConflictError(`service ${spec.name} already exists with consistency.mode ${other.mode}`)
      },
      apply: async (m, ctx) => {
        const spec = specFromManifest(m)
        const status = await this.backend(spec.mode).apply(spec, ctx)
        return { mode: spec.mode, replicas: status.replicas.map(r => r.peerId), ...(status.leader !== undefined ? { leader: status.leader } : {}) }
      }
    })
  }

  addBackend (backend: ServiceBackend): void {
    this.backends.set(backend.mode, backend)
  }

  removeBackend (mode: 'eventual' | 'strong'): void {
    this.backends.delete(mode)
  }

  private backend (mode: 'eventual' | 'strong'): ServiceBackend {
    const b = this.backends.get(mode)
    if (b == null) throw new BackendUnavailableError(mode)
    return b
  }

  /** the backend that knows `name` */
  owner (name: string): ServiceBackend {
    for (const b of this.backends.values()) {
      if (b.has(name)) return b
    }
    throw new ServiceNotFoundError(name)
  }

  /** whether the service's manifest marks it public (false for unknown services) */
  async isPublic (name: string, options?: ReadOptions): Promise<boolean> {
    let backend: ServiceBackend
    try {
      backend = this.owner(name)
    } catch {
      return false
    }
    return (await backend.status(name, options)).spec.public === true
  }

  list (): Array<{ name: string, mode: 'eventual' | 'strong' }> {
    return [...this.backends.values()].flatMap(b => b.list().map(name => ({ name, mode: b.mode })))
  }

  async status (name: string, options?: ReadOptions): Promise<ServiceStatus> {
    return this.owner(name).status(name, options)
  }

  /** deletes a service mesh-wide (either mode) */
  async remove (name: string, options?: WriteOptions): Promise<{ name: string, mode: 'eventual' | 'strong', deleted: true }> {
    const b = this.owner(name)
    await b.remove(name, options)
    return { name, mode: b.mode, deleted: true }
  }

  async get (name: string, key: string, options?: ReadOptions): Promise<KvEntry> {
    return this.owner(name).get(name, key, options)
  }

  async put (name: string, key: string, value: string, options?: WriteOptions): Promise<{ revision: number }> {
    return this.owner(name).put(name, key, value, options)
  }

  async delete (name: string, key: string, options?: WriteOptions): Promise<{ revision: number }> {
    return this.owner(name).delete(name, key, options)
  }

  async counter (name: string, key: string, options?: ReadOptions): Promise<{ value: number }> {
    const b = this.owner(name)
    if (b.counter == null) throw new OperationNotSupportedError(`service ${name} (${b.mode}) has no counters`)
    return b.counter(name, key, options)
  }

  async addCounter (name: string, key: string, delta: number, options?: WriteOptions): Promise<{ value: number }> {
    const b = this.owner(name)
    if (b.addCounter == null) throw new OperationNotSupportedError(`service ${name} (${b.mode}) has no counters`)
    return b.addCounter(name, key, delta, options)
  }
}
