/**
 * Staleness accounting (pure: the caller passes the time in).
 *
 * Every replica advertises, with each delta and in periodic heartbeats, its
 * own update count `seq` and the HLC wall time of its latest update. A
 * receiver remembers, per origin, the advertisements it has not yet caught
 * up with (its own count for the origin, from the version vectors, is lower).
 * Its staleness is the age of the oldest such advertisement: the oldest
 * update it knows exists and has not seen. That is a lower bound on the
 * true age (the first missing update may be older than the advertisement
 * that revealed it); a replica that hears nothing from an origin cannot
 * know it is behind, so it also exposes `silentMs` (time since the origin
 * was last heard).
 */
export interface Advert { seq: number, wallMs: number }

export interface StalenessInit {
  /** advertisements kept per origin (the oldest ones are kept) */
  maxPending?: number
}

export class StalenessTracker {
  private readonly pending = new Map<string, Advert[]>()
  private readonly heard = new Map<string, number>()
  private readonly maxPending: number

  constructor (init: StalenessInit = {}) {
    this.maxPending = init.maxPending ?? 64
  }

  /** An origin said it had made `seq` updates by `wallMs` (its HLC), heard at `nowMs`. */
  observe (origin: string, advert: Advert, nowMs: number): void {
    this.heard.set(origin, nowMs)
    const list = this.pending.get(origin) ?? []
    const last = list[list.length - 1]
    if (last != null && advert.seq <= last.seq) return
    if (list.length >= this.maxPending) list[list.length - 1] = advert // keep the oldest, move the newest bound
    else list.push(advert)
    this.pending.set(origin, list)
  }

  /** Drops what `seen(origin)` now covers; returns the staleness in ms (0 when caught up). */
  staleness (seen: (origin: string) => number, nowMs: number): number {
    let worst = 0
    for (const [origin, list] of this.pending) {
      const have = seen(origin)
      let i = 0
      while (i < list.length && list[i].seq <= have) i++
      if (i > 0) list.splice(0, i)
      if (list.length === 0) {
        this.pending.delete(origin)
        continue
      }
      worst = Math.max(worst, nowMs - list[0].wallMs)
    }
    return Math.max(0, worst)
  }

  /** ms since each origin was last heard from */
  silence (nowMs: number): Map<string, number> {
    return new Map([...this.heard].map(([o, t]) => [o, nowMs - t]))
  }

  forget (origin: string): void {
    this.pending.delete(origin)
    this.heard.delete(origin)
  }
}
