import type { Scheduler } from '../../src/latency/emulator/index.js'

/** A fake clock: timers fire only when the test advances time. */
export class FakeClock implements Scheduler {
  t = 0
  private timers = new Map<number, { at: number, fn: () => void }>()
  private nextId = 1
  now (): number { return this.t }
  setTimeout (fn: () => void, ms: number): unknown {
    const id = this.nextId++
    this.timers.set(id, { at: this.t + ms, fn })
    return id
  }

  clearTimeout (h: unknown): void { this.timers.delete(h as number) }
  get pending (): number { return this.timers.size }
  advance (ms: number): void {
    const end = this.t + ms
    for (;;) {
      let next: [number, { at: number, fn: () => void }] | undefined
      for (const e of this.timers) if (e[1].at <= end && (next == null || e[1].at < next[1].at)) next = e
      if (next == null) break
      this.timers.delete(next[0])
      this.t = Math.max(this.t, next[1].at)
      next[1].fn()
    }
    this.t = end
  }
}
