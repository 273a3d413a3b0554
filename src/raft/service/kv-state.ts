/**
 * The strong KV state machine: key -> { value, revision } with one global
 * revision counter (etcd-like: every successful put or delete gets the next
 * revision; revisions only grow). Deterministic: the same commands in the
 * same order give the same state on every replica.
 */
import type { StateMachine } from '../node/index.js'

export type KvCommand =
  | { op: 'put', key: string, value: string, ifRevision?: number }
  | { op: 'del', key: string, ifRevision?: number }

export type KvResult =
  | { ok: true, revision: number }
  | { ok: false, error: 'mismatch', actual: number }
  | { ok: false, error: 'not-found' }
  | { ok: false, error: 'bad-command', message: string }

export interface KvValue { value: string, revision: number }

const enc = new TextEncoder()
const dec = new TextDecoder()

export function encodeKvCommand (c: KvCommand): Uint8Array {
  return enc.encode(JSON.stringify(c))
}

export class KvStateMachine implements StateMachine<KvResult> {
  private data = new Map<string, KvValue>()
  /** the store's revision: the revision of the last successful write */
  revision = 0

  get (key: string): KvValue | undefined {
    return this.data.get(key)
  }

  get size (): number {
    return this.data.size
  }

  apply (command: Uint8Array): KvResult {
    let c: KvCommand
    try {
      c = JSON.parse(dec.decode(command))
    } catch {
      return { ok: false, error: 'bad-command', message: 'not JSON' }
    }
    if (typeof c !== 'object' || c === null || typeof c.key !== 'string') return { ok: false, error: 'bad-command', message: 'key missing' }
    const cur = this.data.get(c.key)
    if (c.ifRevision !== undefined) {
      const actual = cur?.revision ?? 0
      if (actual !== c.ifRevision) return { ok: false, error: 'mismatch', actual }
    }
    if (c.op === 'put') {
      if (typeof c.value !== 'string') return { ok: false, error: 'bad-command', message: 'value missing' }
      this.revision++
      this.data.set(c.key, { value: c.value, revision: this.revision })
      return { ok: true, revision: this.revision }
    }
    if (c.op === 'del') {
      if (cur === undefined) return { ok: false, error: 'not-found' }
      this.revision++
      this.data.delete(c.key)
      return { ok: true, revision: this.revision }
    }
    return { ok: false, error: 'bad-command', message: 'unknown op' }
  }

  snapshot (): Uint8Array {
    const entries = [...this.data.entries()].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0).map(([k, v]) => [k, v.value, v.revision])
    return enc.encode(JSON.stringify({ v: 1, revision: this.revision, entries }))
  }

  restore (bytes: Uint8Array): void {
    const o = JSON.parse(dec.decode(bytes)) as { v: number, revision: number, entries: Array<[string, string, number]> }
    if (o.v !== 1 || !Number.isSafeInteger(o.revision) || !Array.isArray(o.entries)) throw new Error('KV snapshot: unknown format')
    this.data = new Map(o.entries.map(([k, value, revision]) => [k, { value, revision }]))
    this.revision = o.revision
  }
}
