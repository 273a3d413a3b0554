/**
 * The strong (Raft) ServiceBackend. Wiring (in the node):
 *
 *   const raft = createRaftBackend({ libp2p, registry, datastore, dataDir, logger, metrics, latency? })
 *   await raft.start()
 *   node.services.addBackend(raft)
 *   ...
 *   await raft.stop()
 */
import { RaftKvBackend } from './backend.js'
import type { RaftBackendInit } from './backend.js'

export { RaftKvBackend, RAFT_KV_PROTOCOL, RaftForbiddenError } from './backend.js'
export type { RaftBackendInit, PeerDirectory } from './backend.js'
export { KvStateMachine, encodeKvCommand } from './kv-state.js'
export type { KvCommand, KvResult } from './kv-state.js'
export { validateDescriptor, groupIdOf, InvalidDescriptorError } from './descriptor.js'
export type { GroupDescriptor } from './descriptor.js'
export { decodeKvRequest, decodeKvResponse, InvalidKvFrameError } from './frames.js'

export function createRaftBackend (init: RaftBackendInit): RaftKvBackend {
  return new RaftKvBackend(init)
}
