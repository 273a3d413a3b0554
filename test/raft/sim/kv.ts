/**
 * The replicated state machine of the simulator: a small KV store with a
 * per-key revision (number of writes to the key), put / cas / get, and
 * de-duplication of re-delivered proposals by operation id.
 */
const te = new TextEncoder()
const td = new TextDecoder()

export type KvOp =
  | { kind: 'put', id: string, key: string, value: string }
  | { kind: 'cas', id: string, key: string, value: string, expect: number }

export interface KvResult {
  ok: boolean
  rev: number
}

export interface KvValue {
  value: string | null
  rev: number
}

export function encodeOp (op: KvOp): Uint8Array {
  return te.encode(JSON.stringify(op))
}

export function decodeOp (data: Uint8Array): KvOp | undefined {
  if (data.length === 0) return undefined
  return JSON.parse(td.decode(data)) as KvOp
}

export class KvStore {
  private readonly data = new Map<string, KvValue>()
  private readonly seen = new Map<string, KvResult>()

  get (key: string): KvValue {
    return this.data.get(key) ?? { value: null, rev: 0 }
  }

  /** Applies an op; a repeated op id returns the first result without effect. */
  apply (op: KvOp): KvResult {
    const prev = this.seen.get(op.id)
    if (prev !== undefined) return prev
    const cur = this.get(op.key)
    let res: KvResult
    if (op.kind === 'put' || (op.kind === 'cas' && cur.rev === op.expect)) {
      this.data.set(op.key, { value: op.value, rev: cur.rev + 1 })
      res = { ok: true, rev: cur.rev + 1 }
    } else {
      res = { ok: false, rev: cur.rev }
    }
    this.seen.set(op.id, res)
    return res
  }

  serialize (): Uint8Array {
    return te.encode(JSON.stringify({ d: [...this.data], s: [...this.seen] }))
  }

  static deserialize (b: Uint8Array): KvStore {
    const kv = new KvStore()
    if (b.length === 0) return kv
    const o = JSON.parse(td.decode(b)) as { d: Array<[string, KvValue]>, s: Array<[string, KvResult]> }
    for (const [k, v] of o.d) kv.data.set(k, v)
    for (const [k, v] of o.s) kv.seen.set(k, v)
    return kv
  }
}
