/**
 * The node's HTTP API: fastify 5 with JSON-schema validation and
 * serialization, an OpenAPI 3 document generated from the same schemas, one
 * error envelope for every failure.
 *
 * The API depends on the node only through the narrow `ApiNode` interface;
 * other capabilities add their routes as `ApiRoutes` plugins.
 */
import type { Logger } from '../telemetry/index.js'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Registry } from 'prom-client'
import { ApiHttpServer } from './server.js'

export interface NodeInfoView {
  peerId: string
  did: string
  multiaddrs: string[]
  region: string
  zone: string
  end: Record<string, unknown> | null
  endJwt: string | null
}

export interface PeerView {
  peerId: string
  multiaddrs: string[]
  rttMs: number | null
  region: string | null
}

/** What the API needs from the node (MeshNode implements it). */
export interface ApiNode {
  info (): NodeInfoView
  peers (options?: { signal?: AbortSignal }): Promise<PeerView[]>
  /** true once bootstrapped */
  isReady (): boolean
}

export interface ApiComponents {
  node: ApiNode
  /** the node's prom-client registry (libp2p's metrics registered in it too) */
  metrics: Registry
  /** the node's logger; the API derives a `dcis:api` child unless it already is one */
  logger: Logger
}

/** Handed to every `ApiRoutes.register`. */
export interface ApiRouteContext {
  /** the API logger with `routes: <name>` bound */
  logger: Logger
  /** aborted when the server stops */
  signal: AbortSignal
  /**
   * A signal for one request: aborted when the client goes away, when the
   * server stops, or after `timeoutMs` (default `ApiServerInit.handlerTimeoutMs`).
   * Pass it to every async call the handler makes.
   */
  requestSignal (reply: FastifyReply, timeoutMs?: number): AbortSignal
}

/**
 * A capability's routes, registered as an encapsulated fastify plugin.
 *
 * Every route must declare `schema.response` (and `schema.body` when it takes
 * a body); the server adds the error envelope for 4xx/5xx and tags the
 * operations with `name`, so the routes show up in the OpenAPI document.
 */
export interface ApiRoutes {
  /** unique, e.g. 'registry'; the OpenAPI tag of these routes */
  name: string
  /** one line for the OpenAPI tag */
  description?: string
  /** error class name -> HTTP status for the errors these routes throw */
  errors?: Readonly<Record<string, number>>
  register (app: FastifyInstance, context: ApiRouteContext): void | Promise<void>
}

/**
 * Authentication/authorization installed on the root app before any route
 * (e.g. `ApiAuth` from ./auth.ts): typically an `onRequest` hook that throws
 * typed errors, mapped through `errors`.
 */
export interface ApiAuthHook {
  install (app: FastifyInstance): void
  errors?: Readonly<Record<string, number>>
}

export interface ApiServerInit {
  /** default 127.0.0.1 */
  host?: string
  /** default 8080; 0 picks a free port (read it back from `ApiServer.port`) */
  port?: number
  routes?: ApiRoutes[]
  /** maximum request body in bytes, default 1 MiB (routes may set their own) */
  bodyLimit?: number
  /** installed before the routes; without it every call is let through */
  auth?: ApiAuthHook
  /** extra error name -> status entries */
  errorStatus?: Readonly<Record<string, number>>
  /** default timeout for `requestSignal`, default 30 s */
  handlerTimeoutMs?: number
  /** whole-request timeout (slow clients), default 60 s */
  requestTimeoutMs?: number
  /** serve HTTPS with this key and certificate (PEM); with `ca`, clients must present a certificate it signed (mutual TLS) */
  https?: ApiTls
}

export interface ApiTls {
  key: string | Buffer
  cert: string | Buffer
  /** client CA (PEM): mutual TLS, a client without a certificate it signed is refused at the handshake */
  ca?: string | Buffer
}

export interface ApiServer {
  start (): Promise<void>
  stop (): Promise<void>
  readonly status: 'stopped' | 'starting' | 'started' | 'stopping'
  /** `http://host:port`; an unspecified bind address (0.0.0.0, ::) is shown as loopback */
  readonly url: string
  /** the real port once started (also when 0 was asked) */
  readonly port: number
  /** map an error name to an HTTP status from now on */
  registerErrorStatus (name: string, status: number): void
}

export function createApiServer (components: ApiComponents, init: ApiServerInit = {}): ApiServer {
  return new ApiHttpServer(components, init)
}

export { DEFAULT_API_HOST, DEFAULT_API_PORT } from './server.js'
export { buildOpenApiDocument, OPENAPI_INFO } from './openapi.js'
export type { BuildOpenApiOptions } from './openapi.js'
export {
  ApiError, BadRequestError, NotReadyError, RouteNotFoundError, MethodNotAllowedError, RouteSchemaMissingError,
  InvalidErrorStatusError, ErrorStatusTable, DEFAULT_ERROR_STATUS, toErrorReply, envelope
} from './errors.js'
export type { ErrorEnvelope, ErrorReply } from './errors.js'
export { ERROR_ENVELOPE_ID, errorResponse, errorEnvelopeSchema } from './schemas.js'
