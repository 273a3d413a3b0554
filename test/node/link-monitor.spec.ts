import assert from 'node:assert/strict'
import { pino } from 'pino'
import { muxerPing } from '../../src/latency/muxer-ping.js'
import { LinkMonitor } from '../../src/node/link-monitor.js'
import { bareNode } from '../helpers/libp2p.js'
import { waitFor } from '../helpers/wait.js'
import type { Connection, Libp2p } from '@libp2p/interface'

const silent = pino({ level: 'silent' })

/** a connection whose muxer answers pings after `answerMs` (never if null) */
function fakeConnection (answerMs: number | null): Connection & { aborted?: Error, pings: number } {
  const conn = {
    status: 'open',
    remotePeer: { toString: () => 'fake-peer' },
    pings: 0,
    aborted: undefined as Error | undefined,
    rtt: undefined as number | undefined,
    abort (err: Error) { this.aborted = err; this.status = 'closed' },
    muxer: {
      ping: async () => {
        conn.pings++
        if (answerMs === null) return await new Promise<number>(() => {})
        return await new Promise<number>(resolve => setTimeout(() => { resolve(answerMs) }, answerMs))
      }
    }
  }
  return conn as unknown as Connection & { aborted?: Error, pings: number }
}

describe('node/link-monitor', function () {
  this.timeout(20_000)

  it('measures a real connection with the muxer PING frame, opening no stream', async () => {
    const a = await bareNode()
    const b = await bareNode()
    try {
      const conn = await a.dial(b.getMultiaddrs()[0])
      const rtt = await muxerPing(conn, { signal: AbortSignal.timeout(5_000) })
      assert.equal(typeof rtt, 'number')
      assert.ok((rtt as number) >= 0 && (rtt as number) < 5_000, `rtt ${rtt}`)
      const monitor = new LinkMonitor(a, silent, { intervalMs: 60_000 })
      monitor.start()
      try {
        conn.rtt = undefined
        monitor.round()
        await waitFor('the monitor to record an RTT', () => conn.rtt !== undefined, { timeoutMs: 5_000, intervalMs: 10 })
      } finally {
        monitor.stop()
      }
      assert.equal(conn.status, 'open')
      // no /ipfs/ping (or any) stream on either side
      assert.equal(conn.streams.length, 0)
      assert.equal(b.getConnections(a.peerId)[0]?.streams.length ?? 0, 0)
    } finally {
      await a.stop()
      await b.stop()
    }
  })

  it('aborts a connection whose muxer does not answer within the timeout, keeps one that answers', async () => {
    const dead = fakeConnection(null)
    const alive = fakeConnection(5)
    const fake = { getConnections: () => [dead, alive] }
    const monitor = new LinkMonitor(fake as unknown as Libp2p, silent, { intervalMs: 60_000, minTimeoutMs: 100, maxTimeoutMs: 200 })
    monitor.start()
    try {
      monitor.round()
      await waitFor('the dead link to be aborted', () => dead.aborted !== undefined, { timeoutMs: 5_000, intervalMs: 10 })
      assert.equal(alive.aborted, undefined)
      assert.equal(alive.rtt, 5)
      // a closed connection is not pinged again
      const pings = dead.pings
      monitor.round()
      assert.equal(dead.pings, pings)
    } finally {
      monitor.stop()
    }
  })

  it('stop() settles pending checks without aborting their connections', async () => {
    const dead = fakeConnection(null)
    const monitor = new LinkMonitor({ getConnections: () => [dead] } as unknown as Libp2p, silent, { intervalMs: 60_000, minTimeoutMs: 100, maxTimeoutMs: 200 })
    monitor.start()
    monitor.round()
    monitor.stop()
    await new Promise(resolve => setTimeout(resolve, 300))
    assert.equal(dead.aborted, undefined)
  })

  it('a connection whose muxer cannot ping is left alone', async () => {
    const conn = { status: 'open', remotePeer: { toString: () => 'x' }, abort: () => { throw new Error('must not abort') } }
    assert.equal(await muxerPing(conn as unknown as Connection), undefined)
    const monitor = new LinkMonitor({ getConnections: () => [conn] } as unknown as Libp2p, silent, { intervalMs: 60_000 })
    monitor.start()
    monitor.round()
    monitor.stop()
  })
})
