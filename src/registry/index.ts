/**
 * Registry: Edge-Node Descriptors (END) as VC-JWTs, published to helia, the
 * DHT (`/dcis-end/<peerId>`) and gossip (`dcis/end/1`), verified on every
 * path, cached until expiry, queried with filters.
 */
import { EndRegistry } from './registry.js'
import type { RegistryComponents, RegistryInit } from './registry.js'

export { EndRegistry, END_TOPIC, END_SYNC_PROTOCOL, END_SCALE_PEERS, endScale } from './registry.js'
export type { RegistryComponents, RegistryInit } from './registry.js'
export { buildDescriptor, detectResources, materiallyChanged } from './descriptor.js'
export type { EdgeNodeDescriptor, Accelerator, ResourceOverrides, DetectedResources } from './descriptor.js'
export { SignatureCache, signDescriptor, verifyDescriptor, peekIssuedAt, MAX_DESCRIPTOR_BYTES, END_CONTEXT, END_TYPE } from './vc.js'
export type { VerifiedDescriptor, VerifyDescriptorOptions } from './vc.js'
export { endKey, peerIdFromEndKey, endValidator, endSelector, END_NAMESPACE } from './dht.js'
export { RegistryCache, matches } from './cache.js'
export type { RegistryEntry, RegistryFilter, DescriptorSource, OfferResult } from './cache.js'
export { DescriptorRejectedError, DescriptorNotFoundError, REJECT_REASONS } from './errors.js'
export type { RejectReason } from './errors.js'
export { registryRoutes, toNodeView } from './routes.js'
export { checkDescriptorSchema } from './schema.js'

export function createRegistry (components: RegistryComponents, init: RegistryInit): EndRegistry {
  return new EndRegistry(components, init)
}
