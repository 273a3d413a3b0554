/**
 * EmulatedLinkConnection: a MultiaddrConnection layered over the raw TCP one.
 *
 * - Opening: both sides write their preamble (region) immediately, then read
 *   the remote's. Bytes after the remote preamble are the start of the libp2p
 *   upgrade and are passed up unchanged. A malformed preamble, a timeout, or a
 *   close before the exchange finishes aborts the raw connection.
 * - Open: every byte this side sends goes through a DelayQueue with the
 *   one-way delay for (local region -> remote region), plus seeded jitter.
 *   Inbound bytes are passed up at once (the remote delayed them already).
 * - Backpressure: `send()` reports "full" when the delay queue holds more than
 *   `maxQueuedBytes` or the raw socket is full; 'drain' follows when both have
 *   room again. Closing waits for the queue to empty (so the FIN is delayed
 *   like the data); abort drops the queue.
 * - Faults (faults.ts): while a "block" rule covers (local site -> remote
 *   site), sent bytes are held, not delivered; they join the delay queue in
 *   order when the rule goes. Holding more than `maxQueuedBytes`, or for
 *   longer than the rule's `resetAfterMs`, resets the connection. "delay"
 *   rules add to the one-way delay of later writes.
 */
import { AbstractMultiaddrConnection } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { DelayQueue } from './delay-queue.js'
import { LinkFaultResetError, PreambleAbortedError, PreambleTimeoutError } from './errors.js'
import { decodePreamble, encodePreamble, MAX_PREAMBLE_BYTES } from './preamble.js'
import type { Scheduler } from './delay-queue.js'
import type { LinkFaults, LinkFaultState } from './faults.js'
import type { JitterSource } from './jitter.js'
import type { AbortOptions, MultiaddrConnection, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import type { SendResult } from '@libp2p/utils'

export interface LinkOptions {
  localRegion: string
  /** this side's site for link faults (default: the region) */
  localSite?: string
  /** the fault rules in force; none when absent */
  faults?: LinkFaults
  /** one-way delay (ms) for bytes from the local region to `remoteRegion` */
  oneWayDelayMs(remoteRegion: string): number
  jitter: JitterSource
  scheduler: Scheduler
  handshakeTimeoutMs: number
  /** delayed bytes held before send() reports backpressure */
  maxQueuedBytes: number
}

type Phase = 'preamble' | 'open' | 'failed'

interface Deferred { promise: Promise<void>, resolve(): void, reject(err: Error): void }

function deferred (): Deferred {
  let resolve!: () => void
  let reject!: (err: Error) => void
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

export class EmulatedLinkConnection extends AbstractMultiaddrConnection {
  /** the remote's region, known once open() resolved */
  remoteRegion = ''
  /** the remote's site (its region unless it sent one) */
  remoteSite = ''
  /** base one-way delay applied to this side's outbound bytes */
  oneWayDelayMs = 0

  private readonly inner: MultiaddrConnection
  private readonly opts: LinkOptions
  private readonly queue: DelayQueue<Uint8ArrayList>
  private phase: Phase = 'preamble'
  private readonly preamble = new Uint8ArrayList()
  private readonly opened: Deferred
  private fault: LinkFaultState = { blocked: false, resetAfterMs: 0, extraDelayMs: 0 }
  private held: Uint8ArrayList[] = []
  private heldBytes = 0
  private resetTimer: unknown
  private unsubscribeFaults?: () => void
  private unblockWaiters: Deferred[] = []

  /**
   * Exchange preambles over `inner` and resolve with the emulated connection.
   * On any failure the raw connection is aborted and the error rethrown.
   */
  static async open (inner: MultiaddrConnection, opts: LinkOptions, options: AbortOptions = {}): Promise<EmulatedLinkConnection> {
    const link = new EmulatedLinkConnection(inner, opts)
    await link.handshake(options)
    return link
  }

  private constructor (inner: MultiaddrConnection, opts: LinkOptions) {
    super({
      remoteAddr: inner.remoteAddr,
      direction: inner.direction,
      log: inner.log.newScope('emulated-link'),
      inactivityTimeout: inner.inactivityTimeout
    })
    this.inner = inner
    this.opts = opts
    this.opened = deferred()
    this.queue = new DelayQueue<Uint8ArrayList>({
      scheduler: opts.scheduler,
      sizeOf: buf => buf.byteLength,
      deliver: buf => this.deliver(buf),
      onDelivered: () => { this.maybeDrain() }
    })
    // a rejection nobody awaits yet (e.g. close during construction) must not crash the process
    this.opened.promise.catch(() => {})
    inner.addEventListener('message', this.onInnerMessage)
    inner.addEventListener('close', this.onInnerClose)
    inner.addEventListener('drain', this.onInnerDrain)
    inner.addEventListener('remoteCloseWrite', this.onInnerRemoteCloseWrite)
  }

  private async handshake (options: AbortOptions): Promise<void> {
    const { scheduler, handshakeTimeoutMs } = this.opts
    const timer = scheduler.setTimeout(() => { this.fail(new PreambleTimeoutError(handshakeTimeoutMs)) }, handshakeTimeoutMs)
    const onAbort = (): void => { this.fail(new PreambleAbortedError('connection upgrade aborted during the preamble exchange')) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      if (options.signal?.aborted === true) {
        onAbort()
      } else {
        try {
          this.inner.send(encodePreamble(this.opts.localRegion, this.opts.localSite ?? this.opts.localRegion))
        } catch (err) {
          this.fail(err as Error)
        }
      }
      await this.opened.promise
    } finally {
      scheduler.clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  private fail (err: Error): void {
    if (this.phase !== 'preamble') return
    this.phase = 'failed'
    this.detach()
    this.dropFaultState(err)
    this.queue.clear()
    this.inner.abort(err)
    this.opened.reject(err)
  }

  private detach (): void {
    this.inner.removeEventListener('message', this.onInnerMessage)
    this.inner.removeEventListener('close', this.onInnerClose)
    this.inner.removeEventListener('drain', this.onInnerDrain)
    this.inner.removeEventListener('remoteCloseWrite', this.onInnerRemoteCloseWrite)
  }

  private readonly onInnerMessage = (evt: StreamMessageEvent): void => {
    if (this.phase === 'open') {
      this.onData(evt.data)
      return
    }
    if (this.phase !== 'preamble') return
    this.preamble.append(evt.data)
    let decoded
    try {
      decoded = decodePreamble(this.preamble.subarray(0, Math.min(this.preamble.byteLength, MAX_PREAMBLE_BYTES)))
    } catch (err) {
      this.fail(err as Error)
      return
    }
    if (!decoded.done) return
    this.remoteRegion = decoded.region
    this.remoteSite = decoded.site
    this.oneWayDelayMs = this.opts.oneWayDelayMs(decoded.region)
    this.phase = 'open'
    const faults = this.opts.faults
    if (faults != null) {
      this.unsubscribeFaults = faults.subscribe(this.onFaultsChanged)
      this.onFaultsChanged()
    }
    const rest = this.preamble.sublist(decoded.consumed)
    this.preamble.consume(this.preamble.byteLength)
    if (rest.byteLength > 0) this.onData(rest)
    this.opened.resolve()
  }

  private readonly onInnerClose = (evt: StreamCloseEvent): void => {
    if (this.phase === 'preamble') {
      this.fail(evt.error ?? new PreambleAbortedError())
      return
    }
    this.detach()
    this.dropFaultState(evt.error ?? new PreambleAbortedError('connection closed'))
    this.queue.clear()
    this.onTransportClosed(evt.error)
  }

  /** The rules changed (or the link just opened): hold, release or re-time this side's bytes. */
  private readonly onFaultsChanged = (): void => {
    const faults = this.opts.faults
    if (faults == null || this.phase !== 'open' || this.queue.closed) return
    const was = this.fault.blocked
    this.fault = faults.state(this.opts.localSite ?? this.opts.localRegion, this.remoteSite)
    if (this.fault.blocked && !was) {
      const { resetAfterMs } = this.fault
      this.resetTimer = this.opts.scheduler.setTimeout(() => {
        this.resetTimer = undefined
        this.abort(new LinkFaultResetError(`link to site ${this.remoteSite} blocked for ${resetAfterMs} ms: connection reset`))
      }, resetAfterMs)
    } else if (!this.fault.blocked && was) {
      this.clearResetTimer()
      const held = this.held
      this.held = []
      this.heldBytes = 0
      for (const buf of held) this.queue.push(buf, this.delayMs())
      const waiters = this.unblockWaiters
      this.unblockWaiters = []
      for (const w of waiters) w.resolve()
      this.maybeDrain()
    }
  }

  private clearResetTimer (): void {
    if (this.resetTimer === undefined) return
    this.opts.scheduler.clearTimeout(this.resetTimer)
    this.resetTimer = undefined
  }

  /** Closing or closed: forget the rules, drop held bytes, fail whoever waits for a heal. */
  private dropFaultState (err: Error): void {
    this.unsubscribeFaults?.()
    this.unsubscribeFaults = undefined
    this.clearResetTimer()
    this.held = []
    this.heldBytes = 0
    const waiters = this.unblockWaiters
    this.unblockWaiters = []
    for (const w of waiters) w.reject(err)
  }

  private delayMs (): number {
    return this.oneWayDelayMs + this.fault.extraDelayMs + this.opts.jitter()
  }

  private readonly onInnerDrain = (): void => {
    this.queue.resume()
    this.maybeDrain()
  }

  private readonly onInnerRemoteCloseWrite = (): void => {
    this.onRemoteCloseWrite()
  }

  private deliver (buf: Uint8ArrayList): boolean {
    try {
      return this.inner.send(buf)
    } catch (err) {
      this.abort(err as Error)
      return false
    }
  }

  private hasRoom (): boolean {
    return !this.queue.blocked && this.queue.queuedBytes + this.heldBytes < this.opts.maxQueuedBytes
  }

  private maybeDrain (): void {
    if (this.writableNeedsDrain && this.hasRoom()) this.safeDispatchEvent('drain')
  }

  sendData (data: Uint8ArrayList): SendResult {
    const sentBytes = data.byteLength
    if (this.fault.blocked) {
      this.held.push(data)
      this.heldBytes += sentBytes
      if (this.heldBytes > this.opts.maxQueuedBytes) {
        const held = this.heldBytes
        queueMicrotask(() => { this.abort(new LinkFaultResetError(`link to site ${this.remoteSite} blocked with ${held} bytes held: connection reset`)) })
      }
      return { sentBytes, canSendMore: this.hasRoom() }
    }
    this.queue.push(data, this.delayMs())
    return { sentBytes, canSendMore: this.hasRoom() }
  }

  sendReset (err: Error): void {
    this.dropFaultState(err)
    this.queue.clear()
    this.inner.abort(err)
  }

  sendPause (): void {
    this.inner.pause()
  }

  sendResume (): void {
    this.inner.resume()
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    if (this.fault.blocked) {
      // the FIN waits behind the held bytes, as on a partitioned TCP link
      const waiter = deferred()
      this.unblockWaiters.push(waiter)
      const onAbort = (): void => { waiter.reject(options?.signal?.reason ?? new PreambleAbortedError('close aborted')) }
      options?.signal?.addEventListener('abort', onAbort, { once: true })
      try {
        await waiter.promise
      } finally {
        options?.signal?.removeEventListener('abort', onAbort)
      }
    }
    await this.queue.whenEmpty(options)
    await this.inner.close(options)
  }
}
