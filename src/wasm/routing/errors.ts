/** Typed errors of function routing (/dcis/invoke/1.0.0). */
import { WASM_ERROR_STATUS } from '../errors.js'
import { FUNCTION_STORE_ERROR_STATUS } from '../store/errors.js'

export class InvalidInvokeFrameError extends Error {
  readonly code = 'INVALID_INVOKE_FRAME'
  readonly field: string
  constructor (field: string, message: string) {
    super(`invoke frame ${field}: ${message}`)
    this.name = 'InvalidInvokeFrameError'
    this.field = field
  }
}

/** No peer could run the function: this one may not, and no candidate answered (HTTP 503). */
export class NoCapablePeerError extends Error {
  readonly code = 'NO_CAPABLE_PEER'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'NoCapablePeerError'
  }
}

/** The forwarded call itself failed (stream, frame, timeout) (HTTP 502). */
export class ForwardFailedError extends Error {
  readonly code = 'FORWARD_FAILED'
  readonly peer: string
  constructor (peer: string, message: string, options?: { cause?: unknown }) {
    super(`forwarding to ${peer} failed: ${message}`, options)
    this.name = 'ForwardFailedError'
    this.peer = peer
  }
}

/**
 * An error the remote peer reported, carrying the remote's error name when
 * it is one the API maps (so a forwarded timeout is a 504 here too), else
 * `RemoteFunctionError` (502).
 */
export class RemoteFunctionError extends Error {
  readonly code: string
  readonly peer: string
  constructor (peer: string, name: string, code: string, message: string) {
    super(`${message} (on ${peer})`)
    this.name = Object.hasOwn(ROUTING_ERROR_STATUS, name) && name !== 'RemoteFunctionError' ? name : 'RemoteFunctionError'
    this.code = /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'REMOTE_ERROR'
    this.peer = peer
  }
}

/** The serving peer refused a forwarded invocation: the caller's token lacks the right there. */
export class InvokeForbiddenError extends Error {
  static readonly code = 'FORBIDDEN'
  readonly code = InvokeForbiddenError.code
  constructor (message: string) {
    super(message)
    this.name = 'InvokeForbiddenError'
  }
}

export const ROUTING_ERROR_STATUS: Readonly<Record<string, number>> = Object.freeze({
  ...WASM_ERROR_STATUS,
  ...FUNCTION_STORE_ERROR_STATUS,
  InvalidInvokeFrameError: 400,
  NoCapablePeerError: 503,
  ForwardFailedError: 502,
  RemoteFunctionError: 502,
  InvokeForbiddenError: 403
})
