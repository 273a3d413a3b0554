/**
 * Function routing: run an invocation here when this peer has room, else
 * forward it over /dcis/invoke/1.0.0 to the nearest capable peer.
 *
 *   const invoker = createFunctionInvoker({ libp2p, runtime, store, candidates, rttMs, logger, metrics })
 *   await invoker.start()                  // handles /dcis/invoke/1.0.0
 *   const { output, ranOn } = await invoker.invoke('echo', body, { signal })
 */
import { DefaultFunctionInvoker } from './invoker.js'
import type { FunctionRoutingMetrics } from './metrics.js'
import type { WasmRuntime } from '../index.js'
import type { FunctionStore, RuntimeSpecFields } from '../store/index.js'
import type { Logger } from '../../telemetry/index.js'
import type { Libp2p } from '@libp2p/interface'

export { INVOKE_PROTOCOL } from './invoker.js'
export { createFunctionRoutingMetrics } from './metrics.js'
export type { FunctionRoutingMetrics } from './metrics.js'
export * from './errors.js'
export { decodeRequestHeader, decodeResponseHeader, encodeHeader, MAX_HEADER_BYTES } from './frames.js'
export type { InvokeRequestHeader, InvokeResponseHeader } from './frames.js'

export interface InvokerComponents {
  libp2p: Pick<Libp2p, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol' | 'getPeers'>
  runtime: Pick<WasmRuntime, 'invoke' | 'capacity' | 'has'>
  store: FunctionStore
  /** peers that may run functions and their runtimes (e.g. verified END descriptors: `registry.list().map(e => ({ peerId: e.end.peerId, runtimes: e.end.runtimes }))`) */
  candidates?: () => Array<{ peerId: string, runtimes: string[] }>
  /** a peer's announced addresses (its verified END's), dialled when the peer store has none */
  addressesOf?: (peerId: string) => string[]
  /** measured RTT to a peer (ms), null when unmeasured */
  rttMs?: (peerId: string) => number | null
  /** may this remote peer have functions run here? (default: any peer) */
  authorize?: (peerId: string) => boolean
  /** re-authorises a forwarded invocation: the original caller's token, checked by this peer (default: not checked) */
  authorizeCall?: (request: { token?: string, remotePeer: string, name: string, id: string }) => Promise<boolean>
  /** may this peer run version `id` of `name` now? (rollouts: a canary only inside its cohort; default yes) */
  mayServe?: (id: string, name: string) => boolean
  /** told about every invocation run here: duration and whether it succeeded (rollout figures) */
  observe?: (name: string, id: string, durationMs: number, ok: boolean) => void
  logger?: Logger
  metrics?: FunctionRoutingMetrics
}

export interface InvokerInit {
  /** run functions on this peer (default true); false: always forward */
  localExecution?: boolean
  /** forward to peers when this one has no room (default true) */
  forward?: boolean
  /** request body limit (default 16 MiB) */
  maxInputBytes?: number
  /** response body limit on the wire (default 64 MiB) */
  maxOutputBytes?: number
  /** whole forwarded call, default 30 s */
  callTimeoutMs?: number
  /** candidates tried before falling back to this peer's queue, default 2 */
  maxForwardAttempts?: number
}

export interface InvokeRequestOptions {
  signal?: AbortSignal
  /** who asks (for the runtime's per-caller limit) */
  caller?: string
  /** the caller's bearer token, sent along when the call is forwarded */
  token?: string
}

export interface ResolvedFunction {
  id: string
  name: string
  spec: RuntimeSpecFields
}

export interface InvokeOutcome {
  output: Uint8Array
  /** the peer id that ran it */
  ranOn: string
  durationMs: number
  coldStart: boolean
  id: string
  name: string
  /** set when this peer forwarded the call */
  forwardedTo?: string
}

export interface FunctionInvoker {
  start(): Promise<void>
  stop(): Promise<void>
  readonly peerId: string
  resolve(ref: string, options?: InvokeRequestOptions): Promise<ResolvedFunction>
  invoke(ref: string, input: Uint8Array, options?: InvokeRequestOptions): Promise<InvokeOutcome>
  runLocal(fn: ResolvedFunction, input: Uint8Array, options: InvokeRequestOptions, where: 'local' | 'served'): Promise<InvokeOutcome>
  candidates(abi: string): string[]
}

export function createFunctionInvoker (components: InvokerComponents, init: InvokerInit = {}): FunctionInvoker {
  return new DefaultFunctionInvoker(components, init)
}
