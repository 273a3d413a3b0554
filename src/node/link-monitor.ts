import { AdaptiveTimeout } from '@libp2p/utils'
import { muxerOf, muxerPing } from '../latency/muxer-ping.js'
import type { Logger } from '../telemetry/index.js'
import type { Connection, Libp2p } from '@libp2p/interface'

export interface LinkMonitorInit {
  /** how often every connection is checked (default 15 s) */
  intervalMs?: number
  /** adaptive ping timeout bounds (default 10 s .. 60 s, as libp2p's monitor) */
  minTimeoutMs?: number
  maxTimeoutMs?: number
}

/**
 * Notices dead links, like libp2p's connection monitor (which this replaces:
 * it is turned off in libp2p.ts), but with the muxer's own PING frame
 * instead of an `/ipfs/ping` stream per connection per round. A stream costs
 * a yamux SYN/FIN, a multistream-select exchange and, on both sides, a
 * peer-store read and write (libp2p records the protocol of every stream
 * opened): on an idle peer these pings were most of the remaining work. A
 * ping that times out aborts the connection (a silent partition is noticed
 * only this way; self-healing counts its grace from the lost connection).
 * Connections whose muxer cannot ping are left alone.
 */
export class LinkMonitor {
  private readonly libp2p: Libp2p
  private readonly log: Logger
  private readonly intervalMs: number
  private readonly timeout: AdaptiveTimeout
  private timer?: ReturnType<typeof setInterval>
  private shutdown = new AbortController()

  constructor (libp2p: Libp2p, log: Logger, init: LinkMonitorInit = {}) {
    this.libp2p = libp2p
    this.log = log
    this.intervalMs = init.intervalMs ?? 15_000
    this.timeout = new AdaptiveTimeout({ minTimeout: init.minTimeoutMs ?? 10_000, maxTimeout: init.maxTimeoutMs ?? 60_000 })
  }

  start (): void {
    if (this.timer != null) return
    this.shutdown = new AbortController()
    this.timer = setInterval(() => { this.round() }, this.intervalMs)
    this.timer.unref?.()
  }

  stop (): void {
    if (this.timer == null) return
    clearInterval(this.timer)
    this.timer = undefined
    this.shutdown.abort()
  }

  /** one check of every open connection (also called by tests) */
  round (): void {
    for (const conn of this.libp2p.getConnections()) {
      if (muxerOf(conn) === undefined || conn.status !== 'open') continue
      this.check(conn).catch((err: Error) => {
        if (this.shutdown.signal.aborted) return
        this.log.info({ peer: conn.remotePeer.toString(), err: err.message }, 'link ping failed, closing the connection')
        conn.abort(err)
      })
    }
  }

  private async check (conn: Connection): Promise<void> {
    const signal = this.timeout.getTimeoutSignal({ signal: this.shutdown.signal })
    try {
      const rtt = await muxerPing(conn, { signal })
      if (rtt !== undefined) conn.rtt = rtt
    } finally {
      this.timeout.cleanUp(signal)
    }
  }
}
