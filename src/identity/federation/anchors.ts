import { readFile } from 'node:fs/promises'
import { publicKeyFromDid } from '../did-key.js'
import { TrustAnchorsError } from './errors.js'
import { MAX_TRUST_LEVEL } from './credential.js'

export interface TrustAnchor {
  did: string
  name?: string
  /** the highest trust level this anchor may grant, default 10 */
  maxTrust: number
}

export interface TrustAnchors {
  federation: string
  anchors: TrustAnchor[]
}

/**
 * Reads `bootstrap/<federation>/trust-anchors.json`:
 * `{"federation": "f", "anchors": [{"did": "did:key:z6Mk…", "name": "…", "maxTrust": 10}]}`.
 * A missing file means no anchors (every trust level is self-asserted).
 */
export async function loadTrustAnchors (file: string, federation: string): Promise<TrustAnchors> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { federation, anchors: [] }
    throw new TrustAnchorsError(file, (err as Error).message)
  }
  return parseTrustAnchors(text, file, federation)
}

export function parseTrustAnchors (text: string, file: string, federation: string): TrustAnchors {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new TrustAnchorsError(file, `not JSON: ${(err as Error).message}`)
  }
  const d = doc as { federation?: unknown, anchors?: unknown }
  if (d == null || typeof d !== 'object' || !Array.isArray(d.anchors)) throw new TrustAnchorsError(file, 'expected {"federation", "anchors": [...]}')
  if (d.federation !== federation) throw new TrustAnchorsError(file, `federation is ${JSON.stringify(d.federation)}, expected ${JSON.stringify(federation)}`)
  const anchors: TrustAnchor[] = d.anchors.map((a: unknown, i: number) => {
    const x = a as { did?: unknown, name?: unknown, maxTrust?: unknown }
    if (x == null || typeof x.did !== 'string') throw new TrustAnchorsError(file, `anchors[${i}].did is required`)
    try {
      publicKeyFromDid(x.did)
    } catch (err) {
      throw new TrustAnchorsError(file, `anchors[${i}].did: ${(err as Error).message}`)
    }
    const maxTrust = x.maxTrust ?? MAX_TRUST_LEVEL
    if (typeof maxTrust !== 'number' || !Number.isInteger(maxTrust) || maxTrust < 0 || maxTrust > MAX_TRUST_LEVEL) throw new TrustAnchorsError(file, `anchors[${i}].maxTrust must be 0..${MAX_TRUST_LEVEL}`)
    return { did: x.did, maxTrust, ...(typeof x.name === 'string' ? { name: x.name } : {}) }
  })
  return { federation, anchors }
}
