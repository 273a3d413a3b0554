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
import { parseRolloutSpec } from '../../rollouts/spec.js'
import { deployAsRollout } from '../../rollouts/deploy.js'
import { RolloutInProgressError } from '../../rollouts/errors.js'
import type { RolloutService } from '../../rollouts/service.js'

interface FunctionManifestSpec {
  source: string
  abi?: 'wasi' | 'reactor'
  warmPoolSize?: number
  limits?: RuntimeSpecFields['limits']
  env?: Record<string, string>
  grants?: RuntimeSpecFields['grants']
  /** roll a new version out as a canary (docs/rollouts.md) */
  rollout?: Record<string, unknown>
}

export function functionManifestHandler (store: () => FunctionStore, catalogue?: () => Catalogue, rollouts?: () => RolloutService): KindHandler {
  return {
    role: 'deploy',
    check (manifest) {
      // the schema checked the fields; the name must also be a function name
      if (!NAME_PATTERN.test(manifest.metadata.name)) throw new InvalidFunctionRequestError('metadata.name', 'a Function name must be 1-63 characters of a-z, 0-9 and "-"')
      const spec = manifest.spec as unknown as FunctionManifestSpec
      if (spec.rollout != null) parseRolloutSpec(spec.rollout, 'spec.rollout')
    },
    async apply (manifest, context) {
      const spec = manifest.spec as unknown as FunctionManifestSpec
      const name = manifest.metadata.name
      const existing = store().get(name)
      // a rollout applies to a new version of a known name (a re-apply of the current one changes nothing)
      if (spec.rollout != null && rollouts != null && existing != null && existing.current !== spec.source) {
        const rs = parseRolloutSpec(spec.rollout, 'spec.rollout')
        const active = rollouts().active(name)
        if (active != null && active.version === spec.source) return { id: spec.source, name, rollout: active.state }
        if (active != null) throw new RolloutInProgressError(name, active.state)
        const bytes = await store().bytesOf(spec.source, { signal: context.signal })
        const rr = await deployAsRollout(store(), rollouts(), bytes, {
          name,
          expectedId: spec.source,
          abi: spec.abi ?? 'wasi',
          ...(spec.limits != null ? { limits: spec.limits } : {}),
          ...(spec.env != null ? { env: spec.env } : {}),
          ...(spec.grants != null ? { grants: spec.grants } : {}),
          ...(spec.warmPoolSize != null ? { warmPoolSize: spec.warmPoolSize } : {})
        }, rs, { signal: context.signal })
        await catalogue?.().putManifest({ kind: 'Function', name, spec: manifest.spec, ...(manifest.metadata.labels != null ? { labels: manifest.metadata.labels } : {}) })
        return { id: rr.deployed.id, name, version: rr.deployed.version, rollout: rr.rollout?.state ?? null }
      }
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
