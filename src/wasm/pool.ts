/**
 * A fixed-size pool of worker threads. Each slot runs one job at a time;
 * a job that outlives its deadline (or is aborted) gets its worker
 * terminated and replaced, so a runaway function can never keep a slot.
 * A replacement worker is re-taught every loaded function (`replay`)
 * before it takes invocations.
 */
import { Worker } from 'node:worker_threads'
import { AbortedError, FunctionTimeoutError, RuntimeStoppedError, WorkerCrashedError } from './errors.js'
import { HOST_HEADER_BYTES, HOST_RESULT_BYTES, HOST_STATUS, writeHostAnswer } from './host-calls.js'
import type { HostCall, HostCallAuth, HostCallMessage } from './host-calls.js'
import type { DataGrants } from './spec.js'
import type { InvokeFailure, InvokeSuccess, LoadRequest, WorkerMessage, WorkerRequest } from './messages.js'
import type { Logger } from '../telemetry/index.js'

export type JobResult = InvokeSuccess | InvokeFailure
type NewRequest = WorkerRequest extends infer R ? R extends { job: number } ? Omit<R, 'job'> : never : never

interface Job {
  id: number
  request: WorkerRequest
  timeoutMs: number
  resolve: (r: JobResult) => void
  reject: (e: Error) => void
  /** set once the result has arrived (the worker is then refilling) */
  answered: boolean
  /** a control job's result, delivered at 'done' */
  result?: JobResult
  timer?: ReturnType<typeof setTimeout>
  signal?: AbortSignal
  onAbort?: () => void
  label: string
  /** the invocation's authority for its host calls (stays on the main thread) */
  auth?: HostCallAuth
  /** the invocation's own data grants (checked by the host call handler) */
  grants?: DataGrants
}

export interface Slot {
  index: number
  worker: Worker
  state: 'starting' | 'idle' | 'busy' | 'dead'
  job: Job | null
  /** control jobs (load/unload) waiting for this slot, run before invocations */
  control: Job[]
  generation: number
  /** consecutive workers in this slot that died before they were ready */
  startFailures?: number
  /** the host interface's shared buffer of this worker (host-calls.ts) */
  hostBuffer: SharedArrayBuffer
  /** the sequence number of the host call the worker waits for */
  hostSeq: number
}

/**
 * Runs a function's host call on the main thread: resolves with the result
 * bytes, rejects with a HostCallError (its status goes to the function) or
 * any error (FAILED).
 */
/** `auth`: the invocation's authority; `grants`: the data grants the invocation was started with (runtime.invoke's options.grants, normalized), if any */
export type HostCallHandler = (functionId: string, call: HostCall, signal: AbortSignal, auth: HostCallAuth, grants?: DataGrants) => Promise<Uint8Array>

const MAX_START_FAILURES = 3

export interface WorkerPoolInit {
  size: number
  log?: Logger
  /** called whenever a slot becomes free for invocations */
  onIdle: () => void
  /** the load requests a fresh worker must run before it serves */
  replay: () => Array<{ request: Omit<LoadRequest, 'job'>, timeoutMs: number, onTimeout: () => void }>
  onReplaced?: (reason: string) => void
  resourceLimits?: { maxOldGenerationSizeMb?: number, maxYoungGenerationSizeMb?: number, stackSizeMb?: number }
  /** the worker script (tests substitute misbehaving workers); default ./worker.js */
  workerUrl?: URL
  /** serves host calls (none: every host call answers UNSUPPORTED) */
  hostCall?: HostCallHandler
}

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url)

export class WorkerPool {
  readonly slots: Slot[] = []
  private nextJob = 1
  private running = false
  replacements = 0

  constructor (private readonly init: WorkerPoolInit) {}

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    const ready: Array<Promise<void>> = []
    for (let i = 0; i < this.init.size; i++) {
      const slot = this.spawn(i, 0)
      this.slots.push(slot)
      ready.push(this.whenReady(slot))
    }
    try {
      await Promise.all(ready)
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async stop (): Promise<void> {
    this.running = false
    const exits: Array<Promise<number>> = []
    for (const slot of this.slots) {
      const jobs = [...(slot.job !== null ? [slot.job] : []), ...slot.control]
      slot.job = null
      slot.control = []
      slot.state = 'dead'
      for (const j of jobs) this.settleReject(j, new RuntimeStoppedError())
      exits.push(slot.worker.terminate())
    }
    this.slots.length = 0
    await Promise.allSettled(exits)
  }

  /** a slot free for an invocation right now */
  idleSlot (): Slot | undefined {
    return this.slots.find(s => s.state === 'idle' && s.control.length === 0)
  }

  /** slots with a worker that is running or starting */
  live (): number {
    return this.slots.filter(s => s.state !== 'dead').length
  }

  counts (): { idle: number, busy: number, starting: number } {
    let idle = 0; let busy = 0; let starting = 0
    for (const s of this.slots) {
      if (s.state === 'idle') idle++
      else if (s.state === 'busy') busy++
      else if (s.state === 'starting') starting++
    }
    return { idle, busy, starting }
  }

  /** run an invocation on an idle slot */
  run (slot: Slot, request: NewRequest, timeoutMs: number, label: string, signal?: AbortSignal, auth?: HostCallAuth, grants?: DataGrants): Promise<JobResult> {
    if (slot.state !== 'idle') throw new Error('slot is not idle')
    return new Promise((resolve, reject) => {
      const job = this.makeJob(request, timeoutMs, label, resolve, reject, signal)
      if (auth !== undefined) job.auth = auth
      if (grants !== undefined) job.grants = grants
      this.begin(slot, job)
    })
  }

  /** queue a control job on every live slot; resolves with each slot's result */
  broadcast (request: NewRequest, timeoutMs: number, label: string): Promise<Array<PromiseSettledResult<JobResult>>> {
    return Promise.allSettled(this.broadcastEach(request, timeoutMs, label))
  }

  /** queue a control job on every live slot; one promise per slot */
  broadcastEach (request: NewRequest, timeoutMs: number, label: string): Array<Promise<JobResult>> {
    return this.slots.filter(s => s.state !== 'dead').map(slot => new Promise<JobResult>((resolve, reject) => {
      const job = this.makeJob(request, timeoutMs, label, resolve, reject)
      slot.control.push(job)
      if (slot.state === 'idle') this.next(slot)
    }))
  }

  private makeJob (request: NewRequest, timeoutMs: number, label: string, resolve: (r: JobResult) => void, reject: (e: Error) => void, signal?: AbortSignal): Job {
    const id = this.nextJob++
    return { id, request: { ...request, job: id } as WorkerRequest, timeoutMs, resolve, reject, answered: false, signal, label }
  }

  private spawn (index: number, generation: number): Slot {
    const hostBuffer = new SharedArrayBuffer(HOST_HEADER_BYTES + HOST_RESULT_BYTES)
    const worker = new Worker(this.init.workerUrl ?? WORKER_URL, {
      resourceLimits: this.init.resourceLimits ?? { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
      workerData: { hostBuffer }
    })
    const slot: Slot = { index, worker, state: 'starting', job: null, control: [], generation, hostBuffer, hostSeq: 0 }
    worker.on('message', (msg: WorkerMessage) => { this.onMessage(slot, msg) })
    worker.on('error', (err) => { this.onCrash(slot, err.message) })
    worker.on('exit', (code) => { this.onCrash(slot, `exited with code ${code}`) })
    return slot
  }

  private whenReady (slot: Slot): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMsg = (m: WorkerMessage): void => {
        if (m.type === 'ready') { cleanup(); resolve() }
      }
      const onErr = (e: Error): void => { cleanup(); reject(new WorkerCrashedError(e.message)) }
      const onExit = (code: number): void => { cleanup(); reject(new WorkerCrashedError(`exited with code ${code} before it was ready`)) }
      const cleanup = (): void => {
        slot.worker.off('message', onMsg)
        slot.worker.off('error', onErr)
        slot.worker.off('exit', onExit)
      }
      slot.worker.on('message', onMsg)
      slot.worker.on('error', onErr)
      slot.worker.on('exit', onExit)
    })
  }

  private onMessage (slot: Slot, msg: WorkerMessage): void {
    if (slot.state === 'dead') return
    switch (msg.type) {
      case 'ready':
        slot.state = 'idle'
        for (const r of this.init.replay()) {
          const job = this.makeJob(r.request, r.timeoutMs, `replay ${r.request.id}`, () => {}, (err) => {
            if (err instanceof FunctionTimeoutError) r.onTimeout()
          })
          slot.control.push(job)
        }
        this.next(slot)
        break
      case 'log':
        this.init.log?.[msg.level]({ function: msg.id, worker: slot.index }, msg.message)
        break
      case 'host-call':
        this.hostCall(slot, msg)
        break
      case 'result': {
        const job = slot.job
        if (job === null || job.id !== msg.job) return
        if (job.request.type !== 'invoke') {
          // control jobs settle at 'done', once the worker is ready again
          job.result = msg
          return
        }
        job.answered = true
        this.clearTimers(job)
        if (msg.done === true) {
          this.finishJob(slot, job)
          job.resolve(msg)
          break
        }
        // the worker now refills warm instances; that must finish in time too
        job.timer = setTimeout(() => { this.kill(slot, `refill after ${job.label} exceeded ${job.timeoutMs} ms`) }, job.timeoutMs)
        job.resolve(msg)
        break
      }
      case 'done': {
        const job = slot.job
        if (job === null || job.id !== msg.job) return
        this.finishJob(slot, job)
        break
      }
    }
  }

  /**
   * A running invocation called the host: serve it on this thread and write
   * the answer into the worker's shared buffer. An answer for a call the
   * worker no longer waits for (it timed out, or the worker was replaced) is
   * dropped.
   */
  private hostCall (slot: Slot, msg: HostCallMessage): void {
    const job = slot.job
    if (job === null || job.id !== msg.job || job.request.type !== 'invoke' || job.answered) return
    slot.hostSeq = msg.seq
    const enc = new TextEncoder()
    const answer = (status: number, body: Uint8Array): void => {
      if (slot.state === 'dead' || slot.job !== job || slot.hostSeq !== msg.seq) return
      writeHostAnswer(slot.hostBuffer, msg.seq, status, body)
    }
    const handler = this.init.hostCall
    if (handler == null) {
      answer(HOST_STATUS.UNSUPPORTED, enc.encode('this runtime has no host interface'))
      return
    }
    const signal = AbortSignal.any([AbortSignal.timeout(job.timeoutMs), ...(job.signal != null ? [job.signal] : [])])
    handler(job.request.id, msg.call, signal, job.auth ?? {}, job.grants).then(
      (body) => { answer(HOST_STATUS.OK, body) },
      (err: unknown) => {
        const status = typeof (err as { status?: unknown })?.status === 'number' ? (err as { status: number }).status : HOST_STATUS.FAILED
        answer(status < 0 ? status : HOST_STATUS.FAILED, enc.encode((err as Error)?.message ?? String(err)))
      }
    ).catch((err: unknown) => { this.init.log?.warn({ worker: slot.index, err: (err as Error)?.message }, 'answering a host call failed') })
  }

  /** the worker is free again: settle a control job, then hand out more work */
  private finishJob (slot: Slot, job: Job): void {
    this.clearTimers(job)
    slot.job = null
    slot.state = 'idle'
    if (!job.answered && job.result !== undefined) {
      job.answered = true
      job.resolve(job.result)
    }
    this.next(slot)
  }

  private begin (slot: Slot, job: Job): void {
    slot.state = 'busy'
    slot.job = job
    job.timer = setTimeout(() => {
      this.settleReject(job, new FunctionTimeoutError(job.request.type === 'unload' ? '' : job.request.id, job.timeoutMs))
      this.kill(slot, `${job.label} exceeded ${job.timeoutMs} ms`)
    }, job.timeoutMs)
    if (job.signal !== undefined) {
      const signal = job.signal
      job.onAbort = () => {
        this.settleReject(job, new AbortedError())
        this.kill(slot, `${job.label} aborted`)
      }
      if (signal.aborted) {
        job.onAbort()
        return
      }
      signal.addEventListener('abort', job.onAbort, { once: true })
    }
    const transfer: ArrayBuffer[] = []
    if (job.request.type === 'invoke') {
      // cloning a view would copy its whole backing buffer (for a pooled
      // Buffer: other requests' bytes); copy exactly the view and move it
      const input = job.request.input.slice()
      job.request = { ...job.request, input }
      transfer.push(input.buffer)
    }
    slot.worker.postMessage(job.request, transfer)
  }

  private next (slot: Slot): void {
    if (slot.state !== 'idle') return
    const control = slot.control.shift()
    if (control !== undefined) {
      this.begin(slot, control)
      return
    }
    this.init.onIdle()
  }

  private clearTimers (job: Job): void {
    if (job.timer !== undefined) clearTimeout(job.timer)
    job.timer = undefined
    if (job.onAbort !== undefined && job.signal !== undefined) job.signal.removeEventListener('abort', job.onAbort)
    job.onAbort = undefined
  }

  private settleReject (job: Job, err: Error): void {
    this.clearTimers(job)
    if (job.answered) return
    job.answered = true
    job.reject(err)
  }

  private onCrash (slot: Slot, reason: string): void {
    if (slot.state === 'dead' || !this.running) return
    if (slot.job !== null) this.settleReject(slot.job, new WorkerCrashedError(reason))
    this.kill(slot, `worker crashed: ${reason}`)
  }

  /** terminate a slot's worker and put a fresh one in its place */
  private kill (slot: Slot, reason: string): void {
    if (slot.state === 'dead') return
    const wasStarting = slot.state === 'starting'
    slot.state = 'dead'
    if (slot.job !== null) this.clearTimers(slot.job)
    const pendingControl = slot.control
    slot.job = null
    slot.control = []
    slot.worker.terminate().catch((err: unknown) => { this.init.log?.debug({ worker: slot.index, err: (err as Error)?.message }, 'terminating a wasm worker failed') })
    this.init.log?.warn({ worker: slot.index, reason }, 'replacing wasm worker')
    this.replacements++
    this.init.onReplaced?.(reason)
    if (!this.running) return
    const startFailures = wasStarting ? (slot.startFailures ?? 0) + 1 : 0
    if (startFailures > MAX_START_FAILURES) {
      this.init.log?.error({ worker: slot.index, reason }, 'wasm worker keeps failing to start; slot left empty')
      for (const j of pendingControl) this.settleReject(j, new WorkerCrashedError(reason))
      return
    }
    const fresh = this.spawn(slot.index, slot.generation + 1)
    fresh.startFailures = startFailures
    // control jobs that were waiting carry over (replay adds the loads again)
    fresh.control.push(...pendingControl)
    const i = this.slots.indexOf(slot)
    if (i >= 0) this.slots[i] = fresh
  }
}
