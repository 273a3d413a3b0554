/**
 * Manifests: parsing (YAML/JSON), validation against protocols/manifests/,
 * and dispatch of each kind to the capability that owns it.
 */
export { parseManifests, validateManifest, MAX_MANIFEST_BYTES } from './parse.js'
export type { Manifest, ManifestKind } from './parse.js'
export { ManifestDispatcher } from './dispatcher.js'
export type { KindHandler, ApplyContext, AppliedManifest } from './dispatcher.js'
export { manifestRoutes } from './routes.js'
export { ManifestError, KindNotSupportedError } from './errors.js'
