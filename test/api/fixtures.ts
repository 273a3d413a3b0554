import { Writable } from 'node:stream'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { createApiServer } from '../../src/api/index.js'
import type { ApiNode, ApiRoutes, ApiServer, ApiServerInit, NodeInfoView, PeerView } from '../../src/api/index.js'
import type { Logger } from '../../src/telemetry/index.js'

/** A fake node whose answers the test controls. */
export class FakeNode implements ApiNode {
  ready = false
  nodeInfo: NodeInfoView = {
    peerId: '12D3KooWFakePeer1111111111111111111111111111111111',
    did: 'did:key:z6MkFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake',
    multiaddrs: ['/ip4/127.0.0.1/tcp/4001'],
    region: 'eu-west',
    zone: 'eu-west-a',
    end: { type: ['VerifiableCredential'], credentialSubject: { cpu: 4 } },
    endJwt: 'eyJhbGciOiJFZERTQSJ9.e30.sig'
  }

  peerList: PeerView[] = [
    { peerId: '12D3KooWPeerA', multiaddrs: ['/ip4/127.0.0.1/tcp/4002'], rttMs: 1.5, region: 'eu-west' },
    { peerId: '12D3KooWPeerB', multiaddrs: [], rttMs: null, region: null }
  ]

  /** when set, peers() waits for its signal to abort and rejects with the reason */
  hangPeers = false
  lastPeersSignal: AbortSignal | undefined

  info (): NodeInfoView {
    return this.nodeInfo
  }

  async peers (options: { signal?: AbortSignal } = {}): Promise<PeerView[]> {
    this.lastPeersSignal = options.signal
    if (this.hangPeers) {
      const signal = options.signal
      if (signal == null) throw new Error('no signal given')
      await new Promise((_resolve, reject) => {
        if (signal.aborted) { reject(signal.reason); return }
        signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
      })
    }
    return this.peerList
  }

  isReady (): boolean {
    return this.ready
  }
}

/** Captures log lines so tests can check what was (not) logged. */
export function memoryLogger (): { logger: Logger, lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = []
  const stream = new Writable({
    write (chunk, _enc, cb) { chunks.push(String(chunk)); cb() }
  })
  const logger = pino({ level: 'debug' }, stream)
  return {
    logger,
    lines: () => chunks.join('').split('\n').filter(l => l.length > 0).map(l => JSON.parse(l) as Record<string, unknown>)
  }
}

export class KeyNotFoundError extends Error {
  readonly code = 'KEY_NOT_FOUND'
  constructor (key: string) {
    super(`no key ${key}`)
    this.name = 'KeyNotFoundError'
  }
}

export class RevisionMismatchError extends Error {
  constructor () {
    super('revision mismatch')
    this.name = 'RevisionMismatchError'
  }
}

export class QuotaExceededError extends Error {
  constructor () {
    super('quota exceeded')
    this.name = 'QuotaExceededError'
  }
}

export const SECRET = 'db password is hunter2'

/** A capability plugin exercising bodies, params, queries and thrown errors. */
export function testRoutes (): ApiRoutes {
  return {
    name: 'test',
    description: 'routes used by the API tests',
    errors: { KeyNotFoundError: 404, RevisionMismatchError: 409 },
    register (app) {
      app.post('/v1/test/echo', {
        schema: {
          operationId: 'testEcho',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { times: { type: 'integer', minimum: 1, maximum: 3 } }
          },
          body: {
            type: 'object',
            required: ['name', 'constraints'],
            additionalProperties: false,
            properties: {
              name: { type: 'string', minLength: 1 },
              constraints: {
                type: 'object',
                additionalProperties: false,
                properties: { cpu: { type: 'number', minimum: 0 } }
              }
            }
          },
          response: {
            200: {
              description: 'the body back',
              type: 'object',
              required: ['name', 'times'],
              properties: { name: { type: 'string' }, times: { type: 'integer' } }
            }
          }
        }
      }, async (request) => {
        const body = request.body as { name: string }
        const query = request.query as { times?: number }
        // `secret` is not in the response schema: the serializer must drop it
        return { name: body.name, times: query.times ?? 1, secret: SECRET }
      })

      app.get('/v1/test/items/:id', {
        schema: {
          operationId: 'testItem',
          params: {
            type: 'object',
            required: ['id'],
            properties: { id: { type: 'string', pattern: '^[a-z]+$' } }
          },
          response: {
            200: { description: 'an item', type: 'object', properties: { id: { type: 'string' } } },
            404: { description: 'no such item (KEY_NOT_FOUND)', $ref: 'ErrorEnvelope#' }
          }
        }
      }, async (request) => {
        const { id } = request.params as { id: string }
        if (id === 'missing') throw new KeyNotFoundError(id)
        return { id }
      })

      app.delete('/v1/test/items/:id', {
        schema: { operationId: 'testDelete', response: { 204: { description: 'deleted', type: 'null' } } }
      }, async (_request, reply) => reply.code(204).send())

      app.get('/v1/test/fail', {
        schema: {
          operationId: 'testFail',
          querystring: {
            type: 'object',
            required: ['kind'],
            properties: { kind: { type: 'string', enum: ['coded', 'named', 'unknown', 'string', 'null', 'quota', 'bad-output'] } }
          },
          response: {
            200: { description: 'never', type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } }
          }
        }
      }, async (request) => {
        const { kind } = request.query as { kind: string }
        switch (kind) {
          case 'coded': throw new KeyNotFoundError('k1')
          case 'named': throw new RevisionMismatchError()
          case 'unknown': throw new TypeError(SECRET)
          case 'string': throw SECRET
          case 'null': throw null
          case 'quota': throw new QuotaExceededError()
          default: return { wrong: 'shape' }
        }
      })
    }
  }
}

export interface Harness {
  server: ApiServer
  node: FakeNode
  metrics: Registry
  lines: () => Array<Record<string, unknown>>
  url: (path: string) => string
}

/** A started server on 127.0.0.1 with a free port; the caller stops it. */
export async function startHarness (init: Partial<ApiServerInit> = {}): Promise<Harness> {
  const node = new FakeNode()
  const metrics = new Registry()
  const { logger, lines } = memoryLogger()
  const server = createApiServer({ node, metrics, logger }, { host: '127.0.0.1', port: 0, routes: [testRoutes()], ...init })
  await server.start()
  return { server, node, metrics, lines, url: (path) => `${server.url}${path}` }
}

export interface RawResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/**
 * One HTTP/1.1 request on a fresh connection (node:http, no keep-alive),
 * for requests fetch() would refuse or rewrite (bad methods, raw bodies).
 */
export async function rawRequest (url: string, method: string, options: { headers?: Record<string, string>, body?: string | Buffer } = {}): Promise<RawResponse> {
  const { request } = await import('node:http')
  return await new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { connection: 'close', ...options.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

export function parseEnvelope (body: string): { code: string, message: string } {
  const parsed = JSON.parse(body) as { error?: { code?: unknown, message?: unknown } }
  const keys = Object.keys(parsed)
  if (keys.length !== 1 || keys[0] !== 'error' || typeof parsed.error?.code !== 'string' || typeof parsed.error.message !== 'string' ||
    Object.keys(parsed.error).length !== 2) {
    throw new Error(`not an error envelope: ${body}`)
  }
  return { code: parsed.error.code, message: parsed.error.message }
}
