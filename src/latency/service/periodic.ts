/**
 * One periodic job: runs `task` after a delay, waits for it to finish, then
 * schedules the next run. Each run gets a signal aborted by stop() or after
 * `timeoutMs`. stop() clears the pending timer, aborts the run in flight and
 * resolves once it has settled, so nothing outlives it.
 */
export interface PeriodicInit {
  /** delay before the next run (called before each one: put the jitter here) */
  nextDelayMs: () => number
  /** delay before the first run (default nextDelayMs()) */
  firstDelayMs?: number
  /** per-run timeout */
  timeoutMs: number
  /** told about a run that threw (the loop goes on) */
  onError: (err: unknown) => void
}

export class Periodic {
  private timer: ReturnType<typeof setTimeout> | undefined
  private running: Promise<void> | undefined
  private controller: AbortController | undefined
  private stopped = true

  constructor (private readonly task: (signal: AbortSignal) => Promise<void>, private readonly init: PeriodicInit) {}

  start (): void {
    if (!this.stopped) return
    this.stopped = false
    this.schedule(this.init.firstDelayMs ?? this.init.nextDelayMs())
  }

  /** true while a timer is pending or a run is in flight */
  get active (): boolean {
    return this.timer !== undefined || this.running !== undefined
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.controller?.abort(new Error('stopped'))
    await this.running
  }

  private schedule (delayMs: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.running = this.run().finally(() => {
        this.running = undefined
        this.schedule(this.init.nextDelayMs())
      })
    }, Math.max(0, delayMs))
  }

  private async run (): Promise<void> {
    const controller = new AbortController()
    this.controller = controller
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(this.init.timeoutMs)])
    try {
      await this.task(signal)
    } catch (err) {
      if (!this.stopped) this.init.onError(err)
    } finally {
      this.controller = undefined
    }
  }
}

/** `baseMs` scaled by a factor uniform in [1 - jitter, 1 + jitter). */
export function jittered (baseMs: number, jitter: number, random: () => number): number {
  return Math.round(baseMs * (1 - jitter + 2 * jitter * random()))
}
