/**
 * Yamux window updates at half a window, not after every frame.
 *
 * @libp2p/yamux (8.0.3) answers every data frame it receives with a
 * WindowUpdate frame crediting exactly that frame's bytes. On a mesh of small
 * messages (gossip RPCs, pings, registry syncs) that doubles the frames on
 * the wire: each update is its own Noise-encrypted socket write on the
 * receiver and a read, decrypt and parse on the sender. In a profile of an
 * idle 50-peer mesh a third of all socket writes were these updates
 * (docs/performance.md). hashicorp/yamux, the protocol's reference, sends an
 * update only once the unused part of the receive window has fallen to half
 * of it; this does the same.
 *
 * The sender can still write at least half a window (128 KiB by default)
 * before it needs credit, so no stream waits for an update it would have had
 * before. Frames carrying flags (SYN/ACK on a new stream) and paused
 * streams go through yamux's own logic unchanged.
 */
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'

/** the fields this reads; private in yamux's types, plain properties at run time */
interface WindowFields {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
}

let applied = false

/** install once per process (idempotent) */
export function deferYamuxWindowUpdates (): void {
  if (applied) return
  applied = true
  const proto = YamuxStream.prototype as unknown as WindowFields & { sendWindowUpdate: () => void }
  const sendWindowUpdate = proto.sendWindowUpdate
  if (typeof sendWindowUpdate !== 'function') throw new Error('@libp2p/yamux: YamuxStream.sendWindowUpdate not found (yamux changed; see src/node/yamux-window.ts)')
  proto.sendWindowUpdate = function (this: WindowFields & { sendWindowUpdate: () => void }): void {
    if (this.state === StreamState.Established && this.recvWindowCapacity > this.recvWindow / 2) return
    sendWindowUpdate.call(this)
  }
}
