/**
 * HTTP helpers for tests that talk to peers' APIs. Tests read loosely typed
 * JSON, hence the `any` defaults.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read loosely typed JSON
export type Json = any

/** fetch + JSON body; throws when the peer cannot be reached or the body is not JSON. */
export async function api<T = Json> (url: string, init?: RequestInit, timeoutMs = 30_000): Promise<{ status: number, body: T }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })
  const text = await res.text()
  return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as T }
}

/**
 * For clients that run under faults (peers being killed): never throws. An
 * unreachable peer is status 0; a body that is not JSON is returned as text.
 */
export async function tryHttp (baseUrl: string, method: string, path: string, body?: string, contentType = 'application/json', timeoutMs = 8000): Promise<{ status: number, json: Json }> {
  try {
    const res = await fetch(`${baseUrl}${path}`, { method, body, headers: body !== undefined ? { 'content-type': contentType } : {}, signal: AbortSignal.timeout(timeoutMs) })
    const text = await res.text()
    let json: unknown = null
    try { json = text.length > 0 ? JSON.parse(text) : null } catch { json = text }
    return { status: res.status, json }
  } catch {
    return { status: 0, json: null }
  }
}
