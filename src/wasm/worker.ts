/**
 * Entry point of a runtime worker thread. Handles one job at a time
 * (handlers are synchronous), answering each with `result` and `done`.
 * Instances are refilled between `result` and `done`, so the time spent
 * warming never delays a caller's response.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { createLoadedFunction, fillWarm, invoke } from './executor.js'
import type { LoadedFunction } from './executor.js'
import { HostBridge } from './host-calls.js'
import type { WorkerMessage, WorkerRequest } from './messages.js'

const port = parentPort
if (port === null) throw new Error('worker.ts must run in a worker thread')

const functions = new Map<string, LoadedFunction>()
// the host interface: calls block this worker on the shared buffer until the main thread answers
const hostBuffer = (workerData as { hostBuffer?: unknown } | null)?.hostBuffer
const host = hostBuffer instanceof SharedArrayBuffer ? new HostBridge(hostBuffer, (m) => { port.postMessage(m) }) : undefined
const EMPTY = new Uint8Array(0)

function send (msg: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(msg, transfer)
}

function transferable (b: Uint8Array): ArrayBuffer[] {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.byteLength > 0 && b.buffer instanceof ArrayBuffer ? [b.buffer] : []
}

function refill (fn: LoadedFunction): void {
  try {
    fillWarm(fn)
  } catch (err) {
    send({ type: 'log', level: 'warn', id: fn.id, message: `could not warm an instance: ${(err as Error).message}` })
  }
}

port.on('message', (msg: WorkerRequest) => {
  switch (msg.type) {
    case 'load': {
      const fn: LoadedFunction = createLoadedFunction(msg, host)
      functions.set(msg.id, fn)
      try {
        fillWarm(fn)
        send({ type: 'result', job: msg.job, ok: true, output: EMPTY, stderr: '', exitCode: 0, coldStart: true, durationMs: 0 })
      } catch (err) {
        functions.delete(msg.id)
        send({ type: 'result', job: msg.job, ok: false, kind: 'init', message: (err as Error).message, exitCode: 0, stderr: '', output: EMPTY, coldStart: true, durationMs: 0 })
      }
      send({ type: 'done', job: msg.job })
      break
    }
    case 'unload': {
      functions.delete(msg.id)
      send({ type: 'result', job: msg.job, ok: true, output: EMPTY, stderr: '', exitCode: 0, coldStart: false, durationMs: 0 })
      send({ type: 'done', job: msg.job })
      break
    }
    case 'invoke': {
      const fn = functions.get(msg.id)
      if (fn === undefined) {
        send({ type: 'result', job: msg.job, ok: false, kind: 'not-loaded', message: `function ${msg.id} is not loaded in this worker`, exitCode: 0, stderr: '', output: EMPTY, coldStart: false, durationMs: 0 })
      } else {
        if (host != null) host.job = msg.job
        const r = invoke(fn, msg.input)
        if (fn.warm.length >= fn.spec.warm) {
          // nothing to refill (a reused reactor instance): one message
          send({ type: 'result', job: msg.job, ...r, done: true }, transferable(r.output))
          break
        }
        send({ type: 'result', job: msg.job, ...r }, transferable(r.output))
        refill(fn)
      }
      send({ type: 'done', job: msg.job })
      break
    }
  }
})

send({ type: 'ready' })
