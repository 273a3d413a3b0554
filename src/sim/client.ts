/**
 * The runner's HTTP client for peers' APIs: a bearer token per peer (the
 * runner's DID is admin in every peer's policy; aud = that peer's DID),
 * a timeout, and never a throw: an unreachable peer is status 0.
 */
import { signJwt } from '../identity/index.js'
import type { NodeIdentity } from '../identity/index.js'
import type { SimPeer } from './peers.js'

export interface Reply { status: number, json: unknown, text: string, ms: number }

const TOKEN_TTL_S = 3600

export class LabClient {
  private readonly tokens = new Map<string, { token: string, at: number }>()
  constructor (private readonly identity: NodeIdentity) {}

  private async token (peer: SimPeer): Promise<string> {
    const cached = this.tokens.get(peer.did)
    if (cached != null && Date.now() - cached.at < TOKEN_TTL_S * 500) return cached.token
    const token = await signJwt(this.identity, {}, { audience: peer.did, expiresInSeconds: TOKEN_TTL_S })
    this.tokens.set(peer.did, { token, at: Date.now() })
    return token
  }

  async call (peer: SimPeer, method: string, path: string, body?: string | Uint8Array, contentType = 'application/json', timeoutMs = 8000): Promise<Reply> {
    const started = performance.now()
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${await this.token(peer)}` }
      if (body !== undefined) headers['content-type'] = contentType
      const res = await fetch(`${peer.endpoint.apiUrl}${path}`, { method, body, headers, signal: AbortSignal.timeout(timeoutMs) })
      const text = await res.text()
      let json: unknown = null
      try { json = text.length > 0 ? JSON.parse(text) : null } catch { json = null }
      return { status: res.status, json, text, ms: performance.now() - started }
    } catch {
      return { status: 0, json: null, text: '', ms: performance.now() - started }
    }
  }
}

export const ok = (r: Reply): boolean => r.status >= 200 && r.status < 300
