/**
 * Builds the fastify instance (no listening): shared schemas, the OpenAPI
 * generator, validation and error handling, the core routes and the
 * capabilities' routes. Used by the server and by `buildOpenApiDocument`.
 */
import swagger from '@fastify/swagger'
import { LogController, fastify } from 'fastify'
import { OPEN_METHODS } from './auth.js'
import { DuplicateRoutesError, MethodNotAllowedError, envelope, RouteNotFoundError, RouteSchemaMissingError, toErrorReply } from './errors.js'
import { OPENAPI_INFO } from './openapi-info.js'
import { requestSignal } from './request-signal.js'
import { RouteIndex } from './route-index.js'
import { healthRoutes } from './routes/health.js'
import { metricsRoutes } from './routes/metrics.js'
import { nodeRoutes } from './routes/node.js'
import { openapiRoutes } from './routes/openapi.js'
import { SHARED_SCHEMAS, errorResponse } from './schemas.js'
import { formatValidationError, lazyBuildValidator } from './validation.js'
import { lazyBuildSerializer } from './serialization.js'
import { installHttpTracing } from '../telemetry/tracing/http.js'
import type { ErrorStatusTable } from './errors.js'
import type { ApiMetrics } from './metrics.js'
import type { ValidationIssue } from './validation.js'
import type { Duplex } from 'node:stream'
import type { ApiAuthHook, ApiComponents, ApiRouteContext, ApiRoutes, ApiTls } from './index.js'
import type { Logger } from '../telemetry/index.js'
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchema, FastifyServerOptions, RouteOptions } from 'fastify'

export interface AppInit {
  bodyLimit: number
  handlerTimeoutMs: number
  requestTimeoutMs: number
  routes: ApiRoutes[]
  auth?: ApiAuthHook
  /** request counters; absent when only the OpenAPI document is built */
  metrics?: ApiMetrics
  table: ErrorStatusTable
  /** aborted when the server stops */
  signal: AbortSignal
  /** HTTPS (and optional mutual TLS) */
  https?: ApiTls
}

const ERROR_RESPONSES = {
  '4xx': 'the request is invalid (code names the reason)',
  '5xx': 'the node failed to serve the request'
} as const

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH'])
/** route validators a request has not compiled yet compile in the background this long after the API listens (after start-up) */
export const BACKGROUND_COMPILE_DELAY_MS = 3000
export const BEARER_SCHEME = 'bearerAuth'

export async function buildApp (components: ApiComponents, init: AppInit): Promise<FastifyInstance> {
  const log = components.logger
  const table = init.table
  const routeIndex = new RouteIndex()
  const allRoutes = coreAndCapabilityRoutes(components, init.routes)
  const seen = new Set<string>()
  for (const r of allRoutes) {
    if (seen.has(r.name)) {
      throw new DuplicateRoutesError(r.name)
    }
    seen.add(r.name)
    table.registerAll(r.errors ?? {})
  }
  table.registerAll(init.auth?.errors ?? {})

  const sendError = (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const result = toErrorReply(error, table)
    const context = { method: request.method, url: request.url, status: result.status }
    if (result.internal) {
      log.error({ ...context, err: error }, 'request failed')
    } else if (result.status >= 500) {
      log.warn({ ...context, code: result.envelope.error.code, reason: result.envelope.error.message }, 'request failed')
    } else {
      log.debug({ ...context, code: result.envelope.error.code, reason: result.envelope.error.message }, 'request rejected')
    }
    for (const [name, value] of Object.entries(result.headers ?? {})) {
      void reply.header(name, value)
    }
    return reply.code(result.status).type('application/json; charset=utf-8').send(result.envelope)
  }

  // route validators compile on first use, and in the background once listening (below)
  const validators = lazyBuildValidator()
  const app = fastify({
    ...(init.https !== undefined
      ? { https: { key: init.https.key, cert: init.https.cert, minVersion: 'TLSv1.2' as const, ...(init.https.ca !== undefined ? { ca: init.https.ca, requestCert: true, rejectUnauthorized: true } : {}) } }
      : {}),
    loggerInstance: log as FastifyBaseLogger,
    // request lines are logged once, at debug, by the onResponse hook below
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: init.bodyLimit,
    requestTimeout: init.requestTimeoutMs,
    // during close, finish in-flight requests rather than answer with fastify's non-envelope 503
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    exposeHeadRoutes: true,
    // strict JSON bodies, coerced params/query/headers (see validation.ts)
    schemaController: {
      compilersFactory: {
        buildValidator: validators as unknown as NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator'],
        // response serializers compile on first use (serialization.ts)
        buildSerializer: lazyBuildSerializer() as unknown as NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildSerializer']
      }
    },
    schemaErrorFormatter: (errors, dataVar) => formatValidationError(errors as ValidationIssue[], dataVar),
    frameworkErrors: (error, request, reply) => { sendError(error, request, reply) },
    // bytes that are not HTTP/1.1 never reach a route: answer with the envelope and drop the socket
    clientErrorHandler: (error: NodeJS.ErrnoException, socket) => {
      writeClientError(error, socket, log)
    }
  })

  for (const schema of SHARED_SCHEMAS) {
    app.addSchema(schema)
  }

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { ...OPENAPI_INFO },
      tags: allRoutes.map(r => ({ name: r.name, description: r.description ?? r.name })),
      components: {
        securitySchemes: {
          [BEARER_SCHEME]: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'EdDSA JWT issued by a DID the peer\'s policy lists, aud = the peer\'s DID (dcis token issue). Required on every call that is not a read, and on reads of service data (unless the service is public).'
          }
        }
      }
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })

  // BACKGROUND_COMPILE_DELAY_MS after listening, the validators not used yet
  // compile one per macrotask (a request in between compiles its own on the
  // spot): start-up does not wait for ~100 ajv compilations (nor for the
  // first one's Ajv instances, ~0.1 s, which competed with the first
  // /readyz polls when this began at listen), and a bad schema still shows soon
  let closing = false
  let backgroundTimer: NodeJS.Timeout | undefined
  app.addHook('onClose', async () => {
    closing = true
    clearTimeout(backgroundTimer)
  })
  app.addHook('onListen', async () => {
    const step = (): void => {
      if (closing) return
      try {
        if (validators.compileNext()) setImmediate(step)
      } catch (err) {
        log.error({ err }, 'a route schema does not compile')
        setImmediate(step)
      }
    }
    backgroundTimer = setTimeout(step, BACKGROUND_COMPILE_DELAY_MS)
    backgroundTimer.unref()
  })

  // every route: a schema is mandatory, the error envelope is added, and the route is indexed for 405s
  app.addHook('onRoute', (route: RouteOptions) => {
    routeIndex.add(route.method, route.url)
    if (route.method === 'HEAD' || (Array.isArray(route.method) && route.method.every(m => m === 'HEAD'))) {
      return
    }
    const method = Array.isArray(route.method) ? route.method.join(',') : route.method
    const schema: FastifySchema | undefined = route.schema
    if (schema?.response == null) {
      throw new RouteSchemaMissingError(method, route.url, 'response')
    }
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (methods.some(m => BODY_METHODS.has(m.toUpperCase())) && schema.body == null && route.bodyLimit == null) {
      // a body-taking route either validates its body or says how large a raw body may be
      throw new RouteSchemaMissingError(method, route.url, 'body')
    }
    const response: Record<string, unknown> = { ...(schema.response as Record<string, unknown>) }
    for (const [status, description] of Object.entries(ERROR_RESPONSES)) {
      if (response[status] == null && response[status.toUpperCase()] == null) {
        response[status] = errorResponse(description)
      }
    }
    const routeConfig = route.config as { authenticate?: boolean, read?: boolean } | undefined
    const secured = methods.some(m => !OPEN_METHODS.has(m.toUpperCase())) || routeConfig?.authenticate === true || routeConfig?.read === true
    route.schema = {
      ...schema,
      response,
      ...(secured && (schema as { security?: unknown }).security == null ? { security: [{ [BEARER_SCHEME]: [] }] } : {})
    } as FastifySchema
  })

  app.setErrorHandler((error: FastifyError, request, reply) => sendError(error, request, reply))

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]
    const allowed = routeIndex.allowedMethods(path)
    const error = allowed.length > 0
      ? new MethodNotAllowedError(request.method, path, allowed)
      : new RouteNotFoundError(request.method, path)
    return sendError(error, request, reply)
  })

  // server spans when tracing is on (nothing installed when off)
  installHttpTracing(app)

  // before any route plugin, so that its hooks reach every route
  init.auth?.install(app)

  app.addHook('onResponse', async (request, reply) => {
    if (init.metrics != null) {
      const route = request.routeOptions.url ?? 'unmatched'
      init.metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) })
      init.metrics.duration.observe({ method: request.method, route }, reply.elapsedTime / 1000)
      init.metrics.latency.record('api', reply.elapsedTime / 1000)
    }
    log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request')
  })

  for (const routes of allRoutes) {
    const context: ApiRouteContext = {
      logger: log.child({ routes: routes.name }) as Logger,
      signal: init.signal,
      requestSignal: (reply, timeoutMs) => requestSignal(reply, [init.signal], timeoutMs ?? init.handlerTimeoutMs)
    }
    await app.register(async (child) => {
      child.addHook('onRoute', (route: RouteOptions) => {
        const schema = route.schema ?? {}
        if (schema.tags == null) {
          route.schema = { ...schema, tags: [routes.name] }
        }
      })
      await routes.register(child, context)
    }, { name: `dcis-api-${routes.name}` } as Record<string, unknown>)
  }

  return app
}

const CLIENT_ERRORS: Record<string, [number, string, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'REQUEST_TIMEOUT', 'the request was not received in time'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'HEADERS_TOO_LARGE', 'the request headers are too large']
}

export function writeClientError (error: NodeJS.ErrnoException, socket: Duplex, log: Logger): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) {
    return
  }
  const [status, text, code, message] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'Bad Request', 'BAD_REQUEST', 'malformed HTTP request']
  log.debug({ err: error, status }, 'client error')
  // like node's own handler: never write a second response over one already started on this socket
  const current = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage
  if (socket.writable && current?.headersSent !== true) {
    const body = JSON.stringify(envelope(code, message))
    socket.write(`HTTP/1.1 ${status} ${text}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy()
}

function coreAndCapabilityRoutes (components: ApiComponents, extra: ApiRoutes[]): ApiRoutes[] {
  return [
    healthRoutes(components.node),
    metricsRoutes(components.metrics),
    openapiRoutes(),
    nodeRoutes(components.node),
    ...extra
  ]
}
