/**
 * The allocation service of one peer: places allocations (filters, latency
 * classification, probes of borderline candidates, zone spread), reserves
 * them on the chosen peers over `/dcis/alloc/1.0.0`, and answers that
 * protocol from its own ledger.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { InvalidConstraintsError, InvalidAllocationIdError, AllocationForbiddenError, AllocationNotFoundError, AllocationPeerError, InvalidAllocFrameError, NoPlacementError, SchedulerNotStartedError } from './errors.js'
import { MAX_LEASE_MS, MIN_LEASE_MS, publicConstraints } from './constraints.js'
import { ALLOC_PROTOCOL, MAX_FRAME_BYTES, decodeRequest, decodeResponse, encodeFrame } from './frames.js'
import { isWorkloadReservationId, makeAllocationId, parseAllocationId, randomSuffix } from './ids.js'
import { ReservationLedger } from './ledger.js'
import { createSchedulerMetrics } from './metrics.js'
import { SpreadSelector, candidateFromEntry, planPlacement, summarizeExplanation } from './placement.js'
import type { AllocationRequest } from './constraints.js'
import type { AllocRequest, AllocResponse } from './frames.js'
import type { AllocationNode, Capacity, Reservation } from './ledger.js'
import type { SchedulerMetrics } from './metrics.js'
import type { Candidate, LatencyView, ScoredCandidate } from './placement.js'
import type { AllocationView, SchedulerComponents, SchedulerInit } from './index.js'
import { incomingTrace, inSpan, peerAttr, SpanKind, traceFields } from '../telemetry/tracing/spans.js'
import type { RegistryEntry } from '../registry/index.js'
import { memberOrLearnt } from '../registry/callers.js'
import { dialPeer, endAddresses } from '../registry/dial.js'
import type { Logger } from '../telemetry/index.js'
import type { AbortOptions, Stream } from '@libp2p/interface'

const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{16,128}$/
const ZERO: LatencyView = { ms: 0, errorMs: 0, source: 'measured' }

export type ServiceStatus = 'stopped' | 'starting' | 'started' | 'stopping'

export class AllocationService {
  readonly ledger: ReservationLedger
  status: ServiceStatus = 'stopped'
  private readonly c: SchedulerComponents
  private readonly log: Logger
  private readonly metrics?: SchedulerMetrics
  private readonly defaultLeaseMs: number
  private readonly maxLeaseMs: number
  private readonly sweepIntervalMs: number
  private readonly callTimeoutMs: number
  private readonly probeTimeoutMs: number
  private readonly randomBytes: (n: number) => Uint8Array
  private readonly now: () => number
  private readonly maxInboundStreams: number
  private readonly authorize: (remotePeer: string, op: AllocRequest['op']) => boolean
  private readonly authorizeCall?: SchedulerInit['authorizeCall']
  private shutdown = new AbortController()
  /**
   * candidate views per registry entry, computed once; an entry's END is
   * immutable, but its trustLevel is re-evaluated in place when a revocation
   * list arrives, so candidateOf() checks it
   */
  private readonly candidates = new WeakMap<RegistryEntry, Candidate>()
  private sweepTimer?: ReturnType<typeof setInterval>

  constructor (components: SchedulerComponents, init: SchedulerInit) {
    this.c = components
    this.log = components.logger
    this.metrics = components.metrics != null ? createSchedulerMetrics(components.metrics) : undefined
    this.now = init.now ?? Date.now
    this.ledger = new ReservationLedger({ capacity: init.capacity, datastore: components.datastore, now: this.now, maxReservations: init.maxReservations })
    this.maxLeaseMs = Math.min(MAX_LEASE_MS, Math.max(MIN_LEASE_MS, init.maxLeaseMs ?? 24 * 3600_000))
    this.defaultLeaseMs = Math.min(this.maxLeaseMs, Math.max(MIN_LEASE_MS, init.defaultLeaseMs ?? 15 * 60_000))
    this.sweepIntervalMs = init.sweepIntervalMs ?? 5_000
    this.callTimeoutMs = init.callTimeoutMs ?? 10_000
    this.probeTimeoutMs = init.probeTimeoutMs ?? 5_000
    this.randomBytes = init.randomBytes ?? ((n) => new Uint8Array(nodeRandomBytes(n)))
    this.maxInboundStreams = init.maxInboundStreams ?? 64
    const minTrust = init.minTrust ?? 0
    if (init.authorizeCall !== undefined) this.authorizeCall = init.authorizeCall
    this.authorize = init.authorize ?? ((remote) => remote === this.selfId || this.c.registry.list().some(e => e.end.peerId === remote && e.trustLevel >= minTrust))
  }

  get selfId (): string {
    return this.c.libp2p.peerId.toString()
  }

  async start (): Promise<void> {
    if (this.status === 'started' || this.status === 'starting') return
    this.status = 'starting'
    this.shutdown = new AbortController()
    try {
      const loaded = await this.ledger.open({ signal: this.shutdown.signal })
      this.updateGauges()
      await this.c.libp2p.handle(ALLOC_PROTOCOL, async (stream, connection) => {
        await this.serve(stream, connection.remotePeer.toString())
      }, { maxInboundStreams: this.maxInboundStreams, runOnLimitedConnection: true })
      // sweep() catches and logs its own failures
      this.sweepTimer = setInterval(() => { this.sweep().catch(() => {}) }, this.sweepIntervalMs)
      this.sweepTimer.unref?.()
      this.status = 'started'
      this.log.info({ reservations: loaded, capacity: this.ledger.capacity }, 'allocation service started')
    } catch (err) {
      this.status = 'started'
      await this.stop()
      throw err
    }
  }

  async stop (): Promise<void> {
    if (this.status === 'stopped' || this.status === 'stopping') return
    this.status = 'stopping'
    this.shutdown.abort()
    if (this.sweepTimer != null) clearInterval(this.sweepTimer)
    this.sweepTimer = undefined
    try {
      await this.c.libp2p.unhandle(ALLOC_PROTOCOL)
    } catch (err) {
      this.log.debug({ err }, 'unhandle failed')
    }
    this.status = 'stopped'
  }

  private candidateOf (e: RegistryEntry): Candidate {
    let c = this.candidates.get(e)
    if (c == null || c.trust !== e.trustLevel) {
      c = candidateFromEntry(e)
      this.candidates.set(e, c)
    }
    return c
  }

  /** Free capacity of this peer's ledger (what it would still accept). */
  free (): Capacity {
    return this.ledger.free()
  }

  /**
   * Places an allocation: plan, probe borderline candidates, reserve on the
   * chosen peers (a refusal moves on to the next candidate), record the node
   * list on the owning peer. Throws InvalidConstraintsError, NoPlacementError.
   */
  async allocate (request: AllocationRequest, options: AbortOptions & { explain?: boolean, token?: string } = {}): Promise<AllocationView> {
    return await inSpan('dcis.alloc.allocate', {}, async (span) => {
      const view = await this.place(request, options)
      span.setAttributes({ 'dcis.alloc.id': view.id, 'dcis.alloc.nodes': view.nodes.length })
      return view
    })
  }

  private async place (request: AllocationRequest, options: AbortOptions & { explain?: boolean, token?: string }): Promise<AllocationView> {
    this.assertStarted()
    const signal = this.signal(options.signal)
    // the caller's token goes with every frame sent on its behalf: each peer re-authorises it
    const token = options.token !== undefined && options.token !== '' ? { token: options.token } : {}
    let forbidden: { peer: string, message: string } | undefined
    const k = request.constraints
    const self = this.selfId
    const entries = this.c.registry.list()
    const from = k.from ?? self
    const { latency, canProbe } = this.latencyFrom(from, entries)
    const plan = planPlacement({
      candidates: entries.map(e => this.candidateOf(e)),
      constraints: k,
      replicas: request.replicas,
      latency,
      canProbe,
      from
    })
    const ex = plan.explanation
    const fail = (what: string): never => {
      this.metrics?.placements.inc({ result: 'no-placement' })
      throw new NoPlacementError(ex, `${what} (${summarizeExplanation(ex)})`)
    }
    if (plan.ranked.length < request.replicas) {
      fail(`${plan.ranked.length} of ${ex.total} candidates satisfy the constraints, ${request.replicas} needed`)
    }

    const leaseMs = Math.min(this.maxLeaseMs, request.leaseMs ?? this.defaultLeaseMs)
    const suffix = randomSuffix(this.randomBytes)
    const cpu = k.cpu ?? 0
    const memoryMb = k.memoryMb ?? 0
    const constraints = publicConstraints(k)
    const selector = new SpreadSelector(plan.ranked)
    const chosen: Array<{ s: ScoredCandidate, r: Reservation }> = []
    let id: string | undefined

    try {
      while (chosen.length < request.replicas) {
        signal.throwIfAborted()
        const s = selector.next()
        if (s == null) break
        const peer = s.candidate.peerId
        if (k.latencyMs != null && (s.latencyClass === 'borderline' || s.latencyClass === 'unknown')) {
          const rtt = await this.probe(peer, signal)
          if (rtt == null) { ex.unreachable++; selector.refuse(s); continue }
          if (rtt > k.latencyMs) { ex.borderlineRejectedByProbe++; selector.refuse(s); continue }
          s.latency = { ms: rtt, errorMs: 0, source: 'measured' }
        }
        const attemptId = id ?? makeAllocationId(peer, suffix)
        const reserve: AllocRequest = { v: 1, op: 'reserve', id: attemptId, cpu, memoryMb, leaseMs, constraints, ...token }
        // a single replica: the node list is known now, so no separate commit round trip
        if (request.replicas === 1) reserve.nodes = [nodeOf(s)]
        let res: AllocResponse
        try {
          res = await this.call(peer, reserve, signal)
        } catch (err) {
          if (signal.aborted) throw err
          this.log.debug({ peer, err: (err as Error).message }, 'reserve failed')
          // it may have been granted with the answer lost: ask for it back (its lease ends it otherwise)
          this.releaseAll(attemptId, [peer]).catch(() => {}) // logs each failed release itself
          ex.unreachable++
          selector.refuse(s)
          continue
        }
        if (!res.ok) {
          if (res.error === 'forbidden') forbidden = { peer, message: res.message }
          ex.refused++
          selector.refuse(s)
          continue
        }
        id = attemptId
        selector.accept(s)
        chosen.push({ s, r: res.reservation })
      }
    } catch (err) {
      // aborted (client gone, node stopping): give back what was reserved
      await this.releaseAll(id, chosen.map(x => x.s.candidate.peerId))
      throw err
    }

    if (id == null || chosen.length < request.replicas) {
      await this.releaseAll(id, chosen.map(x => x.s.candidate.peerId))
      // the caller's rights were refused somewhere: that is the answer, not "no room"
      if (forbidden !== undefined) throw new AllocationForbiddenError(forbidden.peer, forbidden.message)
      fail(`only ${chosen.length} of ${request.replicas} replicas could be reserved`)
    }
    const allocationId = id as string
    const nodes: AllocationNode[] = chosen.map(x => nodeOf(x.s))
    const owner = nodes[0].peerId
    let committed: Reservation = chosen[0].r
    try {
      if (request.replicas > 1) {
        const res = await this.call(owner, { v: 1, op: 'commit', id: allocationId, nodes, ...token }, signal)
        if (!res.ok && res.error === 'forbidden') throw new AllocationForbiddenError(owner, res.message)
        if (!res.ok) throw new AllocationPeerError(owner, `commit refused: ${res.message}`)
        committed = res.reservation
      }
      if (committed.nodes.length !== nodes.length) throw new AllocationPeerError(owner, 'the owner did not record the node list')
    } catch (err) {
      await this.releaseAll(allocationId, nodes.map(n => n.peerId))
      this.metrics?.placements.inc({ result: 'error' })
      throw err instanceof AllocationPeerError || err instanceof AllocationForbiddenError ? err : new AllocationPeerError(owner, `commit failed: ${(err as Error).message}`)
    }
    this.metrics?.placements.inc({ result: 'placed' })
    this.log.info({ id: allocationId, nodes: nodes.map(n => n.peerId), refused: ex.refused, probed: ex.borderline }, 'allocation placed')
    const view = toView(committed)
    const estimates: Record<string, LatencyView | null> = {}
    for (const x of chosen) estimates[x.s.candidate.peerId] = x.s.latency
    view.nodes = view.nodes.map(n => ({ ...n, rttMs: estimates[n.peerId] != null ? round1(estimates[n.peerId]?.ms ?? 0) : null }))
    if (options.explain === true) view.explanation = ex
    return view
  }

  /** The allocation as its owning peer holds it (forwarded when that is another peer). */
  async get (id: string, options: AbortOptions & { token?: string } = {}): Promise<AllocationView> {
    this.assertStarted()
    const owner = ownerOf(id)
    const res = await this.ownerCall(owner, { v: 1, op: 'get', id, ...tokenOf(options) }, options)
    return toView(res)
  }

  /** Releases the allocation on its owner, which releases the other replicas. */
  async release (id: string, options: AbortOptions & { token?: string } = {}): Promise<AllocationView> {
    this.assertStarted()
    const owner = ownerOf(id)
    const res = await this.ownerCall(owner, { v: 1, op: 'release', id, ...tokenOf(options) }, options)
    return toView(res)
  }

  /** Extends the allocation's lease on every replica (through its owner). */
  async renew (id: string, leaseMs?: number, options: AbortOptions & { token?: string } = {}): Promise<AllocationView> {
    this.assertStarted()
    const owner = ownerOf(id)
    const req: AllocRequest = { v: 1, op: 'renew', id, ...tokenOf(options) }
    if (leaseMs != null) req.leaseMs = Math.min(this.maxLeaseMs, leaseMs)
    const res = await this.ownerCall(owner, req, options)
    return toView(res)
  }

  /**
   * One raw request to `peer`'s ledger over /dcis/alloc/1.0.0 (to this peer:
   * straight to the handler). The client API of src/scheduler/client.ts uses
   * it to reserve, commit and release the capacity of service replicas.
   */
  async request (peer: string, req: AllocRequest, options: AbortOptions = {}): Promise<AllocResponse> {
    this.assertStarted()
    return this.call(peer, req, this.signal(options.signal))
  }

  /** where `peer` is, as an allocation node (from its verified descriptor) */
  nodeOf (peer: string): AllocationNode {
    const e = this.c.registry.list().find(x => x.end.peerId === peer)
    return { peerId: peer, region: e?.end.region ?? '', zone: e?.end.zone ?? '' }
  }

  /** Handles one request frame as the peer `remote` sent it (also used for calls to self). */
  async handleRequest (req: AllocRequest, remote: string): Promise<AllocResponse> {
    const self = this.selfId
    if (remote !== self && !await memberOrLearnt(this.c.registry, remote, () => this.authorize(remote, req.op))) {
      this.metrics?.reservations.inc({ result: 'forbidden' })
      return { v: 1, ok: false, error: 'forbidden', message: 'this peer serves federation members only (no verified descriptor for the caller)' }
    }
    const refusal = remote === self ? undefined : await this.reauthorize(req, remote)
    if (refusal !== undefined) {
      this.metrics?.reservations.inc({ result: 'forbidden' })
      this.log.info({ op: req.op, id: req.id, remotePeer: remote, reason: refusal }, 'forwarded allocation call refused')
      return { v: 1, ok: false, error: 'forbidden', message: refusal }
    }
    switch (req.op) {
      case 'reserve': {
        if (req.nodes != null && parseAllocationId(req.id).owner !== self) {
          return { v: 1, ok: false, error: 'bad-request', message: 'only the owning peer records the node list' }
        }
        const result = await this.ledger.reserve({ id: req.id, cpu: req.cpu, memoryMb: req.memoryMb, leaseMs: Math.min(req.leaseMs, this.maxLeaseMs), placer: remote, constraints: req.constraints, nodes: req.nodes })
        this.updateGauges()
        this.metrics?.reservations.inc({ result: result.accepted ? 'accepted' : result.reason })
        if (result.accepted) return { v: 1, ok: true, reservation: result.reservation }
        return { v: 1, ok: false, error: result.reason, message: `refused (${result.reason}); free cpu ${result.free.cpu}, memory ${result.free.memoryMb} MiB`, free: result.free }
      }
      case 'commit': {
        const held = this.ledger.get(req.id)
        if (held == null || parseAllocationId(req.id).owner !== self) return notFound(req.id)
        if (held.placer !== remote) return { v: 1, ok: false, error: 'bad-request', message: 'only the placing peer may commit' }
        const r = await this.ledger.setNodes(req.id, req.nodes)
        return r != null ? { v: 1, ok: true, reservation: r } : notFound(req.id)
      }
      case 'get': {
        const r = this.ledger.get(req.id)
        return r != null ? { v: 1, ok: true, reservation: r } : notFound(req.id)
      }
      case 'release': {
        const r = await this.ledger.release(req.id)
        this.updateGauges()
        if (r == null) return notFound(req.id)
        if (parseAllocationId(req.id).owner === self) {
          await this.fanOut(req.id, r.nodes, { v: 1, op: 'release', id: req.id })
        }
        return { v: 1, ok: true, reservation: r }
      }
      case 'renew': {
        const r = await this.ledger.renew(req.id, req.leaseMs != null ? Math.min(req.leaseMs, this.maxLeaseMs) : undefined)
        if (r == null) return notFound(req.id)
        if (parseAllocationId(req.id).owner === self) {
          await this.fanOut(req.id, r.nodes, { v: 1, op: 'renew', id: req.id, leaseMs: r.leaseMs })
        }
        return { v: 1, ok: true, reservation: r }
      }
    }
  }

  /**
   * The serving peer's own check of a request another peer sent (never the
   * sender's word alone; a get is info and not checked): a frame with the caller's token is re-authorised
   * against this peer's policy (`allocate`, scoped to the allocation); a
   * frame without one is the sending peer's own operation, accepted for a
   * reserve (it is recorded as the placer), a commit by the placer, a
   * get/release/renew by the allocation's owner or placer, and any call on a
   * service replica's reservation (the mesh's own placement); any other
   * tokenless call passes only if the authorizer says so (a peer that trusts
   * loopback). undefined = accepted, else the reason.
   */
  private async reauthorize (req: AllocRequest, remote: string): Promise<string | undefined> {
    // reading an allocation is info (open at the API unless api.openInfo is false), like a service's status
    if (this.authorizeCall === undefined || req.op === 'get') return undefined
    if (req.token !== undefined) {
      return await this.authorizeCall({ token: req.token, remotePeer: remote, op: req.op, id: req.id }) ? undefined : 'the caller\'s token lacks the allocate right on this peer (or its scope)'
    }
    if (req.op === 'reserve' || req.op === 'commit') return undefined
    if (ownerOf(req.id) === remote || this.ledger.get(req.id)?.placer === remote) return undefined
    // a service replica's reservation: the mesh's own placement of a service applied through an authorised manifest
    if (isWorkloadReservationId(req.id)) return undefined
    return await this.authorizeCall({ remotePeer: remote, op: req.op, id: req.id }) ? undefined : 'a call on another peer\'s allocation needs the caller\'s token'
  }

  /** Drops expired reservations now (also runs every sweepIntervalMs). */
  async sweep (): Promise<string[]> {
    try {
      const gone = await this.ledger.sweep()
      if (gone.length > 0) {
        this.updateGauges()
        this.log.info({ expired: gone }, 'reservation leases expired')
      }
      return gone
    } catch (err) {
      this.log.warn({ err }, 'lease sweep failed')
      return []
    }
  }

  private async serve (stream: Stream, remote: string): Promise<void> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.callTimeoutMs)])
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
    try {
      let response: AllocResponse
      try {
        const req = decodeRequest((await lp.read({ signal })).subarray())
        try {
          const incoming = incomingTrace(req)
          response = await inSpan(`dcis.alloc.serve.${req.op}`, { kind: SpanKind.SERVER, parent: incoming.parent, links: incoming.links, attributes: { 'dcis.peer.caller': peerAttr(remote, incoming.crossed) } }, async () => await this.handleRequest(req, remote))
        } catch (err) {
          // our own fault (e.g. the datastore failed): the caller gets a refusal, not a hung stream
          this.log.warn({ remote, op: req.op, err }, 'alloc request failed')
          response = { v: 1, ok: false, error: 'internal', message: 'the peer failed to serve the request' }
        }
      } catch (err) {
        if (err instanceof InvalidAllocFrameError) {
          this.metrics?.reservations.inc({ result: 'bad-frame' })
          this.log.debug({ remote, field: err.field }, 'invalid alloc frame')
          response = { v: 1, ok: false, error: 'bad-request', message: err.message.slice(0, 1000) }
        } else if ((err as Error).name === 'InvalidDataLengthError' || (err as Error).name === 'InvalidDataLengthLengthError') {
          response = { v: 1, ok: false, error: 'bad-request', message: `frame larger than ${MAX_FRAME_BYTES} bytes` }
        } else {
          throw err
        }
      }
      await lp.write(encodeFrame(response), { signal })
      await stream.close({ signal })
    } catch (err) {
      this.log.debug({ remote, err: (err as Error).message }, 'alloc stream failed')
      stream.abort(err as Error)
    }
  }

  /** One request to `peer` (to self: straight to the handler). */
  private async call (peer: string, req: AllocRequest, signal: AbortSignal): Promise<AllocResponse> {
    return await inSpan(`dcis.alloc.${req.op}`, { kind: SpanKind.CLIENT, attributes: { 'dcis.alloc.id': req.id, 'dcis.peer.target': peer } }, async (span) => {
      const res = await this.callOnce(peer, req, signal)
      span.setAttribute('dcis.alloc.result', res.ok ? 'ok' : res.error)
      return res
    })
  }

  private async callOnce (peer: string, req: AllocRequest, signal: AbortSignal): Promise<AllocResponse> {
    if (peer === this.selfId) return this.handleRequest(req, peer)
    const callSignal = AbortSignal.any([signal, AbortSignal.timeout(this.callTimeoutMs)])
    const stream = await this.dial(peer, callSignal)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
      await lp.write(encodeFrame({ ...req, ...traceFields() }), { signal: callSignal })
      const res = decodeResponse((await lp.read({ signal: callSignal })).subarray())
      await stream.close({ signal: callSignal }).catch(() => {})
      return res
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  private async dial (peer: string, signal: AbortSignal): Promise<Stream> {
    return await dialPeer(this.c.libp2p, peer, ALLOC_PROTOCOL, () => endAddresses(this.c.registry, peer), signal)
  }

  private async ownerCall (owner: string, req: AllocRequest, options: AbortOptions): Promise<Reservation> {
    const signal = this.signal(options.signal)
    let res: AllocResponse
    try {
      res = await this.call(owner, req, signal)
    } catch (err) {
      if (err instanceof AllocationPeerError) throw err
      if ((err as Error).name === 'AbortError' && options.signal?.aborted === true) throw err
      throw new AllocationPeerError(owner, `unreachable or invalid answer: ${(err as Error).message}`)
    }
    if (res.ok) return res.reservation
    if (res.error === 'not-found') throw new AllocationNotFoundError(req.id)
    if (res.error === 'forbidden') throw new AllocationForbiddenError(owner, res.message)
    throw new AllocationPeerError(owner, `${res.error}: ${res.message}`)
  }

  private async fanOut (id: string, nodes: AllocationNode[], req: AllocRequest): Promise<void> {
    const others = nodes.filter(n => n.peerId !== this.selfId)
    await Promise.all(others.map(async n => {
      try {
        await this.call(n.peerId, req, this.shutdown.signal)
      } catch (err) {
        // the replica's lease ends it anyway
        this.log.warn({ id, peer: n.peerId, op: req.op, err: (err as Error).message }, 'replica did not answer')
      }
    }))
  }

  private async releaseAll (id: string | undefined, peers: string[]): Promise<void> {
    if (id == null) return
    await Promise.all(peers.map(async peer => {
      try {
        await this.call(peer, { v: 1, op: 'release', id }, this.shutdown.signal)
      } catch (err) {
        this.log.warn({ id, peer, err: (err as Error).message }, 'could not release a partial reservation; its lease will')
      }
    }))
  }

  private async probe (peer: string, signal: AbortSignal): Promise<number | null> {
    if (peer === this.selfId) return 0
    try {
      const rtt = await this.c.oracle.probe(peer, { signal: AbortSignal.any([signal, AbortSignal.timeout(this.probeTimeoutMs)]) })
      if (!Number.isFinite(rtt) || rtt < 0) throw new RangeError(`probe returned ${rtt}`)
      this.metrics?.probes.inc({ result: 'ok' })
      return rtt
    } catch (err) {
      if (signal.aborted) throw err
      this.metrics?.probes.inc({ result: 'failed' })
      this.log.debug({ peer, err: (err as Error).message }, 'probe failed')
      return null
    }
  }

  /** The latency lookup for a measuring point: this peer, another peer, or a region. */
  private latencyFrom (from: string, entries: RegistryEntry[]): { latency: (to: string) => LatencyView | null, canProbe: boolean } {
    const self = this.selfId
    const oracle = this.c.oracle
    if (from === self) {
      return { latency: to => to === self ? ZERO : sane(oracle.estimate(self, to)), canProbe: true }
    }
    if (PEER_ID.test(from) && entries.some(e => e.end.peerId === from)) {
      return { latency: to => to === from ? ZERO : sane(oracle.estimate(from, to)), canProbe: false }
    }
    const sources = entries.filter(e => e.end.region === from).map(e => e.end.peerId)
    if (sources.length === 0) {
      throw new InvalidConstraintsError('constraints.from', `${JSON.stringify(from)} is neither a known peer id nor a region with known peers`)
    }
    // from a region: the best-connected peer of that region
    return {
      latency: to => {
        let best: LatencyView | null = null
        for (const p of sources) {
          const e = p === to ? ZERO : sane(oracle.estimate(p, to))
          if (e != null && (best == null || e.ms + e.errorMs < best.ms + best.errorMs)) best = e
        }
        return best
      },
      canProbe: false
    }
  }

  private signal (signal?: AbortSignal): AbortSignal {
    return signal != null ? AbortSignal.any([signal, this.shutdown.signal]) : this.shutdown.signal
  }

  private assertStarted (): void {
    if (this.status !== 'started') throw new SchedulerNotStartedError()
  }

  private updateGauges (): void {
    if (this.metrics == null) return
    const cap = this.ledger.capacity
    const free = this.ledger.free()
    this.metrics.reservedCpu.set(cap.cpu - free.cpu)
    this.metrics.reservedMemoryBytes.set((cap.memoryMb - free.memoryMb) * 1024 * 1024)
    this.metrics.held.set(this.ledger.list().length)
  }
}

/** The owning peer of an allocation id; InvalidAllocationIdError unless it names a real peer id. */
function ownerOf (id: string): string {
  const { owner } = parseAllocationId(id)
  try {
    peerIdFromString(owner)
  } catch {
    throw new InvalidAllocationIdError(id)
  }
  return owner
}

function nodeOf (s: ScoredCandidate): AllocationNode {
  return { peerId: s.candidate.peerId, region: s.candidate.region, zone: s.candidate.zone }
}

function notFound (id: string): AllocResponse {
  return { v: 1, ok: false, error: 'not-found', message: `no allocation ${id}` }
}

/** An oracle answer with non-finite or negative numbers counts as unknown. */
function sane (e: LatencyView | null | undefined): LatencyView | null {
  if (e == null || !Number.isFinite(e.ms) || !Number.isFinite(e.errorMs) || e.ms < 0) return null
  return { ms: e.ms, errorMs: Math.max(0, e.errorMs), source: e.source }
}

function round1 (x: number): number {
  return Math.round(x * 10) / 10
}

export function toView (r: Reservation): AllocationView {
  return {
    id: r.id,
    nodes: r.nodes.map(n => ({ peerId: n.peerId, region: n.region, zone: n.zone })),
    constraints: r.constraints,
    expiresAt: new Date(r.expiresAt).toISOString(),
    leaseMs: r.leaseMs,
    cpu: r.cpu,
    memoryMb: r.memoryMb
  }
}

function tokenOf (options: { token?: string }): { token?: string } {
  return options.token !== undefined && options.token !== '' ? { token: options.token } : {}
}
