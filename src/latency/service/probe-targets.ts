/**
 * Which connected peers a probe round pings: up to `max` of them, taken in
 * peer-id order starting at a cursor that moves on by what was taken, so
 * every connected peer is pinged within ceil(n / max) rounds whatever the
 * connection order. Pure.
 */
export function pickProbeTargets (peerIds: readonly string[], cursor: number, max: number): { targets: string[], cursor: number } {
  const sorted = [...new Set(peerIds)].sort()
  const n = sorted.length
  if (n === 0 || max < 1) return { targets: [], cursor: 0 }
  const start = ((cursor % n) + n) % n
  const count = Math.min(max, n)
  const targets: string[] = []
  for (let i = 0; i < count; i++) targets.push(sorted[(start + i) % n])
  return { targets, cursor: (start + count) % n }
}

/**
 * Run `fn` over `items` with at most `limit` calls in flight. A call that
 * rejects stops the others from taking more items, and the whole run
 * rejects with its error once the calls in flight are done.
 */
export async function forEachLimited<T> (items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  let failure: { err: unknown } | undefined
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      try {
        await fn(items[i], i)
      } catch (err) {
        failure ??= { err }
        next = items.length
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  if (failure != null) throw failure.err
}

/** A 32-bit seed from a string (FNV-1a), e.g. a peer id. */
export function seedFromString (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}
