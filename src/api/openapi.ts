import { pino } from 'pino'
import { Registry } from 'prom-client'
import { buildApp } from './app.js'
import { ErrorStatusTable } from './errors.js'
import type { ApiNode, ApiRoutes } from './index.js'

export { OPENAPI_INFO } from './openapi-info.js'

export interface BuildOpenApiOptions {
  /** capability routes to include (the same list the server gets) */
  routes?: ApiRoutes[]
}

class DocumentOnlyError extends Error {
  constructor () {
    super('this API instance only builds the OpenAPI document')
    this.name = 'DocumentOnlyError'
  }
}

/** Never called: the document is generated without serving requests. */
const documentOnlyNode: ApiNode = {
  info () { throw new DocumentOnlyError() },
  async peers () { throw new DocumentOnlyError() },
  isReady () { return false }
}

/**
 * The OpenAPI 3 document the server serves at `/openapi.json`, built without
 * listening. Returned as plain JSON data (a deep copy).
 */
export async function buildOpenApiDocument (options: BuildOpenApiOptions = {}): Promise<Record<string, unknown>> {
  const controller = new AbortController()
  const app = await buildApp({
    node: documentOnlyNode,
    metrics: new Registry(),
    logger: pino({ level: 'silent' })
  }, {
    bodyLimit: 1024 * 1024,
    handlerTimeoutMs: 30_000,
    requestTimeoutMs: 60_000,
    routes: options.routes ?? [],
    table: new ErrorStatusTable(),
    signal: controller.signal
  })
  try {
    await app.ready()
    return JSON.parse(JSON.stringify(app.swagger()))
  } finally {
    controller.abort()
    await app.close()
  }
}
