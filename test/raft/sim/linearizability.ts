/**
 * Linearizability checker for KV histories (Wing & Gong search with Lowe's
 * memoization of (linearized set, state), as in Porcupine), partitioned by
 * key. An operation whose outcome is unknown (timed out, node crashed) has no
 * return event: it may take effect at any point after its call, or never.
 */

export type Operation =
  | { kind: 'get', key: string, call: number, ret: number, out?: { value: string | null, rev: number } }
  | { kind: 'put', key: string, value: string, call: number, ret: number, out?: { ok: boolean, rev: number } }
  | { kind: 'cas', key: string, value: string, expect: number, call: number, ret: number, out?: { ok: boolean, rev: number } }

interface State { value: string | null, rev: number }

/** Applies `op` to `s`; undefined when the observed output is impossible from `s`. */
function stepModel (s: State, op: Operation, revs: boolean): State | undefined {
  switch (op.kind) {
    case 'get':
      if (op.out === undefined) return s
      return op.out.value === s.value && (!revs || op.out.rev === s.rev) ? s : undefined
    case 'put': {
      const next = { value: op.value, rev: s.rev + 1 }
      if (op.out !== undefined && (!op.out.ok || (revs && op.out.rev !== next.rev))) return undefined
      return next
    }
    case 'cas': {
      if (s.rev === op.expect) {
        const next = { value: op.value, rev: s.rev + 1 }
        if (op.out !== undefined && (!op.out.ok || op.out.rev !== next.rev)) return undefined
        return next
      }
      if (op.out !== undefined && (op.out.ok || op.out.rev !== s.rev)) return undefined
      return s
    }
  }
}

interface Ev {
  isCall: boolean
  op: number
  time: number
  prev: Ev | undefined
  next: Ev | undefined
  match?: Ev
}

export interface CheckResult {
  ok: boolean
  /** keys whose history is not linearizable */
  badKeys: string[]
  /** keys whose search hit the step budget (treated as unknown, not as failure) */
  undecidedKeys: string[]
}

/** Checks one key's history. */
export function checkKeyHistory (ops: Operation[], maxSteps = 2_000_000, options: CheckOptions = {}): boolean | undefined {
  const revs = options.perKeyRevisions !== false
  // reads with unknown outcome constrain nothing
  ops = ops.filter(o => !(o.kind === 'get' && o.out === undefined))
  const events: Ev[] = []
  ops.forEach((o, i) => {
    const call: Ev = { isCall: true, op: i, time: o.call, prev: undefined, next: undefined }
    events.push(call)
    if (Number.isFinite(o.ret)) {
      if (o.ret <= o.call) throw new Error(`operation returns (${o.ret}) before its call (${o.call})`)
      const ret: Ev = { isCall: false, op: i, time: o.ret, prev: undefined, next: undefined }
      call.match = ret
      events.push(ret)
    }
  })
  // by time; at equal times a return precedes a call (they were not concurrent)
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? 1 : -1))
  const head: Ev = { isCall: false, op: -1, time: -Infinity, prev: undefined, next: undefined }
  let p = head
  for (const e of events) { p.next = e; e.prev = p; p = e }

  const mustLinearize = ops.filter(o => Number.isFinite(o.ret)).length
  let done = 0
  let state: State = { value: null, rev: 0 }
  let linearized = 0n
  const cache = new Set<string>()
  const stack: Array<{ ev: Ev, state: State }> = []
  const stateKey = (s: State): string => `${s.rev}:${s.value ?? '\u0000'}`

  const lift = (e: Ev): void => {
    e.prev!.next = e.next
    if (e.next !== undefined) e.next.prev = e.prev
    const m = e.match
    if (m !== undefined) {
      m.prev!.next = m.next
      if (m.next !== undefined) m.next.prev = m.prev
    }
  }
  const unlift = (e: Ev): void => {
    const m = e.match
    if (m !== undefined) {
      m.prev!.next = m
      if (m.next !== undefined) m.next.prev = m
    }
    e.prev!.next = e
    if (e.next !== undefined) e.next.prev = e
  }

  let entry = head.next
  let steps = 0
  while (true) {
    if (done === mustLinearize) return true
    if (++steps > maxSteps) return undefined
    if (entry !== undefined && entry.isCall) {
      const op = ops[entry.op]
      const next = stepModel(state, op, revs)
      if (next !== undefined) {
        const bits = linearized | (1n << BigInt(entry.op))
        const key = bits.toString(36) + '|' + stateKey(next)
        if (!cache.has(key)) {
          cache.add(key)
          stack.push({ ev: entry, state })
          state = next
          linearized = bits
          if (Number.isFinite(op.ret)) done++
          lift(entry)
          entry = head.next
          continue
        }
      }
      entry = entry.next
      continue
    }
    // a return event (or the end of the list): the pending op could not be placed; backtrack
    const top = stack.pop()
    if (top === undefined) return false
    state = top.state
    linearized &= ~(1n << BigInt(top.ev.op))
    if (Number.isFinite(ops[top.ev.op].ret)) done--
    unlift(top.ev)
    entry = top.ev.next
  }
}

/** Checks a whole history, key by key. */
export interface CheckOptions {
  /**
   * true (default): `rev` is the key's own write count (the simulator's
   * store). false: revisions are not part of the per-key model (a store with
   * one global revision counter, like the strong KV service and etcd): only
   * values and put success are checked.
   */
  perKeyRevisions?: boolean
}

export function checkHistory (ops: Operation[], maxStepsPerKey?: number, options: CheckOptions = {}): CheckResult {
  const byKey = new Map<string, Operation[]>()
  for (const o of ops) {
    let l = byKey.get(o.key)
    if (l === undefined) { l = []; byKey.set(o.key, l) }
    l.push(o)
  }
  const badKeys: string[] = []
  const undecidedKeys: string[] = []
  for (const [k, l] of [...byKey].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const r = checkKeyHistory(l, maxStepsPerKey, options)
    if (r === false) badKeys.push(k)
    else if (r === undefined) undecidedKeys.push(k)
  }
  return { ok: badKeys.length === 0, badKeys, undecidedKeys }
}
