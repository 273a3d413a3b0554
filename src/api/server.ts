import { buildApp } from './app.js'
import { DEFAULT_ERROR_STATUS, ErrorStatusTable } from './errors.js'
import { createApiMetrics } from './metrics.js'
import { forComponent } from '../telemetry/index.js'
import type { ApiComponents, ApiServer, ApiServerInit } from './index.js'
import type { ApiMetrics } from './metrics.js'
import type { Logger } from '../telemetry/index.js'
import type { FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'

export const DEFAULT_API_HOST = '127.0.0.1'
export const DEFAULT_API_PORT = 8080
const DEFAULT_BODY_LIMIT = 1024 * 1024
const API_COMPONENT = 'dcis:api'

export class InvalidApiInitError extends Error {
  readonly code = 'INVALID_API_INIT'
  constructor (message: string) {
    super(message)
    this.name = 'InvalidApiInitError'
  }
}

/** Lifecycle around one fastify instance per start (a closed instance cannot listen again). */
/** how long stop() lets open connections finish before closing them */
const CLOSE_GRACE_MS = 2000

export class ApiHttpServer implements ApiServer {
  private readonly components: ApiComponents
  private readonly host: string
  private readonly requestedPort: number
  private readonly bodyLimit: number
  private readonly handlerTimeoutMs: number
  private readonly requestTimeoutMs: number
  private readonly init: ApiServerInit
  private readonly table: ErrorStatusTable
  private readonly log: Logger
  private readonly metrics: ApiMetrics
  private app: FastifyInstance | null = null
  private shutdown: AbortController | null = null
  private boundPort: number | null = null
  private _status: ApiServer['status'] = 'stopped'

  constructor (components: ApiComponents, init: ApiServerInit) {
    this.host = init.host ?? DEFAULT_API_HOST
    this.requestedPort = init.port ?? DEFAULT_API_PORT
    this.bodyLimit = init.bodyLimit ?? DEFAULT_BODY_LIMIT
    this.handlerTimeoutMs = init.handlerTimeoutMs ?? 30_000
    this.requestTimeoutMs = init.requestTimeoutMs ?? 60_000
    if (typeof this.host !== 'string' || this.host.length === 0) {
      throw new InvalidApiInitError('api host must be a non-empty string')
    }
    if (!Number.isInteger(this.requestedPort) || this.requestedPort < 0 || this.requestedPort > 65535) {
      throw new InvalidApiInitError(`api port must be an integer in 0..65535, got ${String(this.requestedPort)}`)
    }
    for (const [field, value] of [['bodyLimit', this.bodyLimit], ['handlerTimeoutMs', this.handlerTimeoutMs], ['requestTimeoutMs', this.requestTimeoutMs]] as const) {
      if (!Number.isInteger(value) || value <= 0) {
        throw new InvalidApiInitError(`api ${field} must be a positive integer, got ${String(value)}`)
      }
    }
    this.init = init
    // the node may already hand over a `dcis:api` child; do not stack a second one
    this.log = components.logger.bindings().component === API_COMPONENT
      ? components.logger
      : forComponent(components.logger, API_COMPONENT)
    this.components = { ...components, logger: this.log }
    this.metrics = createApiMetrics(components.metrics)
    this.table = new ErrorStatusTable(DEFAULT_ERROR_STATUS)
    this.table.registerAll(init.errorStatus ?? {})
  }

  get status (): ApiServer['status'] {
    return this._status
  }

  get port (): number {
    return this.boundPort ?? this.requestedPort
  }

  get url (): string {
    let host = this.host
    if (host === '0.0.0.0') host = '127.0.0.1'
    if (host === '::' || host === '[::]') host = '::1'
    if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`
    return `${this.init.https !== undefined ? 'https' : 'http'}://${host}:${this.port}`
  }

  registerErrorStatus (name: string, status: number): void {
    this.table.register(name, status)
  }

  /** start/stop calls run one after another, so a stop() during start() stops the started server */
  private lifecycle: Promise<void> = Promise.resolve()

  private serialize (step: () => Promise<void>): Promise<void> {
    const run = this.lifecycle.then(step)
    this.lifecycle = run.catch(() => {})
    return run
  }

  async start (): Promise<void> {
    await this.serialize(async () => { await this.doStart() })
  }

  async stop (): Promise<void> {
    await this.serialize(async () => { await this.doStop() })
  }

  private async doStart (): Promise<void> {
    if (this._status !== 'stopped') {
      return
    }
    this._status = 'starting'
    const shutdown = new AbortController()
    let app: FastifyInstance | null = null
    try {
      app = await buildApp(this.components, {
        bodyLimit: this.bodyLimit,
        handlerTimeoutMs: this.handlerTimeoutMs,
        requestTimeoutMs: this.requestTimeoutMs,
        routes: this.init.routes ?? [],
        auth: this.init.auth,
        metrics: this.metrics,
        table: this.table,
        signal: shutdown.signal,
        ...(this.init.https !== undefined ? { https: this.init.https } : {})
      })
      await app.listen({ host: this.host, port: this.requestedPort, listenTextResolver: () => '' })
      const address = app.server.address() as AddressInfo | null
      this.boundPort = address?.port ?? this.requestedPort
    } catch (err) {
      shutdown.abort()
      if (app != null) {
        await app.close().catch(() => {})
      }
      this._status = 'stopped'
      throw err
    }
    this.app = app
    this.shutdown = shutdown
    this._status = 'started'
    this.log.info({ url: this.url }, 'HTTP API listening')
  }

  private async doStop (): Promise<void> {
    if (this._status !== 'started') {
      return
    }
    this._status = 'stopping'
    const app = this.app
    // every request's signal aborts with the shutdown signal, so in-flight
    // handlers answer at once; a connection still open after a short grace
    // (a client that keeps a socket whose request it abandoned) must not
    // hold the peer's stop hostage: close it (issue 10: docker stop, restarts)
    const force = setTimeout(() => { app?.server.closeAllConnections() }, CLOSE_GRACE_MS)
    try {
      this.shutdown?.abort()
      await app?.close()
    } finally {
      clearTimeout(force)
      this.app = null
      this.shutdown = null
      this.boundPort = null
      this._status = 'stopped'
      this.log.info('HTTP API stopped')
    }
  }
}
