/**
 * A per-connection FIFO that releases each item `delayMs` after it was pushed,
 * in push order, using ONE timer (armed for the head of the queue) instead of
 * a sleep per chunk: bytes written at t leave at t + d no matter how many
 * writes are in flight, so latency does not turn into a throughput cap.
 *
 * Due times never decrease (a later write with less jitter waits for the
 * earlier one), which is what a TCP byte stream does anyway.
 *
 * Downstream backpressure: `deliver` returns false when the downstream is
 * full (the item WAS taken); the queue then holds the rest until `resume()`.
 *
 * Timers have millisecond granularity, so an item may leave up to
 * EARLY_TOLERANCE_MS before its due time; rounding the timer instead of
 * always rounding up keeps the mean error near 0 instead of +0.5 ms per hop.
 *
 * The clock and timers come from an injected Scheduler so tests can drive the
 * queue with a fake clock.
 */
import type { AbortOptions } from '@libp2p/interface'

export interface Scheduler {
  /** monotonic milliseconds */
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** The real clock: performance.now() and Node timers. */
export function systemScheduler (): Scheduler {
  return {
    now: () => performance.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => { clearTimeout(h as ReturnType<typeof setTimeout>) }
  }
}

export interface DelayQueueInit<T> {
  scheduler: Scheduler
  /** hand one item downstream; false = downstream full, stop until resume() */
  deliver(item: T): boolean
  /** bytes an item accounts for in `queuedBytes` */
  sizeOf(item: T): number
  /** called after a batch of items left the queue */
  onDelivered?(): void
}

interface Slot<T> { dueAt: number, item: T }

/** an item counts as due this much before its exact due time (timer granularity) */
export const EARLY_TOLERANCE_MS = 0.5

export class DelayQueue<T> {
  private readonly init: DelayQueueInit<T>
  private slots: Array<Slot<T>> = []
  private head = 0
  private bytes = 0
  private lastDueAt = -Infinity
  private timer: unknown
  private timerArmed = false
  private isBlocked = false
  private isClosed = false
  private idleWaiters: Array<() => void> = []

  constructor (init: DelayQueueInit<T>) {
    this.init = init
  }

  /** items waiting (not yet delivered) */
  get length (): number {
    return this.slots.length - this.head
  }

  get queuedBytes (): number {
    return this.bytes
  }

  /** true while the downstream is full */
  get blocked (): boolean {
    return this.isBlocked
  }

  get closed (): boolean {
    return this.isClosed
  }

  /** Queue `item` to leave after `delayMs` (negative counts as 0). Delivered synchronously if due now and nothing is ahead. */
  push (item: T, delayMs: number): void {
    if (this.isClosed) throw new Error('DelayQueue is closed')
    const now = this.init.scheduler.now()
    const dueAt = Math.max(now + Math.max(0, delayMs), this.lastDueAt)
    this.lastDueAt = dueAt
    if (this.length === 0 && !this.isBlocked && dueAt <= now + EARLY_TOLERANCE_MS) {
      if (!this.init.deliver(item)) this.isBlocked = true
      return
    }
    this.slots.push({ dueAt, item })
    this.bytes += this.init.sizeOf(item)
    this.arm(now)
  }

  /** The downstream has room again: continue releasing due items. */
  resume (): void {
    if (!this.isBlocked) return
    this.isBlocked = false
    this.flush()
  }

  /** Resolves once every queued item has been delivered (or the queue is cleared). */
  async whenEmpty (options: AbortOptions = {}): Promise<void> {
    if (this.length === 0 || this.isClosed) return
    options.signal?.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.idleWaiters = this.idleWaiters.filter(w => w !== done)
        reject(options.signal?.reason ?? new Error('aborted'))
      }
      const done = (): void => {
        options.signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      this.idleWaiters.push(done)
      options.signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Drop everything, cancel the timer, refuse further pushes. Idempotent. */
  clear (): void {
    this.isClosed = true
    this.slots = []
    this.head = 0
    this.bytes = 0
    this.disarm()
    this.wakeIdle()
  }

  private flush (): void {
    if (this.isClosed) return
    const now = this.init.scheduler.now()
    let delivered = false
    while (this.head < this.slots.length && !this.isBlocked && !this.isClosed) {
      const slot = this.slots[this.head]
      if (slot.dueAt > now + EARLY_TOLERANCE_MS) break
      this.slots[this.head] = undefined as unknown as Slot<T>
      this.head++
      this.bytes -= this.init.sizeOf(slot.item)
      delivered = true
      if (!this.init.deliver(slot.item)) this.isBlocked = true
    }
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head)
      this.head = 0
    }
    if (this.length === 0) {
      this.slots = []
      this.head = 0
    }
    if (delivered) this.init.onDelivered?.()
    if (this.length === 0) this.wakeIdle()
    this.arm(this.init.scheduler.now())
  }

  private arm (now: number): void {
    if (this.timerArmed || this.isBlocked || this.isClosed || this.length === 0) return
    const wait = Math.max(0, Math.round(this.slots[this.head].dueAt - now))
    this.timerArmed = true
    this.timer = this.init.scheduler.setTimeout(() => {
      this.timerArmed = false
      this.timer = undefined
      this.flush()
    }, wait)
  }

  private disarm (): void {
    if (!this.timerArmed) return
    this.init.scheduler.clearTimeout(this.timer)
    this.timerArmed = false
    this.timer = undefined
  }

  private wakeIdle (): void {
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const w of waiters) w()
  }
}
