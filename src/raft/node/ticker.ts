/**
 * One tick timer per tick interval for every Raft group of the process
 * (multi-Raft, as CockroachDB's and TiKV's stores tick all their ranges from
 * one loop): all awake groups tick in the same event-loop turn, so their
 * heartbeats and appends are queued together and the transport writes them
 * to each peer as one frame batch (one socket write per peer pair per tick,
 * not one per group). A quiesced group leaves the ticker; the timer stops
 * when no group is left.
 */
type TickFn = () => void

interface Wheel {
  timer: ReturnType<typeof setInterval>
  members: Set<TickFn>
}

const wheels = new Map<number, Wheel>()

/** `fn` runs every `ms` from the next shared tick on, until unsubscribeTick. */
export function subscribeTick (ms: number, fn: TickFn): void {
  let w = wheels.get(ms)
  if (w === undefined) {
    const members = new Set<TickFn>()
    const timer = setInterval(() => {
      for (const f of [...members]) {
        try { f() } catch { /* a group's tick handles its own failures */ }
      }
    }, ms)
    w = { timer, members }
    wheels.set(ms, w)
  }
  w.members.add(fn)
}

export function unsubscribeTick (ms: number, fn: TickFn): void {
  const w = wheels.get(ms)
  if (w === undefined) return
  w.members.delete(fn)
  if (w.members.size === 0) {
    clearInterval(w.timer)
    wheels.delete(ms)
  }
}

/** groups currently ticking at `ms` (tests, metrics) */
export function tickingGroups (ms: number): number {
  return wheels.get(ms)?.members.size ?? 0
}
