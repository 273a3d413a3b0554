/**
 * MeshNode: builds a peer's components and starts/stops them in order.
 */
import { MeshNode } from './mesh-node.js'
import type { MeshNodeInit } from './mesh-node.js'

export { MeshNode } from './mesh-node.js'
export type { MeshNodeInit, NodeStatus } from './mesh-node.js'
export type { MeshLibp2p, MeshServices } from './libp2p.js'
export { DHT_PROTOCOL } from './libp2p.js'
export { VERSION, AGENT } from './version.js'

export function createMeshNode (init: MeshNodeInit): MeshNode {
  return new MeshNode(init)
}
