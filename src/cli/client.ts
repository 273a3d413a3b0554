import { CliError } from './errors.js'

export const DEFAULT_API_URL = 'http://127.0.0.1:8080'

export function apiUrlFrom (option: string | undefined): string {
  const raw = option ?? process.env.DCIS_API_URL ?? DEFAULT_API_URL
  let url: URL
  try {
    url = new URL(raw.includes('://') ? raw : `http://${raw}`)
  } catch {
    throw new CliError(`--api: not a URL: ${raw}`, 'BAD_ARGUMENT')
  }
  return url.toString().replace(/\/$/, '')
}

/** The Authorization header for `--token`, else $DCIS_TOKEN, else none. */
export function bearer (token?: string): Record<string, string> {
  const t = token ?? process.env.DCIS_TOKEN
  return t != null && t !== '' ? { authorization: `Bearer ${t}` } : {}
}

export interface RequestOptions {
  method?: string
  body?: unknown
  headers?: Record<string, string>
  timeoutMs?: number
}

/**
 * Calls a peer's HTTP API and returns the parsed JSON body. A non-2xx answer
 * becomes a CliError carrying the API's error code and message; a refused
 * connection says which URL was tried.
 */
export async function apiRequest<T = unknown> (apiUrl: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers }
  let body: string | Uint8Array | undefined
  if (options.body instanceof Uint8Array) {
    body = options.body
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body)
    headers['content-type'] ??= 'application/json'
  }
  let res: Response
  try {
    res = await fetch(`${apiUrl}${path}`, {
      method: options.method ?? 'GET',
      headers,
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000)
    })
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name
    throw new CliError(`cannot reach the dcis API at ${apiUrl} (${cause}); is a peer running? (dcis start, or --api URL)`, 'UNREACHABLE')
  }
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = text === '' ? null : JSON.parse(text)
  } catch {
    // not JSON: keep the text
  }
  if (!res.ok) {
    const e = (parsed as { error?: { code?: string, message?: string } } | null)?.error
    throw new CliError(`${options.method ?? 'GET'} ${path}: ${res.status} ${e?.code ?? ''} ${e?.message ?? text}`.replace(/\s+/g, ' ').trim(), e?.code ?? 'HTTP_ERROR')
  }
  return parsed as T
}
