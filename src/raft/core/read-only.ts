/**
 * Pending ReadIndex requests on the leader, each waiting for a quorum of
 * heartbeat acknowledgements carrying its context.
 */
import type { Message } from './message.js'
import type { NodeId } from './types.js'

export interface ReadState {
  /** the commit index the read must wait to be applied */
  index: number
  requestCtx: Uint8Array
}

export interface ReadIndexStatus {
  req: Message
  index: number
  acks: Map<NodeId, boolean>
}

export function ctxKey (ctx: Uint8Array | undefined): string {
  return ctx === undefined ? '' : Buffer.from(ctx).toString('hex')
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>()
  private queue: string[] = []

  addRequest (index: number, m: Message): void {
    const key = ctxKey(m.context)
    if (this.pending.has(key)) return
    this.pending.set(key, { index, req: m, acks: new Map() })
    this.queue.push(key)
  }

  /** records an ack; returns the acks so far, or undefined for an unknown context */
  recvAck (id: NodeId, ctx: Uint8Array | undefined): Map<NodeId, boolean> | undefined {
    const rs = this.pending.get(ctxKey(ctx))
    if (rs === undefined) return undefined
    rs.acks.set(id, true)
    return rs.acks
  }

  /** Dequeues every request up to and including the one with `ctx` (earlier ones are confirmed too). */
  advance (ctx: Uint8Array | undefined): ReadIndexStatus[] {
    const key = ctxKey(ctx)
    const i = this.queue.indexOf(key)
    if (i < 0) return []
    const keys = this.queue.slice(0, i + 1)
    this.queue = this.queue.slice(i + 1)
    const out: ReadIndexStatus[] = []
    for (const k of keys) {
      const rs = this.pending.get(k)
      if (rs === undefined) throw new Error('read-only queue and pending map out of sync')
      this.pending.delete(k)
      out.push(rs)
    }
    return out
  }

  lastPendingRequestCtx (): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined
    return this.pending.get(this.queue[this.queue.length - 1])?.req.context
  }

  size (): number {
    return this.queue.length
  }
}
