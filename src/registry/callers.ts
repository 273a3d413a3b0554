/**
 * Members-only protocol handlers (allocations, raft-kv, eventual RPC and
 * catalogue sync) give a connected caller they have no descriptor for one
 * chance before refusing it: its announcement may simply not have reached
 * this peer yet (EndRegistry.learn pulls it from the caller).
 */

/** what such a handler needs of the registry beyond its list */
export interface LearnsCallers {
  /** a caller's descriptor pulled from the caller when not yet known (EndRegistry.learn) */
  learn?: (peerId: string) => Promise<unknown>
}

/** `isMember()` now, else once more after the caller's own descriptor was pulled from it */
export async function memberOrLearnt (registry: LearnsCallers, peerId: string, isMember: () => boolean): Promise<boolean> {
  if (isMember()) return true
  return registry.learn !== undefined && await registry.learn(peerId) != null && isMember()
}
