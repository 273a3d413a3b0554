import { stat } from 'node:fs/promises'
import { identityFromPrivateKey, loadIdentity, signJwt } from '../../identity/index.js'
import { issueCredential, issueRevocationList } from '../../identity/federation/index.js'
import { readKeyFile } from '../../identity/key-file.js'
import { apiRequest, apiUrlFrom, bearer } from '../client.js'
import { CliError } from '../errors.js'
import type { CredentialIssueOptions, CredentialRevokeOptions, KeysOptions, TokenOptions } from './keys.js'
import type { NodeIdentity } from '../../identity/index.js'

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }

export function parseDuration (flag: string, value: string): number {
  const m = /^(\d+)([smhd])$/.exec(value.trim())
  if (m == null) throw new CliError(`${flag}: expected a duration like 90s, 5m, 1h or 30d (got ${value})`)
  const seconds = Number(m[1]) * UNITS[m[2]]
  if (seconds <= 0) throw new CliError(`${flag}: must be positive (got ${value})`)
  return seconds
}

async function keyFrom (path: string): Promise<NodeIdentity> {
  try {
    const s = await stat(path)
    if (s.isDirectory()) return await loadIdentity(path)
    return identityFromPrivateKey(await readKeyFile(path))
  } catch (err) {
    if (err instanceof CliError) throw err
    throw new CliError(`--key ${path}: ${(err as Error).message.split('\n')[0]}`)
  }
}

export async function runTokenIssue (opts: TokenOptions): Promise<void> {
  const ttl = parseDuration('--ttl', opts.ttl)
  if (ttl > 3600) throw new CliError('--ttl: API tokens live at most 1h')
  if (opts.role != null && !['read', 'deploy', 'allocate', 'services', 'admin'].includes(opts.role)) throw new CliError(`--role: one of read, deploy, allocate, services, admin (got ${opts.role})`)
  let id: NodeIdentity
  try {
    id = await loadIdentity(opts.dataDir)
  } catch (err) {
    throw new CliError(`--data-dir ${opts.dataDir}: ${(err as Error).message.split('\n')[0]}`)
  }
  const scope = {
    ...(opts.service != null ? { services: opts.service } : {}),
    ...(opts.function != null ? { functions: opts.function } : {}),
    ...(opts.allocation != null ? { allocations: opts.allocation } : {})
  }
  const claims = { ...(opts.role != null ? { role: opts.role } : {}), ...(Object.keys(scope).length > 0 ? { scope } : {}) }
  const token = await signJwt(id, claims, { audience: opts.audience ?? id.did, expiresInSeconds: ttl })
  const exp = Math.floor(Date.now() / 1000) + ttl
  process.stdout.write(opts.json === true ? JSON.stringify({ token, did: id.did, exp }) + '\n' : token + '\n')
}

interface KeyringView { enabled: boolean, provider?: string, active?: string, keys?: Array<{ id: string, created: string, state: string }> }

export async function runKeys (op: 'status' | 'rotate', opts: KeysOptions): Promise<void> {
  const res = await apiRequest<KeyringView>(apiUrlFrom(opts.api), op === 'status' ? '/v1/keys' : '/v1/keys/rotate', { method: op === 'status' ? 'GET' : 'POST', headers: bearer(opts.token) })
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(res) + '\n')
    return
  }
  if (!res.enabled) {
    process.stdout.write('encryption at rest: off (storage.encryption.enabled: false)\n')
    return
  }
  const lines = [`encryption at rest: on, provider ${res.provider ?? '?'}, active key ${res.active ?? '?'}`]
  for (const k of res.keys ?? []) lines.push(`  ${k.id}  ${k.state.padEnd(7)}  created ${k.created}`)
  process.stdout.write(lines.join('\n') + '\n')
}

export async function runCredentialIssue (opts: CredentialIssueOptions): Promise<void> {
  const level = Number(opts.trust)
  if (!Number.isInteger(level) || level < 0 || level > 10) throw new CliError(`--trust: an integer from 0 to 10 (got ${opts.trust})`)
  const ttl = parseDuration('--ttl', opts.ttl)
  const issuer = await keyFrom(opts.key)
  let jwt: string
  try {
    jwt = await issueCredential(issuer, { subject: opts.subject, federation: opts.federation, trustLevel: level, region: opts.region, ttlSeconds: ttl })
  } catch (err) {
    throw new CliError((err as Error).message)
  }
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as { jti: string, exp: number }
  process.stdout.write(opts.json === true ? JSON.stringify({ credential: jwt, jti: payload.jti, exp: payload.exp, issuer: issuer.did }) + '\n' : jwt + '\n')
}

export async function runCredentialRevoke (opts: CredentialRevokeOptions): Promise<void> {
  const issuer = await keyFrom(opts.key)
  const list = await issueRevocationList(issuer, opts.federation, opts.jti)
  if (opts.api != null) {
    const res = await apiRequest(apiUrlFrom(opts.api), '/v1/registry/revocations', { method: 'POST', body: { list } })
    process.stdout.write(JSON.stringify(res) + '\n')
    return
  }
  process.stdout.write(opts.json === true ? JSON.stringify({ list, issuer: issuer.did }) + '\n' : list + '\n')
}

