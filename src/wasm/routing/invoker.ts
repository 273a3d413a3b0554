/**
 * Runs an invocation here when this peer has room, else forwards it over
 * /dcis/invoke/1.0.0 to the nearest capable peer (registry candidates whose
 * END lists the function's abi, ordered by measured RTT; connected peers
 * otherwise). The receiving peer fetches the module by CID over bitswap if
 * it lacks it, and never forwards again (one hop).
 */
import { dialPeer } from '../../registry/dial.js'
import { lpStream } from '@libp2p/utils'
import { parseModule } from '../binary.js'
import { InputTooLargeError, OverloadedError } from '../errors.js'
import { parseModuleCid } from '../store/cid.js'
import { UnknownFunctionError } from '../store/errors.js'
import { decodeRequestHeader, decodeResponseHeader, encodeHeader, MAX_HEADER_BYTES } from './frames.js'
import { ForwardFailedError, InvalidInvokeFrameError, InvokeForbiddenError, NoCapablePeerError, RemoteFunctionError } from './errors.js'
import { functionAttr, incomingTrace, inSpan, isOtherDomain, ownDomainTag, peerAttr, SpanKind, traceFields } from '../../telemetry/tracing/spans.js'
import type { FunctionInvoker, InvokeOutcome, InvokerComponents, InvokerInit, InvokeRequestOptions, ResolvedFunction } from './index.js'
import type { InvokeResponseHeader } from './frames.js'
import type { Stream } from '@libp2p/interface'

export const INVOKE_PROTOCOL = '/dcis/invoke/1.0.0'
const DEFAULT_MAX_INPUT = 16 * 1024 * 1024
const DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024

/** errors that say nothing about the function version (not counted in rollout figures) */
const NOT_THE_FUNCTIONS_FAULT = new Set(['OverloadedError', 'RuntimeStoppedError', 'AbortError', 'InputTooLargeError'])

/** errors after which the next candidate is tried (the peer could not take it; the function did not fail) */
const RETRYABLE = new Set(['OverloadedError', 'PeerOverloadedError', 'RuntimeStoppedError', 'ModuleUnavailableError', 'ForwardFailedError', 'WorkerCrashedError'])

function errorInfo (err: unknown): { name: string, code: string, message: string } {
  const e = err as { name?: unknown, code?: unknown, message?: unknown }
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    code: typeof e.code === 'string' ? e.code : 'INTERNAL',
    message: typeof e.message === 'string' ? e.message.slice(0, 1000) : 'error'
  }
}

export class DefaultFunctionInvoker implements FunctionInvoker {
  private readonly c: InvokerComponents
  private readonly selfId: string
  private readonly maxInput: number
  private readonly maxOutput: number
  private readonly callTimeoutMs: number
  private readonly maxAttempts: number
  private readonly localExecution: boolean
  private readonly forwarding: boolean
  private readonly shutdown = new AbortController()
  private started = false
  /**
   * calls routed here that the runtime has not counted yet, per function id
   * (empty between bursts): between the room check and `runtime.invoke` the
   * module may still be loading, and a burst's second call must not see the
   * same free worker (it was refused as overloaded instead of going to
   * another peer)
   */
  private readonly claims = new Map<string, number>()

  constructor (components: InvokerComponents, init: InvokerInit = {}) {
    this.c = components
    this.selfId = components.libp2p.peerId.toString()
    this.maxInput = init.maxInputBytes ?? DEFAULT_MAX_INPUT
    this.maxOutput = init.maxOutputBytes ?? DEFAULT_MAX_OUTPUT
    this.callTimeoutMs = init.callTimeoutMs ?? 30_000
    this.maxAttempts = init.maxForwardAttempts ?? 2
    this.localExecution = init.localExecution ?? true
    this.forwarding = init.forward ?? true
  }

  get peerId (): string {
    return this.selfId
  }

  async start (): Promise<void> {
    if (this.started) return
    await this.c.libp2p.handle(INVOKE_PROTOCOL, async (stream, connection) => {
      await this.serve(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 64, runOnLimitedConnection: true })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.shutdown.abort()
    await this.c.libp2p.unhandle(INVOKE_PROTOCOL).catch(() => {})
  }

  /** A name or CID this peer knows; an unknown CID is fetched and its abi read from its exports. */
  async resolve (ref: string, options: InvokeRequestOptions = {}): Promise<ResolvedFunction> {
    const known = this.c.store.resolve(ref)
    if (known != null) {
      const v = known.version
      return { id: v.id, name: known.name, spec: { abi: v.abi, limits: v.limits, env: v.env, grants: v.grants, warmPoolSize: v.warmPoolSize } }
    }
    const cid = parseModuleCid(ref)
    if (cid == null) throw new UnknownFunctionError(ref)
    const bytes = await this.c.store.bytesOf(ref, options)
    const exports = parseModule(bytes).exports
    const abi = exports.some(e => e.name === 'handle_event' && e.kind === 'func') ? 'reactor' : 'wasi'
    return { id: ref, name: ref.slice(-16), spec: { abi } }
  }

  async invoke (ref: string, input: Uint8Array, options: InvokeRequestOptions = {}): Promise<InvokeOutcome> {
    return await inSpan('dcis.invoke', { attributes: { 'dcis.function.ref': ref.slice(0, 128) } }, async (span) => {
      const out = await this.route(ref, input, options)
      span.setAttributes({ 'dcis.function.name': out.name, 'dcis.function.id': out.id, 'dcis.invoke.forwarded': out.forwardedTo != null })
      return out
    })
  }

  private async route (ref: string, input: Uint8Array, options: InvokeRequestOptions): Promise<InvokeOutcome> {
    const fn = await this.resolve(ref, options)
    const maxIn = Math.min(this.maxInput, fn.spec.limits?.maxInputBytes ?? Infinity)
    if (input.byteLength > maxIn) throw new InputTooLargeError(input.byteLength, maxIn)
    if (this.localExecution && this.hasRoomFor(fn.id)) return await this.runLocal(fn, input, options, 'local', false, this.claim(fn.id))
    const tried: string[] = []
    let lastErr: unknown
    if (this.forwarding) {
      for (const peer of this.candidates(fn.spec.abi).slice(0, this.maxAttempts)) {
        tried.push(peer)
        try {
          const out = await this.forward(peer, fn, input, options)
          this.c.metrics?.routed.inc({ where: 'forwarded', outcome: 'ok' })
          return out
        } catch (err) {
          lastErr = err
          if (options.signal?.aborted === true || !RETRYABLE.has((err as Error).name)) {
            this.c.metrics?.routed.inc({ where: 'forwarded', outcome: 'error' })
            throw err
          }
          this.c.logger?.debug({ peer, err: (err as Error).message }, 'forward refused, trying the next candidate')
        }
      }
    }
    // nobody else took it: queue here (or get this runtime's overload error)
    if (this.localExecution) return await this.runLocal(fn, input, options, 'local')
    throw new NoCapablePeerError(`no peer could run ${fn.name} (tried ${tried.length === 0 ? 'none' : tried.join(', ')})`, { cause: lastErr })
  }

  /** Runs here, loading the module first if needed (fetched by CID over bitswap when absent). */
  async runLocal (fn: ResolvedFunction, input: Uint8Array, options: InvokeRequestOptions, where: 'local' | 'served', crossed = false, release?: () => void): Promise<InvokeOutcome> {
    return await inSpan('dcis.invoke.run', { attributes: { 'dcis.function.name': functionAttr(fn.name, crossed), 'dcis.invoke.where': where } }, async (span) => {
      const out = await this.runHere(fn, input, options, where, release)
      span.setAttributes({ 'dcis.invoke.cold_start': out.coldStart, 'dcis.invoke.duration_ms': out.durationMs })
      return out
    })
  }

  private async runHere (fn: ResolvedFunction, input: Uint8Array, options: InvokeRequestOptions, where: 'local' | 'served', release: () => void = () => {}): Promise<InvokeOutcome> {
    try {
      return await this.runClaimed(fn, input, options, where, release)
    } finally {
      release()
    }
  }

  private async runClaimed (fn: ResolvedFunction, input: Uint8Array, options: InvokeRequestOptions, where: 'local' | 'served', release: () => void): Promise<InvokeOutcome> {
    if (this.c.mayServe != null && !this.c.mayServe(fn.id, fn.name)) {
      // a canary runs only inside its cohort (refused here: the caller tries another peer)
      this.c.metrics?.routed.inc({ where, outcome: 'error' })
      throw new OverloadedError('peer', `${fn.id} is a canary of ${fn.name} and this peer is outside its cohort`)
    }
    try {
      const loadedNow = await this.c.store.ensureLoaded({ id: fn.id, name: fn.name, ...fn.spec }, options)
      let r
      const t0 = performance.now()
      try {
        // the grants of the name invoked (two names with the same bytes keep their own)
        const running = this.c.runtime.invoke(fn.id, input, { grants: (fn.spec.grants ?? {}) as Record<string, unknown>, ...(options.signal != null ? { signal: options.signal } : {}), ...(options.caller != null ? { caller: options.caller } : {}), ...(options.token != null ? { token: options.token } : {}) })
        // the runtime counted the call (running or queued) before invoke returned
        release()
        r = await running
      } catch (err) {
        // the function's own failures count against its version; refusals (overload, shutdown, the caller's abort) do not
        if (!NOT_THE_FUNCTIONS_FAULT.has((err as Error).name) && options.signal?.aborted !== true) this.c.observe?.(fn.name, fn.id, performance.now() - t0, false)
        throw err
      }
      this.c.observe?.(fn.name, fn.id, r.durationMs, true)
      this.c.metrics?.routed.inc({ where, outcome: 'ok' })
      return { output: r.output, ranOn: this.selfId, durationMs: r.durationMs, coldStart: r.coldStart || loadedNow, id: fn.id, name: fn.name }
    } catch (err) {
      this.c.metrics?.routed.inc({ where, outcome: 'error' })
      throw err
    }
  }

  private hasRoomFor (id: string): boolean {
    const cap = this.c.runtime.capacity(id)
    const mine = this.claims.get(id) ?? 0
    let claimed = 0
    for (const n of this.claims.values()) claimed += n
    // no claim pending: the runtime's own answer, as before
    if (cap.state === 'now') return claimed === 0 || ((cap.function == null || cap.function.inflight + mine < cap.function.maxConcurrency) && cap.idleWorkers > claimed)
    if (cap.state === 'unknown') return cap.idleWorkers > claimed
    return false
  }

  /** counts a call routed here until the runtime has it; the returned release runs once */
  private claim (id: string): () => void {
    this.claims.set(id, (this.claims.get(id) ?? 0) + 1)
    let done = false
    return () => {
      if (done) return
      done = true
      const n = (this.claims.get(id) ?? 1) - 1
      if (n <= 0) this.claims.delete(id)
      else this.claims.set(id, n)
    }
  }

  /** peers to forward to, nearest first */
  candidates (abi: string): string[] {
    const rtt = (p: string): number => this.c.rttMs?.(p) ?? Number.POSITIVE_INFINITY
    const byRtt = (a: string, b: string): number => (rtt(a) - rtt(b)) || a.localeCompare(b)
    const entries = (this.c.candidates?.() ?? []).filter(e => e.peerId !== this.selfId)
    if (entries.length > 0) {
      // the registry knows who runs what: only peers whose END lists the abi
      return [...new Set(entries.filter(e => e.runtimes.includes(abi)).map(e => e.peerId))].sort(byRtt)
    }
    // no registry view yet: any connected peer may try (it refuses what it cannot run)
    return this.c.libp2p.getPeers().map(p => p.toString()).filter(p => p !== this.selfId).sort(byRtt)
  }

  private async forward (peer: string, fn: ResolvedFunction, input: Uint8Array, options: InvokeRequestOptions): Promise<InvokeOutcome> {
    return await inSpan('dcis.invoke.forward', { kind: SpanKind.CLIENT, attributes: { 'dcis.peer.target': peer, 'dcis.function.name': fn.name } }, async (span) => {
      const out = await this.forwardOnce(peer, fn, input, options)
      // the peer that served it is outside our domain: its id does not go into our traces
      if (isOtherDomain(out.traceDomain)) span.setAttributes({ 'dcis.peer.target': peerAttr(peer, true), 'dcis.trace.crossed_domain': true })
      return out.outcome
    })
  }

  private async forwardOnce (peer: string, fn: ResolvedFunction, input: Uint8Array, options: InvokeRequestOptions): Promise<{ outcome: InvokeOutcome, traceDomain?: string }> {
    const signal = AbortSignal.any([
      ...(options.signal != null ? [options.signal] : []),
      this.shutdown.signal,
      AbortSignal.timeout(this.callTimeoutMs)
    ])
    let stream: Stream
    try {
      stream = await dialPeer(this.c.libp2p, peer, INVOKE_PROTOCOL, () => this.c.addressesOf?.(peer) ?? [], signal)
    } catch (err) {
      throw new ForwardFailedError(peer, `dial: ${(err as Error).message}`, { cause: err })
    }
    let header: InvokeResponseHeader
    let output: Uint8Array = new Uint8Array(0)
    try {
      const lp = lpStream(stream, { maxDataLength: Math.max(this.maxOutput, this.maxInput, MAX_HEADER_BYTES) })
      await lp.write(encodeHeader({ v: 1, id: fn.id, name: fn.name, spec: fn.spec, ...traceFields(), ...(options.token !== undefined && options.token !== '' ? { token: options.token } : {}) }), { signal })
      await lp.write(input, { signal })
      header = decodeResponseHeader((await lp.read({ signal })).subarray())
      if (header.ok) output = (await lp.read({ signal })).subarray()
      await stream.close({ signal }).catch(() => {})
    } catch (err) {
      stream.abort(err as Error)
      if (options.signal?.aborted === true) throw err
      throw new ForwardFailedError(peer, (err as Error).message, { cause: err })
    }
    if (!header.ok) throw new RemoteFunctionError(peer, header.error.name, header.error.code, header.error.message)
    return { outcome: { output, ranOn: header.ranOn, durationMs: header.durationMs, coldStart: header.coldStart, id: fn.id, name: fn.name, forwardedTo: peer }, traceDomain: header.traceDomain }
  }

  private async serve (stream: Stream, remote: string): Promise<void> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.callTimeoutMs)])
    const lp = lpStream(stream, { maxDataLength: Math.max(this.maxInput, MAX_HEADER_BYTES) })
    try {
      let response: InvokeResponseHeader
      let output: Uint8Array | undefined
      try {
        const headerBytes = (await lp.read({ signal })).subarray()
        const req = decodeRequestHeader(headerBytes)
        if (this.c.authorize != null && !this.c.authorize(remote)) {
          throw new OverloadedError('caller', `peer ${remote} may not invoke functions here`)
        }
        if (this.c.authorizeCall != null && !await this.c.authorizeCall({ remotePeer: remote, name: req.name, id: req.id, ...(req.token !== undefined ? { token: req.token } : {}) })) {
          throw new InvokeForbiddenError(`the caller may not invoke ${req.name} on ${this.selfId}`)
        }
        const input = (await lp.read({ signal })).subarray()
        if (!this.localExecution) throw new OverloadedError('peer', 'this peer does not run functions')
        // the caller's trace continues here, or (from another domain) a new one links to it
        const incoming = incomingTrace(req)
        const r = await inSpan('dcis.invoke.serve', {
          kind: SpanKind.SERVER,
          parent: incoming.parent,
          links: incoming.links,
          attributes: { 'dcis.peer.caller': peerAttr(remote, incoming.crossed), 'dcis.function.name': functionAttr(req.name, incoming.crossed), ...(incoming.crossed ? { 'dcis.trace.crossed_domain': true } : {}) }
        }, async () => await this.runLocal({ id: req.id, name: req.name, spec: req.spec }, input, { signal, caller: remote, ...(req.token !== undefined ? { token: req.token } : {}) }, 'served', incoming.crossed))
        if (r.output.byteLength > this.maxOutput) throw new InvalidInvokeFrameError('body', `output larger than ${this.maxOutput} bytes`)
        const domain = ownDomainTag()
        response = { v: 1, ok: true, ranOn: r.ranOn, durationMs: r.durationMs, coldStart: r.coldStart, ...(domain != null ? { traceDomain: domain } : {}) }
        output = r.output
      } catch (err) {
        const name = (err as Error).name
        if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') {
          response = { v: 1, ok: false, error: { name: 'InputTooLargeError', code: 'INPUT_TOO_LARGE', message: `frame larger than ${this.maxInput} bytes` } }
        } else if (name === 'UnexpectedEOFError' || (this.shutdown.signal.aborted && name === 'AbortError')) {
          throw err
        } else {
          response = { v: 1, ok: false, error: errorInfo(err) }
        }
        this.c.logger?.debug({ remote, err: (err as Error).message }, 'forwarded invocation failed')
      }
      await lp.write(encodeHeader(response), { signal })
      if (output != null) await lp.write(output, { signal })
      await stream.close({ signal })
    } catch (err) {
      this.c.logger?.debug({ remote, err: (err as Error).message }, 'invoke stream failed')
      stream.abort(err as Error)
    }
  }
}
