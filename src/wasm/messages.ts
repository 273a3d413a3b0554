/**
 * The messages between the runtime (main thread) and its workers. Every
 * request is a job; the worker answers with one `result` and then one
 * `done` (after it has refilled its warm instances).
 */
import type { Abi } from './abi.js'
import type { HostCallMessage } from './host-calls.js'

export interface LoadRequest {
  type: 'load'
  job: number
  id: string
  abi: Abi
  module: WebAssembly.Module
  maxOutputBytes: number
  maxStderrBytes: number
  env: Record<string, string>
  clock: boolean
  random: boolean
  /** warm instances to keep in this worker */
  warm: number
  /** the invocation's wall-clock limit: bounds the wait for a host call's answer */
  timeoutMs?: number
  /** host calls one invocation may make (default DEFAULT_MAX_HOST_CALLS) */
  maxHostCalls?: number
}

export interface UnloadRequest { type: 'unload', job: number, id: string }
export interface InvokeRequest { type: 'invoke', job: number, id: string, input: Uint8Array }
export type WorkerRequest = LoadRequest | UnloadRequest | InvokeRequest

export type FailureKind = 'trap' | 'exit' | 'output' | 'not-loaded' | 'init'

export interface InvokeSuccess {
  type: 'result'
  job: number
  ok: true
  output: Uint8Array
  stderr: string
  exitCode: number
  coldStart: boolean
  durationMs: number
  /** the job is also finished (no refill follows): no separate `done` */
  done?: boolean
}

export interface InvokeFailure {
  type: 'result'
  job: number
  ok: false
  kind: FailureKind
  message: string
  exitCode: number
  stderr: string
  output: Uint8Array
  coldStart: boolean
  durationMs: number
  done?: boolean
}

export interface JobDone { type: 'done', job: number }
export interface WorkerReady { type: 'ready' }
export interface WorkerLog { type: 'log', level: 'warn' | 'debug', message: string, id?: string }

export type WorkerMessage = InvokeSuccess | InvokeFailure | JobDone | WorkerReady | WorkerLog | HostCallMessage
