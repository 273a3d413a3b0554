/**
 * Zero-trust API authentication and authorization.
 *
 * Reads (GET/HEAD) are open. Every other call needs `Authorization: Bearer
 * <JWT>`: an EdDSA JWT whose issuer is a DID the peer's policy lists, with
 * `aud` = this peer's DID and a short `exp`. The policy maps DIDs to roles
 * (least privilege: `deploy`, `allocate`, `services`, `admin`; `admin` may do
 * everything); a route names the role it needs in its fastify `config.role`
 * (default `admin`). A token may narrow itself to one role with a `role`
 * claim. Loopback clients may act without a token only when the operator
 * turned `api.trustLoopback` on.
 *
 * 401 UNAUTHENTICATED: no token, or a token that fails verification.
 * 403 FORBIDDEN: a valid token whose issuer lacks the role.
 */
import { verifyJwt, JwtVerificationError } from '../identity/index.js'
import type { FastifyInstance, FastifyRequest } from 'fastify'

export const ROLES = ['deploy', 'allocate', 'services', 'admin'] as const
export type Role = typeof ROLES[number]

/** Tokens valid for longer than this are refused: they must be short-lived. */
export const MAX_TOKEN_LIFETIME_SECONDS = 3600

export interface AuthPolicyEntry {
  did: string
  roles: Role[]
}

export interface ApiAuthInit {
  /** this peer's DID: the required `aud`, and always `admin` */
  nodeDid: string
  policy: AuthPolicyEntry[]
  trustLoopback: boolean
}

export interface Caller {
  /** the caller's DID, or 'loopback' for a trusted loopback client */
  did: string
  roles: Set<Role>
  /** the bearer token as presented, for forwarding on the caller's behalf */
  token?: string
}

export class UnauthenticatedError extends Error {
  static readonly code = 'UNAUTHENTICATED'
  readonly code = UnauthenticatedError.code
  constructor (message: string) {
    super(message)
    this.name = 'UnauthenticatedError'
  }
}

export class ForbiddenError extends Error {
  static readonly code = 'FORBIDDEN'
  readonly code = ForbiddenError.code
  constructor (message: string) {
    super(message)
    this.name = 'ForbiddenError'
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller
  }
  interface FastifyContextConfig {
    /** the role a mutating route requires (default admin); 'per-request': authenticated here, authorized by the handler */
    role?: Role | 'per-request'
    /** true: reads of this route need a token too */
    authenticate?: boolean
  }
}

/** Methods callable without a token (unless a route sets `authenticate`); the OpenAPI `security` follows the same rule. */
export const OPEN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS'])

export const AUTH_ERROR_STATUS: Readonly<Record<string, number>> = {
  UnauthenticatedError: 401,
  ForbiddenError: 403
}

export function isLoopback (address: string | undefined): boolean {
  if (address == null) return false
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}

export class ApiAuth {
  /** error name -> status, for the server's table */
  readonly errors = AUTH_ERROR_STATUS
  private readonly init: ApiAuthInit
  private readonly roles = new Map<string, Set<Role>>()

  constructor (init: ApiAuthInit) {
    this.init = init
    for (const entry of init.policy) {
      const set = this.roles.get(entry.did) ?? new Set<Role>()
      for (const r of entry.roles) set.add(r)
      this.roles.set(entry.did, set)
    }
    // whoever holds the data dir operates the peer
    this.roles.set(init.nodeDid, new Set<Role>(['admin']))
  }

  /** The caller of a request; throws UnauthenticatedError. */
  async authenticate (authorization: string | undefined, remoteAddress: string | undefined): Promise<Caller> {
    if (authorization == null || authorization === '') {
      if (this.init.trustLoopback && isLoopback(remoteAddress)) {
        return { did: 'loopback', roles: new Set<Role>(['admin']) }
      }
      throw new UnauthenticatedError('this call needs Authorization: Bearer <JWT> (see dcis token issue)')
    }
    const m = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(authorization)
    if (m == null) throw new UnauthenticatedError('Authorization must be "Bearer <JWT>"')
    const token = m[1]
    let payload: Record<string, unknown>
    let issuer: string
    try {
      const v = await verifyJwt(token, { audience: this.init.nodeDid })
      payload = v.payload as Record<string, unknown>
      issuer = v.issuer
    } catch (err) {
      if (err instanceof JwtVerificationError) throw new UnauthenticatedError(`token rejected: ${err.reason}`)
      throw err
    }
    if (payload.aud == null) throw new UnauthenticatedError(`token rejected: aud must be this peer's DID (${this.init.nodeDid})`)
    const exp = payload.exp
    const iat = payload.iat
    if (typeof exp !== 'number' || typeof iat !== 'number') throw new UnauthenticatedError('token rejected: exp and iat are required')
    if (exp - iat > MAX_TOKEN_LIFETIME_SECONDS) throw new UnauthenticatedError(`token rejected: lifetime over ${MAX_TOKEN_LIFETIME_SECONDS} s`)
    const granted = this.roles.get(issuer) ?? new Set<Role>()
    let roles = granted
    if (payload.role != null) {
      // least privilege: a token may carry a single role it asks for
      const asked = payload.role as Role
      roles = granted.has(asked) || granted.has('admin') ? new Set<Role>([asked]) : new Set<Role>()
    }
    return { did: issuer, roles, token }
  }

  authorize (caller: Caller, role: Role): void {
    if (caller.roles.has('admin') || caller.roles.has(role)) return
    throw new ForbiddenError(`${caller.did} does not hold the ${role} role on this peer`)
  }

  /** Installs the onRequest hook on the root app. */
  install (app: FastifyInstance): void {
    app.addHook('onRequest', async (request: FastifyRequest) => {
      const config = request.routeOptions.config as { role?: Role | 'per-request', authenticate?: boolean } | undefined
      const open = OPEN_METHODS.has(request.method) && config?.authenticate !== true
      const hasToken = request.headers.authorization != null
      if (open && !hasToken) return
      const caller = await this.authenticate(request.headers.authorization, request.socket.remoteAddress)
      request.caller = caller
      const role = config?.role ?? 'admin'
      if (!open && role !== 'per-request') this.authorize(caller, role)
    })
  }
}
