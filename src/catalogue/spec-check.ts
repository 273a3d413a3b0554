/**
 * The manifest JSON Schemas (protocols/manifests) as the catalogue's check
 * of a received manifest record's spec: a record that `dcis apply` would
 * refuse is refused from gossip and anti-entropy too.
 */
import { validateManifest } from '../services/manifests/index.js'
import { CatalogueRecordError } from './errors.js'
import type { CatalogueManifestKind } from './records.js'

export function manifestSpecCheck (kind: CatalogueManifestKind, spec: Record<string, unknown>): void {
  try {
    validateManifest({ apiVersion: 'edge/v1', kind, metadata: { name: 'x' }, spec })
  } catch (err) {
    throw new CatalogueRecordError('manifest.spec', (err as Error).message)
  }
}
