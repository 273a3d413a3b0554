/**
 * Deploy as a rollout: the module is stored and loaded like any deploy,
 * added to the catalogue WITHOUT becoming current, and a rollout of it
 * starts (pending -> canary in its regions). The first version of a name
 * has nothing to canary against: it becomes current at once (rollout null).
 */
import { RolloutInProgressError } from './errors.js'
import type { RolloutService, RolloutView } from './service.js'
import type { DeployOptions, DeployResult, FunctionStore } from '../wasm/store/index.js'
import type { RolloutSpec } from '../catalogue/index.js'
import type { AbortOptions } from '@libp2p/interface'

export interface RolloutDeployResult {
  deployed: DeployResult
  rollout: RolloutView | null
  /** why there is no rollout (first version) */
  note?: string
}

export async function deployAsRollout (store: FunctionStore, rollouts: RolloutService, bytes: Uint8Array, options: DeployOptions, spec: RolloutSpec | undefined, abort: AbortOptions = {}): Promise<RolloutDeployResult> {
  const existing = store.get(options.name)
  if (spec == null || existing == null) {
    const deployed = await store.deploy(bytes, { ...options, makeCurrent: true }, abort)
    return { deployed, rollout: null, ...(spec != null ? { note: 'first version of this name: current everywhere (there is nothing to canary against)' } : {}) }
  }
  // refuse before storing anything when a rollout is running
  const active = rollouts.active(options.name)
  if (active != null) {
    throw new RolloutInProgressError(options.name, active.state)
  }
  const deployed = await store.deploy(bytes, { ...options, makeCurrent: false }, abort)
  const rollout = await rollouts.begin(options.name, deployed.id, spec)
  return { deployed, rollout }
}
