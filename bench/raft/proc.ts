/**
 * A forked benchmark member driven over IPC: `call(op, ...args)` sends
 * `{ id, op, args }` and resolves with the child's `{ id, ok, result }`
 * (rejects with its `message`). Shared by bench/raft/kv.ts and idle.ts.
 */
import type { ChildProcess } from 'node:child_process'

export class Proc {
  private seq = 0
  private readonly pending = new Map<number, (m: { ok: boolean, result?: unknown, message?: string }) => void>()
  constructor (readonly child: ChildProcess) {
    child.on('message', (m: { id?: number, ok: boolean, result?: unknown, message?: string }) => {
      if (m.id === undefined) return
      this.pending.get(m.id)?.(m)
      this.pending.delete(m.id)
    })
  }

  async call<T> (op: string, ...a: unknown[]): Promise<T> {
    const id = this.seq++
    const r = await new Promise<{ ok: boolean, result?: unknown, message?: string }>(resolve => { this.pending.set(id, resolve); this.child.send({ id, op, args: a }) })
    if (!r.ok) throw new Error(r.message)
    return r.result as T
  }
}
