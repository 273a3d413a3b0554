/**
 * The `Function` manifest kind: deploys the module with CID `spec.source`
 * under `metadata.name` (fetching the bytes over bitswap when this peer
 * lacks them), with its abi, limits, env, grants and warm pool. The
 * manifest itself is kept in the federation catalogue.
 */
import type { FunctionStore, RuntimeSpecFields } from './index.js'
import type { Catalogue } from '../../catalogue/index.js'
import type { KindHandler } from '../../services/manifests/index.js'
import { InvalidFunctionRequestError } from './errors.js'
import { NAME_PATTERN } from './store.js'

interface FunctionManifestSpec {
  source: string
  abi?: 'wasi' | 'reactor'
  warmPoolSize?: number
  limits?: RuntimeSpecFields['limits']
  env?: Record<string, string>
  grants?: RuntimeSpecFields['grants']
}

export function functionManifestHandler (store: () => FunctionStore, catalogue?: () => Catalogue): KindHandler {
  return {
    role: 'deploy',
    check (manifest) {
      // the schema checked the fields; the name must also be a function name
      if (!NAME_PATTERN.test(manifest.metadata.name)) throw new InvalidFunctionRequestError('metadata.name', 'a Function name must be 1-63 characters of a-z, 0-9 and "-"')
    },
    async apply (manifest, context) {
      const spec = manifest.spec as unknown as FunctionManifestSpec
      const r = await store().adopt(manifest.metadata.name, spec.source, {
        abi: spec.abi ?? 'wasi',
        ...(spec.limits != null ? { limits: spec.limits } : {}),
        ...(spec.env != null ? { env: spec.env } : {}),
        ...(spec.grants != null ? { grants: spec.grants } : {}),
        ...(spec.warmPoolSize != null ? { warmPoolSize: spec.warmPoolSize } : {})
      }, { signal: context.signal })
      await catalogue?.().putManifest({ kind: 'Function', name: manifest.metadata.name, spec: manifest.spec, ...(manifest.metadata.labels != null ? { labels: manifest.metadata.labels } : {}) })
      return { id: r.id, name: r.name, version: r.version }
    }
  }
}
