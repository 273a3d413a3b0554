/**
 * Linearizability check for histories of a KV store with GLOBAL revisions
 * (every successful write gets a unique, increasing revision; a read returns
 * the value and the revision of the write it observes). With unique values
 * and revisions, a history is linearizable iff (per key, and globally for
 * the revision order) it respects real time:
 *  - a read returns a value some write of that key wrote (or none before any
 *    write), with that write's revision, and that write was called before
 *    the read returned;
 *  - if op A returned before op B was called: rev(B) >= rev(A) for reads and
 *    rev(B) > rev(A) when B is a write; a read after a write of the same key
 *    sees that write or a later one (rev >= rev(write)).
 * Revisions then give the linearization order (writes by revision, each read
 * right after the write it saw). Ops with unknown outcome (timeouts, killed
 * peers) have ret = Infinity and constrain only through what reads reveal.
 */
export type HistOp =
  | { kind: 'put', client: number, key: string, value: string, call: number, ret: number, rev?: number }
  | { kind: 'get', client: number, key: string, call: number, ret: number, value: string | null, rev: number }

export interface HistoryVerdict { ok: boolean, problems: string[] }

export function checkRevisionHistory (ops: HistOp[]): HistoryVerdict {
  const problems: string[] = []
  const writeByValue = new Map<string, HistOp & { kind: 'put' }>()
  const revOwner = new Map<number, string>()
  for (const o of ops) {
    if (o.kind !== 'put') continue
    if (writeByValue.has(o.value)) problems.push(`value ${o.value} written twice (test bug)`)
    writeByValue.set(o.value, o)
    if (o.rev !== undefined) {
      const prev = revOwner.get(o.rev)
      if (prev !== undefined) problems.push(`revision ${o.rev} acknowledged to two writes (${prev}, ${o.value})`)
      revOwner.set(o.rev, o.value)
    }
  }
  // what every op's effective revision is (writes with unknown outcome learn it from reads)
  const learned = new Map<string, number>()
  for (const o of ops) {
    if (o.kind !== 'get' || o.value === null) continue
    const w = writeByValue.get(o.value)
    if (w === undefined) { problems.push(`read of ${o.key} returned ${o.value}, which nobody wrote`); continue }
    if (w.key !== o.key) problems.push(`read of ${o.key} returned a value written to ${w.key}`)
    if (w.call > o.ret) problems.push(`read of ${o.key} returned ${o.value} before its write was called`)
    const known = w.rev ?? learned.get(w.value)
    if (known !== undefined && known !== o.rev) problems.push(`read of ${o.key} saw ${o.value} at revision ${o.rev}, but it was written at ${known}`)
    learned.set(w.value, o.rev)
  }
  const revOf = (o: HistOp): number | undefined => o.kind === 'get' ? o.rev : (o.rev ?? learned.get(o.value))
  // real-time order: sort by return, sweep calls
  const done = ops.filter(o => Number.isFinite(o.ret) && revOf(o) !== undefined).sort((a, b) => a.ret - b.ret)
  const byCall = ops.filter(o => revOf(o) !== undefined).sort((a, b) => a.call - b.call)
  let i = 0
  let maxRev = -1
  let maxRevOp: HistOp | undefined
  const maxPerKey = new Map<string, { rev: number, op: HistOp }>()
  for (const b of byCall) {
    while (i < done.length && done[i].ret < b.call) {
      const a = done[i++]
      const r = revOf(a)!
      if (r > maxRev) { maxRev = r; maxRevOp = a }
      if (a.kind === 'put' || (a.kind === 'get')) {
        const cur = maxPerKey.get(a.key)
        if (cur === undefined || r > cur.rev) maxPerKey.set(a.key, { rev: r, op: a })
      }
    }
    const rb = revOf(b)!
    if (b.kind === 'put' && rb <= maxRev) problems.push(`write ${b.value} got revision ${rb} but ${describe(maxRevOp!)} (revision ${maxRev}) completed before it started`)
    if (b.kind === 'get') {
      const k = maxPerKey.get(b.key)
      if (k !== undefined && rb < k.rev) problems.push(`stale read of ${b.key}: revision ${rb} after ${describe(k.op)} (revision ${k.rev}) completed`)
    }
  }
  return { ok: problems.length === 0, problems: problems.slice(0, 20) }
}

function describe (o: HistOp): string {
  return o.kind === 'put' ? `write ${o.key}=${o.value}` : `read of ${o.key}`
}
