import type { FastifyReply } from 'fastify'

/** Thrown into a handler's signal when the client disconnects before the reply. */
export class ClientGoneError extends Error {
  readonly code = 'CLIENT_GONE'
  constructor () {
    super('the client closed the connection')
    this.name = 'AbortError'
  }
}

/**
 * One signal per request, aborted when the client goes away before the
 * response is written, when any `parents` signal aborts (server stop), or
 * after `timeoutMs` (a `TimeoutError`, mapped to 504).
 */
export function requestSignal (reply: FastifyReply, parents: AbortSignal[], timeoutMs: number): AbortSignal {
  const controller = new AbortController()
  const res = reply.raw
  const onClose = (): void => {
    if (!res.writableFinished) {
      controller.abort(new ClientGoneError())
    }
  }
  res.once('close', onClose)
  return AbortSignal.any([controller.signal, ...parents, AbortSignal.timeout(timeoutMs)])
}
