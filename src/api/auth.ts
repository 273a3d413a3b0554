/**
 * Zero-trust API authentication and authorization.
 *
 * Every mutating call needs `Authorization: Bearer <JWT>`: an EdDSA JWT
 * whose issuer is a DID the peer's policy lists, with `aud` = this peer's DID
 * and a short `exp`. The policy maps DIDs to roles (least privilege: `read`,
 * `deploy`, `allocate`, `services`, `admin`; `admin` may do everything,
 * `services` implies `read`); a route names the role it needs in its fastify
 * `config.role` (default `admin`). A token may narrow itself to one role
 * with a `role` claim, and to named targets with a `scope` claim
 * (`{services?, functions?, allocations?}`: lists of names/ids); a scoped
 * token is refused (403) on every route whose target it does not list,
 * including routes that have no target.
 *
 * Reads of service data (routes with `config.read: true`: kv, counters,
 * sets) need the `read` right unless the service is public
 * (`spec.access: public`). Other reads (health, metrics, OpenAPI, node and
 * registry info) are open unless `openInfo` is false. Loopback clients may
 * act without a token only when the operator turned `api.trustLoopback` on.
 *
 * 401 UNAUTHENTICATED: no token, or a token that fails verification.
 * 403 FORBIDDEN: a valid token whose issuer lacks the role or the scope.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { didFromPeerId, verifyJwt, JwtVerificationError, MAX_JWT_LENGTH } from '../identity/index.js'
import type { FastifyInstance, FastifyRequest } from 'fastify'

export const ROLES = ['read', 'deploy', 'allocate', 'services', 'admin'] as const
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
  /** false: health, metrics, OpenAPI, node and registry reads need a token too (default true) */
  openInfo?: boolean
  /** true when a service's manifest marks it public (its data reads need no token) */
  isPublicService?: (name: string) => boolean | Promise<boolean>
}

/** What a token may touch, from its `scope` claim; absent = everything its roles allow. */
export interface TokenScope {
  services?: string[]
  functions?: string[]
  allocations?: string[]
}

export type TargetKind = 'service' | 'function' | 'allocation'

/** What a request touches: a service, function or allocation by name/id. */
export interface Target {
  kind: TargetKind
  name: string
}

export interface Caller {
  /** the caller's DID, or 'loopback' for a trusted loopback client */
  did: string
  roles: Set<Role>
  /** the bearer token as presented, for forwarding on the caller's behalf */
  token?: string
  /** the token's scope claim (least privilege) */
  scope?: TokenScope
}

/** What a forwarded request asks the receiving peer to check. */
export interface ForwardedCheck {
  /** the caller's token as it was presented to the entry peer */
  token?: string
  /** the DID of the peer that forwarded the request (Noise-authenticated) */
  viaDid: string
  role: Role
  /** none: a request with no target (a new allocation); a scoped token is refused */
  target?: Target
}

const SCOPE_FIELDS: Record<TargetKind, keyof TokenScope> = { service: 'services', function: 'functions', allocation: 'allocations' }
const MAX_SCOPE_ENTRIES = 256

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
    /** true: a read of service data, needs the read right unless the service is public */
    read?: boolean
    /** the route's target: its kind and the path parameter that names it (scoped tokens) */
    target?: { kind: TargetKind, param: string }
  }
}

interface RouteAuthConfig {
  role?: Role | 'per-request'
  authenticate?: boolean
  read?: boolean
  target?: { kind: TargetKind, param: string }
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
    return await this.verifyToken(m[1], this.init.nodeDid)
  }

  /** Verifies a token addressed to `audience` and maps its issuer through this peer's policy. */
  private async verifyToken (token: string, audience: string): Promise<Caller> {
    let payload: Record<string, unknown>
    let issuer: string
    try {
      const v = await verifyJwt(token, { audience })
      payload = v.payload as Record<string, unknown>
      issuer = v.issuer
    } catch (err) {
      if (err instanceof JwtVerificationError) throw new UnauthenticatedError(`token rejected: ${err.reason}`)
      throw err
    }
    if (payload.aud == null) throw new UnauthenticatedError(`token rejected: aud must be the DID of the peer it is presented to (${audience})`)
    const exp = payload.exp
    const iat = payload.iat
    if (typeof exp !== 'number' || typeof iat !== 'number') throw new UnauthenticatedError('token rejected: exp and iat are required')
    if (exp - iat > MAX_TOKEN_LIFETIME_SECONDS) throw new UnauthenticatedError(`token rejected: lifetime over ${MAX_TOKEN_LIFETIME_SECONDS} s`)
    const scope = parseScope(payload.scope)
    const granted = this.roles.get(issuer) ?? new Set<Role>()
    let roles = granted
    if (payload.role != null) {
      // least privilege: a token may carry a single role it asks for
      const asked = payload.role
      if (typeof asked !== 'string' || !(ROLES as readonly string[]).includes(asked)) throw new UnauthenticatedError(`token rejected: role must be one of ${ROLES.join(', ')}`)
      roles = holds(granted, asked as Role) ? new Set<Role>([asked as Role]) : new Set<Role>()
    }
    return { did: issuer, roles, token, ...(scope !== undefined ? { scope } : {}) }
  }

  /** Throws ForbiddenError unless the caller holds `role` and (for a scoped token) `target` is in its scope. */
  authorize (caller: Caller, role: Role, target?: Target): void {
    if (!holds(caller.roles, role)) throw new ForbiddenError(`${caller.did} does not hold the ${role} role on this peer`)
    const scope = caller.scope
    if (scope === undefined) return
    if (target === undefined) throw new ForbiddenError('a scoped token may only touch the services, functions or allocations it names')
    const list = scope[SCOPE_FIELDS[target.kind]]
    if (list === undefined || !list.includes(target.name)) throw new ForbiddenError(`the token is not scoped to ${target.kind} ${target.name}`)
  }

  /**
   * A request another peer forwarded on a caller's behalf: this peer checks
   * the caller's rights itself and never takes the forwarding peer's word.
   * The token must verify (signature, expiry, lifetime), be addressed to
   * this peer or to the forwarding peer (the audience is widened to the
   * entry peer by design: the caller addressed the peer it called), and its
   * issuer must hold `role` (and scope) in THIS peer's policy. Without a
   * token the request passes only when this peer trusts loopback (a local
   * development mesh, where the entry peer's loopback callers carry none).
   * Throws UnauthenticatedError / ForbiddenError.
   */
  async authorizeForwarded (check: ForwardedCheck): Promise<Caller> {
    if (check.token === undefined || check.token === '') {
      if (this.init.trustLoopback) return { did: 'loopback', roles: new Set<Role>(['admin']) }
      throw new UnauthenticatedError('a forwarded request needs the caller\'s token')
    }
    if (check.token.length > MAX_JWT_LENGTH || !/^[A-Za-z0-9_.-]+$/.test(check.token)) throw new UnauthenticatedError('token rejected: malformed')
    const audiences = check.viaDid === this.init.nodeDid ? [this.init.nodeDid] : [this.init.nodeDid, check.viaDid]
    let caller: Caller | undefined
    let last: unknown
    for (const aud of audiences) {
      try {
        caller = await this.verifyToken(check.token, aud)
        break
      } catch (err) {
        last = err
      }
    }
    if (caller === undefined) throw last
    this.authorize(caller, check.role, check.target)
    return caller
  }

  /** Whether a request for `target` may read service data without a token. */
  private async isPublic (target: Target | undefined): Promise<boolean> {
    if (target?.kind !== 'service' || this.init.isPublicService === undefined) return false
    try {
      return await this.init.isPublicService(target.name)
    } catch {
      // an unknown service is not public; the route answers 404 for a caller with rights
      return false
    }
  }

  /** Installs the onRequest hook on the root app. */
  install (app: FastifyInstance): void {
    app.addHook('onRequest', async (request: FastifyRequest) => {
      const config = request.routeOptions.config as RouteAuthConfig | undefined
      const target = targetOf(config, request.params)
      const read = OPEN_METHODS.has(request.method)
      const hasToken = request.headers.authorization != null
      if (read && config?.read === true) {
        // service data: the read right, unless the service is public
        if (!hasToken && await this.isPublic(target)) return
        const caller = await this.authenticate(request.headers.authorization, request.socket.remoteAddress)
        request.caller = caller
        this.authorize(caller, 'read', target)
        return
      }
      const open = read && config?.authenticate !== true && this.init.openInfo !== false
      if (open && !hasToken) return
      const caller = await this.authenticate(request.headers.authorization, request.socket.remoteAddress)
      request.caller = caller
      // an info read (open, or closed by openInfo: false): any authenticated caller, unless the route names a role
      if (read) {
        if (config?.authenticate === true && config.role !== undefined && config.role !== 'per-request') this.authorize(caller, config.role, target)
        return
      }
      const role = config?.role ?? 'admin'
      if (role !== 'per-request') this.authorize(caller, role, target)
      else if (caller.scope !== undefined) throw new ForbiddenError('a scoped token may only touch the services, functions or allocations it names')
    })
  }
}

/**
 * A forwarded service call (crdt-rpc, raft-kv) re-authorised by this peer:
 * reads need `read`, writes `services`, on the named service. A refusal is
 * logged at debug with its reason and answered false (the backend replies
 * FORBIDDEN).
 */
export function serviceForwardAuthorizer (auth: ApiAuth, onRefused?: (info: { service: string, remotePeer: string, reason: string }) => void): (request: { access: 'read' | 'write', service: string, token?: string, remotePeer: string }) => Promise<boolean> {
  return async (request) => {
    try {
      await auth.authorizeForwarded({
        ...(request.token !== undefined ? { token: request.token } : {}),
        viaDid: didFromPeerId(peerIdFromString(request.remotePeer)),
        role: request.access === 'read' ? 'read' : 'services',
        target: { kind: 'service', name: request.service }
      })
      return true
    } catch (err) {
      if (err instanceof UnauthenticatedError || err instanceof ForbiddenError) {
        onRefused?.({ service: request.service, remotePeer: request.remotePeer, reason: err.message })
        return false
      }
      throw err
    }
  }
}

/**
 * A forwarded function invocation re-authorised by this peer: the caller
 * needs `deploy` (the role invocations need through the API) and, with a
 * scoped token, the function's name or id in its scope.
 */
export function invokeForwardAuthorizer (auth: ApiAuth, onRefused?: (info: { name: string, remotePeer: string, reason: string }) => void): (request: { token?: string, remotePeer: string, name: string, id: string }) => Promise<boolean> {
  return async (request) => {
    const viaDid = didFromPeerId(peerIdFromString(request.remotePeer))
    const token = request.token !== undefined ? { token: request.token } : {}
    let reason = ''
    for (const name of [request.name, request.id]) {
      try {
        await auth.authorizeForwarded({ ...token, viaDid, role: 'deploy', target: { kind: 'function', name } })
        return true
      } catch (err) {
        if (!(err instanceof UnauthenticatedError || err instanceof ForbiddenError)) throw err
        reason = err.message
        // an unverifiable token fails the same way for the id: do not verify it twice
        if (err instanceof UnauthenticatedError) break
      }
    }
    onRefused?.({ name: request.name, remotePeer: request.remotePeer, reason })
    return false
  }
}

/**
 * A forwarded allocation call (/dcis/alloc/1.0.0) re-authorised by this
 * peer: the caller needs `allocate`; a release or renew names the
 * allocation (a scoped token must list it), a reserve or commit places a new
 * one (no target: a scoped token is refused, as at the API). Without a token
 * it passes only on a peer that trusts loopback.
 */
export function allocForwardAuthorizer (auth: ApiAuth, onRefused?: (info: { op: string, id: string, remotePeer: string, reason: string }) => void): (request: { token?: string, remotePeer: string, op: string, id: string }) => Promise<boolean> {
  return async (request) => {
    try {
      await auth.authorizeForwarded({
        ...(request.token !== undefined ? { token: request.token } : {}),
        viaDid: didFromPeerId(peerIdFromString(request.remotePeer)),
        role: 'allocate',
        ...(request.op === 'reserve' || request.op === 'commit' ? {} : { target: { kind: 'allocation' as const, name: request.id } })
      })
      return true
    } catch (err) {
      if (err instanceof UnauthenticatedError || err instanceof ForbiddenError) {
        onRefused?.({ op: request.op, id: request.id, remotePeer: request.remotePeer, reason: err.message })
        return false
      }
      throw err
    }
  }
}

/** `admin` holds every role; `services` (writing service data) implies `read`. */
function holds (roles: ReadonlySet<Role>, role: Role): boolean {
  return roles.has('admin') || roles.has(role) || (role === 'read' && roles.has('services'))
}

function targetOf (config: RouteAuthConfig | undefined, params: unknown): Target | undefined {
  if (config?.target === undefined) return undefined
  const name = (params as Record<string, unknown> | undefined)?.[config.target.param]
  return typeof name === 'string' ? { kind: config.target.kind, name } : undefined
}

/** Validates a token's `scope` claim; a malformed scope rejects the token (never widens it). */
export function parseScope (v: unknown): TokenScope | undefined {
  if (v === undefined) return undefined
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UnauthenticatedError('token rejected: scope must be an object {services?, functions?, allocations?}')
  const out: TokenScope = {}
  for (const [k, list] of Object.entries(v as Record<string, unknown>)) {
    if (k !== 'services' && k !== 'functions' && k !== 'allocations') throw new UnauthenticatedError(`token rejected: unknown scope field ${JSON.stringify(k).slice(0, 40)}`)
    if (!Array.isArray(list) || list.length > MAX_SCOPE_ENTRIES || !list.every(x => typeof x === 'string' && x.length > 0 && x.length <= 256)) {
      throw new UnauthenticatedError(`token rejected: scope.${k} must be a list of at most ${MAX_SCOPE_ENTRIES} names`)
    }
    out[k] = list as string[]
  }
  return out
}
