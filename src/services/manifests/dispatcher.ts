import { KindNotSupportedError } from './errors.js'
import type { Manifest, ManifestKind } from './parse.js'
import type { Role } from '../../api/auth.js'
import type { AbortOptions } from '@libp2p/interface'

export interface ApplyContext extends AbortOptions {
  /** the caller's bearer token, to forward when work goes to another peer */
  token?: string
}

export interface KindHandler {
  /** the role a caller needs to apply this kind */
  role: Role
  /**
   * Checks what a schema cannot (e.g. a service whose backend does not
   * exist) before anything is applied; throw to refuse.
   */
  check?: (manifest: Manifest) => void | Promise<void>
  apply: (manifest: Manifest, context: ApplyContext) => Promise<Record<string, unknown>>
}

export interface AppliedManifest {
  kind: ManifestKind
  name: string
  result: Record<string, unknown>
}

/**
 * Routes each manifest kind to the capability that owns it. Capabilities
 * register their kinds when they start; a kind nobody registered is refused
 * with KIND_NOT_SUPPORTED, and all manifests of a request are checked before
 * any is applied.
 */
export class ManifestDispatcher {
  private readonly handlers = new Map<ManifestKind, KindHandler>()

  register (kind: ManifestKind, handler: KindHandler): void {
    this.handlers.set(kind, handler)
  }

  unregister (kind: ManifestKind): void {
    this.handlers.delete(kind)
  }

  roleFor (kind: ManifestKind): Role {
    return this.handlers.get(kind)?.role ?? 'admin'
  }

  async apply (manifests: Manifest[], context: ApplyContext = {}): Promise<AppliedManifest[]> {
    for (const m of manifests) {
      const h = this.handlers.get(m.kind)
      if (h == null) throw new KindNotSupportedError(`this peer has no backend for kind ${m.kind} yet`)
      await h.check?.(m)
    }
    const out: AppliedManifest[] = []
    for (const m of manifests) {
      const h = this.handlers.get(m.kind) as KindHandler
      out.push({ kind: m.kind, name: m.metadata.name, result: await h.apply(m, context) })
    }
    return out
  }
}
