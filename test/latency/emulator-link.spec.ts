import assert from 'node:assert/strict'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { encodePreamble, PreambleError, PreambleTimeoutError } from '../../src/latency/emulator/index.js'
import { EmulatedLinkConnection } from '../../src/latency/emulator/link-connection.js'
import { waitFor } from '../helpers/wait.js'
import { FakeClock } from './emulator-fake-clock.js'
import type { LinkOptions } from '../../src/latency/emulator/link-connection.js'
import type { MultiaddrConnection } from '@libp2p/interface'

/** let the in-memory pair deliver what is in flight (it hops through the event loop) */
async function settle (rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise(resolve => setTimeout(resolve, 0))
}

function collect (conn: MultiaddrConnection): Uint8ArrayList {
  const got = new Uint8ArrayList()
  conn.addEventListener('message', evt => { got.append(evt.data) })
  return got
}

function options (clock: FakeClock, over: Partial<LinkOptions> = {}): LinkOptions {
  return {
    localRegion: 'a',
    oneWayDelayMs: (remote) => remote === 'b' ? 20 : 0,
    jitter: () => 0,
    scheduler: clock,
    handshakeTimeoutMs: 1_000,
    maxQueuedBytes: 1 << 20,
    ...over
  }
}

describe('latency/emulator: EmulatedLinkConnection over an in-memory connection (fake clock)', () => {
  const open: MultiaddrConnection[] = []
  afterEach(() => {
    for (const c of open.splice(0)) c.abort(new Error('test over'))
  })

  function pair (): [MultiaddrConnection, MultiaddrConnection] {
    const p = multiaddrConnectionPair()
    open.push(...p)
    return p
  }

  it('passes bytes that follow the remote preamble in the same chunk up unchanged', async () => {
    const clock = new FakeClock()
    const [local, remote] = pair()
    const atRemote = collect(remote)
    const opening = EmulatedLinkConnection.open(local, options(clock))
    remote.send(new Uint8ArrayList(encodePreamble('b'), Uint8Array.of(1, 2, 3)))
    const link = await opening
    open.push(link)
    assert.equal(link.remoteRegion, 'b')
    assert.equal(link.oneWayDelayMs, 20)
    const up = collect(link)
    await waitFor('the trailing bytes', () => up.byteLength === 3, { timeoutMs: 2_000, intervalMs: 0 })
    assert.deepEqual(up.subarray(), Uint8Array.of(1, 2, 3))
    await waitFor('our preamble', () => atRemote.byteLength === encodePreamble('a').byteLength, { timeoutMs: 2_000, intervalMs: 0 })
    assert.deepEqual(atRemote.subarray(), encodePreamble('a'))
    assert.equal(clock.pending, 0, 'the handshake timer was cleared')
  })

  it('delays outbound bytes by the one-way delay, in order, and close() waits for them', async () => {
    const clock = new FakeClock()
    const [local, remote] = pair()
    const atRemote = collect(remote)
    const opening = EmulatedLinkConnection.open(local, options(clock))
    remote.send(encodePreamble('b'))
    const link = await opening
    open.push(link)
    await waitFor('our preamble', () => atRemote.byteLength > 0, { timeoutMs: 2_000, intervalMs: 0 })
    atRemote.consume(atRemote.byteLength)

    link.send(Uint8Array.of(1))
    clock.advance(10)
    link.send(Uint8Array.of(2))
    await settle()
    assert.equal(atRemote.byteLength, 0, 'nothing before the delay')
    clock.advance(9)
    await settle()
    assert.equal(atRemote.byteLength, 0, 'nothing at 19 ms')
    clock.advance(1)
    await waitFor('the first byte at 20 ms', () => atRemote.byteLength === 1, { timeoutMs: 2_000, intervalMs: 0 })
    let closed = false
    const closing = link.close().then(() => { closed = true })
    await settle()
    assert.equal(closed, false, 'close waits for the delayed byte')
    clock.advance(10)
    await waitFor('the second byte at 30 ms', () => atRemote.byteLength === 2, { timeoutMs: 2_000, intervalMs: 0 })
    assert.deepEqual(atRemote.subarray(), Uint8Array.of(1, 2))
    await closing
    assert.equal(link.status, 'closed')
  })

  it('abort() drops delayed bytes and cancels the timer', async () => {
    const clock = new FakeClock()
    const [local, remote] = pair()
    const atRemote = collect(remote)
    const opening = EmulatedLinkConnection.open(local, options(clock))
    remote.send(encodePreamble('b'))
    const link = await opening
    await waitFor('our preamble', () => atRemote.byteLength > 0, { timeoutMs: 2_000, intervalMs: 0 })
    atRemote.consume(atRemote.byteLength)
    link.send(Uint8Array.of(7))
    assert.equal(clock.pending, 1)
    link.abort(new Error('bye'))
    assert.equal(clock.pending, 0)
    clock.advance(100)
    await settle()
    assert.equal(atRemote.byteLength, 0)
    assert.equal(local.status, 'aborted')
  })

  it('reports backpressure above maxQueuedBytes and drains when the queue empties', async () => {
    const clock = new FakeClock()
    const [local, remote] = pair()
    collect(remote)
    const opening = EmulatedLinkConnection.open(local, options(clock, { maxQueuedBytes: 100 }))
    remote.send(encodePreamble('b'))
    const link = await opening
    open.push(link)
    assert.equal(link.send(new Uint8Array(60)), true)
    assert.equal(link.send(new Uint8Array(60)), false, 'over the limit')
    let drained = false
    const draining = link.onDrain().then(() => { drained = true })
    await settle()
    assert.equal(drained, false)
    clock.advance(20)
    await draining
    assert.equal(drained, true)
  })

  it('rejects and aborts the raw connection on a bad preamble', async () => {
    const clock = new FakeClock()
    const [local, remote] = pair()
    const opening = EmulatedLinkConnection.open(local, options(clock))
    remote.send(new TextEncoder().encode('SSH-2.0-OpenSSH_9.6\r\n'))
    await assert.rejects(opening, (err: unknown) => err instanceof PreambleError && err.reason === 'BAD_MAGIC')
    assert.equal(local.status, 'aborted')
    assert.equal(clock.pending, 0)
  })

  it('times out a silent remote', async () => {
    const clock = new FakeClock()
    const [local] = pair()
    const opening = EmulatedLinkConnection.open(local, options(clock, { handshakeTimeoutMs: 500 }))
    await settle()
    clock.advance(499)
    await settle()
    clock.advance(1)
    await assert.rejects(opening, PreambleTimeoutError)
    assert.equal(local.status, 'aborted')
  })

  it('fails when the upgrade is aborted or the remote closes mid-preamble', async () => {
    const clock = new FakeClock()
    const ac = new AbortController()
    const [local, remote] = pair()
    const opening = EmulatedLinkConnection.open(local, options(clock), { signal: ac.signal })
    remote.send(encodePreamble('b').subarray(0, 3))
    await settle()
    ac.abort()
    await assert.rejects(opening, { name: 'PreambleAbortedError' })

    const [local2, remote2] = pair()
    const opening2 = EmulatedLinkConnection.open(local2, options(clock))
    remote2.abort(new Error('gone'))
    await assert.rejects(opening2)
    assert.equal(clock.pending, 0)
  })
})
