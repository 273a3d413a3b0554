/**
 * API errors and the table that maps error names to HTTP status codes.
 *
 * Capabilities throw their own typed errors (a class with a `name`, and
 * optionally a `code` such as `KEY_NOT_FOUND`); the HTTP layer never matches
 * on message text. Which status an error name gets is decided by an
 * `ErrorStatusTable`: the server starts from `DEFAULT_ERROR_STATUS`, adds the
 * `errors` of every `ApiRoutes` plugin and `ApiServerInit.errorStatus`, and
 * `ApiServer.registerErrorStatus()` can add more at run time.
 *
 * Every error reply has the envelope `{"error": {"code", "message"}}`.
 * Anything the table does not know becomes 500 `INTERNAL` with a generic
 * message; the real error is logged, never sent.
 */

export interface ErrorEnvelope {
  error: {
    code: string
    message: string
  }
}

/** Base of the errors the API layer raises itself. */
export class ApiError extends Error {
  readonly code: string

  constructor (message: string, code: string) {
    super(message)
    this.name = 'ApiError'
    this.code = code
  }
}

/** `/readyz` and calls that need a bootstrapped node, before bootstrap. */
export class NotReadyError extends ApiError {
  static readonly code = 'NOT_READY'
  constructor (message = 'the node is not bootstrapped yet') {
    super(message, NotReadyError.code)
    this.name = 'NotReadyError'
  }
}

/** No route has this path. */
export class RouteNotFoundError extends ApiError {
  static readonly code = 'NOT_FOUND'
  constructor (method: string, path: string) {
    super(`no route for ${method} ${path}`, RouteNotFoundError.code)
    this.name = 'RouteNotFoundError'
  }
}

/** A route has this path, but not for this method. */
export class MethodNotAllowedError extends ApiError {
  static readonly code = 'METHOD_NOT_ALLOWED'
  readonly allowed: string[]
  constructor (method: string, path: string, allowed: string[]) {
    super(`${method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`, MethodNotAllowedError.code)
    this.name = 'MethodNotAllowedError'
    this.allowed = allowed
  }
}

/** For handlers that check something the JSON schema cannot express. */
export class BadRequestError extends ApiError {
  static readonly code = 'BAD_REQUEST'
  constructor (message: string, code = BadRequestError.code) {
    super(message, code)
    this.name = 'BadRequestError'
  }
}

/** A route registered without the schema every route must carry. */
export class RouteSchemaMissingError extends ApiError {
  static readonly code = 'ROUTE_SCHEMA_MISSING'
  constructor (method: string, url: string, what: string) {
    super(`route ${method} ${url} has no ${what} schema; every API route must declare one`, RouteSchemaMissingError.code)
    this.name = 'RouteSchemaMissingError'
  }
}

/** Two `ApiRoutes` with the same name. */
export class DuplicateRoutesError extends ApiError {
  static readonly code = 'DUPLICATE_ROUTES'
  constructor (name: string) {
    super(`two route plugins are named ${JSON.stringify(name)}`, DuplicateRoutesError.code)
    this.name = 'DuplicateRoutesError'
  }
}

/** An invalid entry for the error table (bad name or status). */
export class InvalidErrorStatusError extends ApiError {
  static readonly code = 'INVALID_ERROR_STATUS'
  constructor (message: string) {
    super(message, InvalidErrorStatusError.code)
    this.name = 'InvalidErrorStatusError'
  }
}

/**
 * Error names every node knows. Capabilities add theirs through
 * `ApiRoutes.errors`; these are the generic ones (including libp2p's and the
 * platform's abort/timeout errors).
 */
export const DEFAULT_ERROR_STATUS: Readonly<Record<string, number>> = Object.freeze({
  BadRequestError: 400,
  ValidationError: 400,
  InvalidParametersError: 400,
  UnauthorizedError: 401,
  UnauthenticatedError: 401,
  ForbiddenError: 403,
  NotFoundError: 404,
  RouteNotFoundError: 404,
  MethodNotAllowedError: 405,
  ConflictError: 409,
  PayloadTooLargeError: 413,
  UnsupportedMediaTypeError: 415,
  TooManyRequestsError: 429,
  NotReadyError: 503,
  NotStartedError: 503,
  AbortError: 503,
  TimeoutError: 504
})

/** Envelope code used when an error has no `code` of its own. */
export const STATUS_CODES: Readonly<Record<number, string>> = Object.freeze({
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  410: 'GONE',
  411: 'LENGTH_REQUIRED',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  502: 'BAD_GATEWAY',
  503: 'UNAVAILABLE',
  504: 'TIMEOUT'
})

const ENVELOPE_CODE = /^[A-Z][A-Z0-9_]{0,63}$/
const ERROR_NAME = /^[A-Za-z_$][\w$]{0,127}$/

export function defaultCodeForStatus (status: number): string {
  return STATUS_CODES[status] ?? (status >= 500 ? 'INTERNAL' : 'BAD_REQUEST')
}

/** Error name -> HTTP status, one per server (no module-level state). */
export class ErrorStatusTable {
  private readonly table = new Map<string, number>()

  constructor (initial: Readonly<Record<string, number>> = DEFAULT_ERROR_STATUS) {
    this.registerAll(initial)
  }

  /** Map errors named `name` to `status` (400-599); a later call replaces an earlier one. */
  register (name: string, status: number): void {
    if (typeof name !== 'string' || !ERROR_NAME.test(name)) {
      throw new InvalidErrorStatusError(`error name must be an identifier, got ${JSON.stringify(name)}`)
    }
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new InvalidErrorStatusError(`status for ${name} must be an integer in 400..599, got ${String(status)}`)
    }
    this.table.set(name, status)
  }

  registerAll (entries: Readonly<Record<string, number>>): void {
    for (const [name, status] of Object.entries(entries)) {
      this.register(name, status)
    }
  }

  statusOf (name: string): number | undefined {
    return this.table.get(name)
  }

  entries (): Array<[string, number]> {
    return [...this.table.entries()]
  }
}

export interface ErrorReply {
  status: number
  envelope: ErrorEnvelope
  /** true for an error nobody mapped: a bug or an unexpected fault; log the original at error level */
  internal: boolean
  /** extra headers (e.g. `Allow` on a 405) */
  headers?: Record<string, string>
}

interface ErrorLike {
  name?: unknown
  code?: unknown
  message?: unknown
  statusCode?: unknown
  validation?: unknown
  validationContext?: unknown
}

/** Fastify's own request errors (content type, body, URL) -> status + envelope code. */
const FRAMEWORK_ERRORS: Readonly<Record<string, { status: number, code: string }>> = Object.freeze({
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'MALFORMED_BODY' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'MALFORMED_BODY' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'MALFORMED_BODY' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_BAD_URL: { status: 400, code: 'BAD_REQUEST' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'URI_TOO_LONG' }
})

const GENERIC_INTERNAL_MESSAGE = 'internal error'

function messageOf (err: ErrorLike, fallback: string): string {
  return typeof err.message === 'string' && err.message.length > 0 ? err.message : fallback
}

/**
 * Decide the reply for any thrown value. Pure: it only reads the error and
 * the table.
 */
export function toErrorReply (thrown: unknown, table: ErrorStatusTable): ErrorReply {
  const err: ErrorLike = typeof thrown === 'object' && thrown !== null ? thrown : {}

  // schema validation (fastify + ajv): the message already names the field
  if (Array.isArray(err.validation) && typeof err.validationContext === 'string') {
    return { status: 400, envelope: envelope('BAD_REQUEST', messageOf(err, 'invalid request')), internal: false }
  }

  if (typeof err.code === 'string') {
    const framework = FRAMEWORK_ERRORS[err.code]
    if (framework != null) {
      return { status: framework.status, envelope: envelope(framework.code, messageOf(err, framework.code)), internal: false }
    }
    // any other fastify request error with a 4xx (never trust a 5xx from it blindly: it is ours)
    if (err.code.startsWith('FST_ERR_') && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return { status: err.statusCode, envelope: envelope(defaultCodeForStatus(err.statusCode), messageOf(err, 'bad request')), internal: false }
    }
  }

  // a body parser that failed on the bytes (JSON.parse / secure-json-parse in a custom parser)
  if (err.name === 'SyntaxError' && err.statusCode === 400) {
    return { status: 400, envelope: envelope('MALFORMED_BODY', messageOf(err, 'malformed body')), internal: false }
  }

  if (typeof err.name === 'string') {
    const status = table.statusOf(err.name)
    if (status != null) {
      const code = typeof err.code === 'string' && ENVELOPE_CODE.test(err.code) ? err.code : defaultCodeForStatus(status)
      const reply: ErrorReply = { status, envelope: envelope(code, messageOf(err, code)), internal: false }
      if (thrown instanceof MethodNotAllowedError) {
        reply.headers = { allow: thrown.allowed.join(', ') }
      }
      return reply
    }
  }

  return { status: 500, envelope: envelope('INTERNAL', GENERIC_INTERNAL_MESSAGE), internal: true }
}

export function envelope (code: string, message: string): ErrorEnvelope {
  return { error: { code, message } }
}
