/**
 * The strong (Raft) ServiceBackend: one Raft group per strong service on the
 * peers chosen by latency-aware placement; linearizable KV from any peer.
 *
 * - members serve locally: writes are proposed (the core forwards to the
 *   leader), reads wait on a ReadIndex barrier (no log write per read);
 * - non-members forward to a member (the last known leader first) over
 *   /dcis/raft-kv/1.0.0 with the caller's token; a forwarded request is
 *   answered, never forwarded again;
 * - descriptors (membership) are decided by the creating peer, persisted in
 *   the datastore and announced to every peer of the registry (re-announced
 *   periodically to peers that have not acknowledged).
 */
import { join } from 'node:path'
import { lpStream } from '@libp2p/utils'
import { Key } from 'interface-datastore'
import { KeyNotFoundError, RevisionMismatchError, ServiceNotFoundError, ServiceUnavailableError, OperationNotSupportedError } from '../../services/errors.js'
import type { KvEntry, ReadOptions, ReplicaStatus, ServiceBackend, ServiceSpec, ServiceStatus, WriteOptions } from '../../services/types.js'
import { RaftGroup } from '../node/index.js'
import { betterLeader, place } from '../placement/index.js'
import type { LatencyOracle, PlacementCandidate } from '../placement/index.js'
import { createWalMetrics } from '../storage/index.js'
import type { WalMetrics } from '../storage/index.js'
import { createRaftTransport, createTransportMetrics, dialPeer } from '../transport/index.js'
import type { RaftTransport } from '../transport/index.js'
import { groupIdOf, SERVICE_NAME_RE, validateDescriptor } from './descriptor.js'
import type { GroupDescriptor } from './descriptor.js'
import { encodeKvCommand, KvStateMachine } from './kv-state.js'
import type { KvResult } from './kv-state.js'
import { createKvMetrics } from './metrics.js'
import type { KvMetrics } from './metrics.js'
import { decodeKvRequest, decodeKvResponse, encodeFrame, errorResponse, MAX_KV_FRAME_BYTES } from './frames.js'
import type { KvRequest, KvResponse } from './frames.js'
import type { Logger } from '../../telemetry/index.js'
import type { Libp2p, Stream } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { Registry } from 'prom-client'

export const RAFT_KV_PROTOCOL = '/dcis/raft-kv/1.0.0'
const DESCRIPTOR_PREFIX = '/dcis/raft/groups'

/** What the backend reads from the verified registry. */
export interface PeerDirectory {
  list: () => Array<{ end: { peerId: string, region?: string | null, zone?: string | null, multiaddrs?: string[] } }>
}

export interface RaftBackendInit {
  libp2p: Libp2p
  registry: PeerDirectory
  datastore: Datastore
  dataDir: string
  logger: Logger
  metrics?: Registry
  latency?: LatencyOracle
  /** this peer's region/zone when the registry does not list it yet */
  region?: string | null
  zone?: string | null
  tickMs?: number
  electionTick?: number
  /** deadline of one client operation, forwarding included (ms, default 5000) */
  requestTimeoutMs?: number
  snapshotEvery?: number
  keepEntries?: number
  /** how often leaders reconsider their siting and descriptors are re-announced (ms, default 5000) */
  maintenanceMs?: number
  /**
   * checks a forwarded request (the caller's token, the forwarding peer) before
   * it is served; default: any peer listed in the verified registry is trusted
   */
  authorizeForwarded?: (request: { op: 'get' | 'put' | 'del', name: string, key: string, token?: string, remotePeer: string }) => Promise<boolean> | boolean
}

interface Local { group: RaftGroup<KvResult>, kv: KvStateMachine }

export class RaftKvBackend implements ServiceBackend {
  readonly mode = 'strong' as const
  private readonly descriptors = new Map<string, GroupDescriptor>()
  private readonly acked = new Map<string, Set<string>>()
  private readonly locals = new Map<string, Local>()
  private readonly leaderHint = new Map<string, string>()
  private readonly transport: RaftTransport
  private readonly walMetrics?: WalMetrics
  private readonly kvMetrics?: KvMetrics
  private readonly timeoutMs: number
  private timer?: ReturnType<typeof setInterval>
  private running = false
  private shutdown = new AbortController()

  constructor (private readonly init: RaftBackendInit) {
    this.timeoutMs = init.requestTimeoutMs ?? 5000
    this.walMetrics = init.metrics !== undefined ? safeWalMetrics(init.metrics) : undefined
    this.kvMetrics = init.metrics !== undefined
      ? createKvMetrics(init.metrics, () => {
        const out: Record<string, number> = { leader: 0, follower: 0, candidate: 0, learner: 0 }
        for (const l of this.locals.values()) out[l.group.status().role]++
        return out
      })
      : undefined
    this.transport = createRaftTransport({
      libp2p: init.libp2p,
      logger: init.logger,
      metrics: init.metrics !== undefined ? createTransportMetrics(init.metrics) : undefined,
      addressesOf: (p) => this.addressesOf(p)
    })
  }

  get selfId (): string {
    return this.init.libp2p.peerId.toString()
  }

  async start (): Promise<void> {
    if (this.running) return
    this.shutdown = new AbortController()
    await this.transport.start()
    await this.init.libp2p.handle(RAFT_KV_PROTOCOL, async (stream, connection) => {
      await this.serve(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 256 })
    this.running = true
    for await (const { key, value } of this.init.datastore.query({ prefix: DESCRIPTOR_PREFIX })) {
      try {
        const d = validateDescriptor(JSON.parse(new TextDecoder().decode(value)))
        this.descriptors.set(d.name, d)
        await this.ensureReplica(d)
      } catch (err) {
        this.init.logger.warn({ key: key.toString(), err: (err as Error).message }, 'stored raft descriptor unusable; skipped')
      }
    }
    this.timer = setInterval(() => {
      this.maintain().catch((err: unknown) => { this.init.logger.warn({ err: (err as Error)?.message }, 'raft maintenance round failed') })
    }, this.init.maintenanceMs ?? 5000)
    this.timer.unref?.()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.shutdown.abort()
    clearInterval(this.timer)
    await this.init.libp2p.unhandle(RAFT_KV_PROTOCOL).catch(() => {})
    await Promise.all([...this.locals.values()].map(async l => l.group.stop()))
    this.locals.clear()
    await this.transport.stop()
  }

  /** Transport counters (frames sent/dropped/bad/rejected). */
  transportStats (): RaftTransport['stats'] {
    return this.transport.stats
  }

  /** The local replica of a service (tests, metrics). */
  replica (name: string): Local | undefined {
    return this.locals.get(name)
  }

  has (name: string): boolean {
    return this.descriptors.has(name)
  }

  list (): string[] {
    return [...this.descriptors.keys()].sort()
  }

  descriptor (name: string): GroupDescriptor | undefined {
    return this.descriptors.get(name)
  }

  async apply (spec: ServiceSpec, options: WriteOptions = {}): Promise<ServiceStatus> {
    if (spec.mode !== 'strong') throw new OperationNotSupportedError(`the raft backend serves consistency.mode strong, not ${spec.mode}`)
    if (!SERVICE_NAME_RE.test(spec.name)) throw new OperationNotSupportedError(`service name ${JSON.stringify(spec.name)} must be a DNS label`)
    const existing = this.descriptors.get(spec.name)
    if (existing !== undefined) {
      if (existing.spec.replicas !== spec.replicas) {
        this.init.logger.warn({ service: spec.name }, 'changing the replicas of a strong service is not supported yet; placement kept')
      }
      return await this.status(spec.name, options)
    }
    const candidates = this.candidates()
    const self = candidates.find(c => c.peerId === this.selfId) ?? { peerId: this.selfId, region: this.init.region ?? null, zone: this.init.zone ?? null }
    let placement
    try {
      placement = place({ replicas: spec.replicas, zones: spec.zones, latencyRadiusMs: spec.latencyRadiusMs, self, candidates, oracle: this.init.latency })
    } catch (err) {
      throw new ServiceUnavailableError((err as Error).message)
    }
    const createdAt = new Date().toISOString()
    const d: GroupDescriptor = {
      v: 1,
      name: spec.name,
      group: groupIdOf(spec.name, this.selfId, createdAt),
      spec: { ...spec },
      voters: placement.voters,
      learners: placement.learners,
      priorities: placement.priorities,
      createdBy: this.selfId,
      createdAt
    }
    await this.adopt(d)
    // the members must know before the group can elect: wait for a majority of voters
    const members = [...d.voters, ...d.learners].filter(p => p !== this.selfId)
    const signal = this.deadline(options.signal)
    const results = await Promise.allSettled(members.map(async p => this.announceTo(p, d, signal)))
    const told = new Set([this.selfId, ...members.filter((_, i) => results[i].status === 'fulfilled')])
    const votersKnowing = d.voters.filter(v => told.has(v)).length
    if (votersKnowing < Math.floor(d.voters.length / 2) + 1) {
      throw new ServiceUnavailableError(`service ${spec.name}: only ${votersKnowing} of ${d.voters.length} voters could be told about the group; it starts when they are reachable`)
    }
    this.announceToAll(d).catch((err: unknown) => { this.init.logger.debug({ service: d.name, err: (err as Error)?.message }, 'announcing the group failed') })
    return await this.status(spec.name, options)
  }

  async status (name: string, options: ReadOptions = {}): Promise<ServiceStatus> {
    const d = this.need(name)
    const local = this.locals.get(name)
    let leader: string | null = null
    let term = 0
    let commitIndex = 0
    if (local !== undefined) {
      const st = local.group.status()
      leader = st.leader
      term = st.term
      commitIndex = st.commitIndex
    } else {
      try {
        const r = await this.forward(d, { t: 'status', name }, options)
        if (r.ok && r.status !== undefined) {
          leader = r.status.leader
          term = r.status.term
          commitIndex = r.status.commitIndex
        }
      } catch (err) {
        this.init.logger.debug({ service: name, err: (err as Error).message }, 'status from members failed')
      }
    }
    if (leader !== null) this.leaderHint.set(name, leader)
    const where = new Map(this.candidates().map(c => [c.peerId, c]))
    const replicas: ReplicaStatus[] = [
      ...d.voters.map(p => ({ peerId: p, region: where.get(p)?.region ?? null, zone: where.get(p)?.zone ?? null, role: 'voter' as const })),
      ...d.learners.map(p => ({ peerId: p, region: where.get(p)?.region ?? null, zone: where.get(p)?.zone ?? null, role: 'learner' as const }))
    ]
    return { name, spec: d.spec, replicas, leader, term, commitIndex, local: local !== undefined }
  }

  async get (name: string, key: string, options: ReadOptions = {}): Promise<KvEntry> {
    const d = this.need(name)
    const local = this.locals.get(name)
    if (local === undefined) return await this.count('get', 'forwarded', async () => this.unwrapEntry(await this.forward(d, { t: 'get', name, key, token: options.token }, options), name, key))
    return await this.count('get', 'local', async () => this.localGet(name, local, key, options))
  }

  async put (name: string, key: string, value: string, options: WriteOptions = {}): Promise<{ revision: number }> {
    const d = this.need(name)
    const local = this.locals.get(name)
    if (local === undefined) return await this.count('put', 'forwarded', async () => this.unwrapWrite(await this.forward(d, { t: 'put', name, key, value, ifRevision: options.ifRevision, token: options.token }, options), name, key, options.ifRevision))
    return await this.count('put', 'local', async () => this.localWrite(name, local, { op: 'put', key, value, ifRevision: options.ifRevision }, options))
  }

  async delete (name: string, key: string, options: WriteOptions = {}): Promise<{ revision: number }> {
    const d = this.need(name)
    const local = this.locals.get(name)
    if (local === undefined) return await this.count('del', 'forwarded', async () => this.unwrapWrite(await this.forward(d, { t: 'del', name, key, ifRevision: options.ifRevision, token: options.token }, options), name, key, options.ifRevision))
    return await this.count('del', 'local', async () => this.localWrite(name, local, { op: 'del', key, ifRevision: options.ifRevision }, options))
  }

  private async count<T> (op: 'get' | 'put' | 'del', path: 'local' | 'forwarded' | 'served', fn: () => Promise<T>): Promise<T> {
    const m = this.kvMetrics
    if (m === undefined) return await fn()
    const end = path === 'forwarded' ? undefined : m.latency.startTimer({ op })
    try {
      const r = await fn()
      m.requests.inc({ op, path, result: 'ok' })
      end?.()
      return r
    } catch (err) {
      m.requests.inc({ op, path, result: (err as Error).name })
      throw err
    }
  }

  // ---- local replica operations ----

  private async localGet (name: string, local: Local, key: string, options: ReadOptions): Promise<KvEntry> {
    try {
      await local.group.readBarrier({ signal: options.signal, timeoutMs: this.timeoutMs })
    } catch (err) {
      throw this.unavailable(name, err)
    }
    const v = local.kv.get(key)
    if (v === undefined) throw new KeyNotFoundError(name, key)
    return { key, value: v.value, revision: v.revision }
  }

  private async localWrite (name: string, local: Local, cmd: { op: 'put', key: string, value: string, ifRevision?: number } | { op: 'del', key: string, ifRevision?: number }, options: WriteOptions): Promise<{ revision: number }> {
    let r: KvResult
    try {
      r = await local.group.propose(encodeKvCommand(cmd), { signal: options.signal, timeoutMs: this.timeoutMs })
    } catch (err) {
      throw this.unavailable(name, err)
    }
    if (r.ok) return { revision: r.revision }
    if (r.error === 'mismatch') throw new RevisionMismatchError(cmd.key, cmd.ifRevision ?? 0, r.actual)
    if (r.error === 'not-found') throw new KeyNotFoundError(name, cmd.key)
    throw new ServiceUnavailableError(`service ${name}: command refused: ${r.message}`)
  }

  private unavailable (name: string, err: unknown): Error {
    return new ServiceUnavailableError(`service ${name}: ${(err as Error).message}`)
  }

  // ---- membership ----

  /** Records a descriptor (first one for a name wins), persists it, starts the local replica if named. */
  private async adopt (d: GroupDescriptor): Promise<boolean> {
    const cur = this.descriptors.get(d.name)
    if (cur !== undefined) {
      return cur.createdBy === d.createdBy && cur.createdAt === d.createdAt
    }
    this.descriptors.set(d.name, d)
    await this.init.datastore.put(new Key(`${DESCRIPTOR_PREFIX}/${d.name}`), new TextEncoder().encode(JSON.stringify(d)))
    await this.ensureReplica(d)
    return true
  }

  private async ensureReplica (d: GroupDescriptor): Promise<void> {
    if (!this.running || this.locals.has(d.name)) return
    if (!d.voters.includes(this.selfId) && !d.learners.includes(this.selfId)) return
    const kv = new KvStateMachine()
    const group = new RaftGroup<KvResult>({
      group: d.group,
      self: this.selfId,
      dir: join(this.init.dataDir, 'raft', d.group),
      transport: this.transport,
      stateMachine: kv,
      voters: d.voters,
      learners: d.learners,
      logger: this.init.logger,
      walMetrics: this.walMetrics,
      tickMs: this.init.tickMs,
      electionTick: this.init.electionTick,
      priority: d.priorities[this.selfId] ?? (d.learners.includes(this.selfId) ? 0 : 1),
      snapshotEvery: this.init.snapshotEvery,
      keepEntries: this.init.keepEntries,
      timeoutMs: this.timeoutMs
    })
    this.locals.set(d.name, { group, kv })
    try {
      await group.start()
    } catch (err) {
      this.locals.delete(d.name)
      throw err
    }
    this.init.logger.info({ service: d.name, group: d.group, voters: d.voters, learners: d.learners }, 'raft replica started')
  }

  private async announceTo (peer: string, d: GroupDescriptor, signal: AbortSignal): Promise<void> {
    const r = await this.call(peer, { t: 'announce', d }, signal)
    if (!r.ok) throw new Error(`${peer} refused the descriptor: ${r.message ?? r.error ?? ''}`)
    let s = this.acked.get(d.name)
    if (s === undefined) { s = new Set(); this.acked.set(d.name, s) }
    s.add(peer)
  }

  private async announceToAll (d: GroupDescriptor): Promise<void> {
    const done = this.acked.get(d.name) ?? new Set()
    const targets = this.candidates().map(c => c.peerId).filter(p => p !== this.selfId && !done.has(p))
    await Promise.allSettled(targets.map(async p => this.announceTo(p, d, this.deadline())))
  }

  private async maintain (): Promise<void> {
    if (!this.running) return
    for (const d of this.descriptors.values()) {
      const local = this.locals.get(d.name)
      if (local === undefined) continue
      this.announceToAll(d).catch((err: unknown) => { this.init.logger.debug({ service: d.name, err: (err as Error)?.message }, 'announcing the group failed') })
      // leadership siting with hysteresis
      if (local.group.isLeader && this.init.latency !== undefined) {
        const where = new Map(this.candidates().map(c => [c.peerId, c]))
        const voters: PlacementCandidate[] = d.voters.map(p => where.get(p) ?? { peerId: p, region: null, zone: null })
        const to = betterLeader(this.selfId, voters, this.init.latency)
        if (to !== null) {
          this.init.logger.info({ service: d.name, to }, 'transferring raft leadership to a better-sited voter')
          local.group.transferLeadership(to)
        }
      }
    }
  }

  // ---- forwarding protocol ----

  private async forward (d: GroupDescriptor, req: KvRequest, options: ReadOptions): Promise<KvResponse> {
    const hint = this.leaderHint.get(d.name)
    const targets = [...new Set([...(hint !== undefined ? [hint] : []), ...d.voters, ...d.learners])].filter(p => p !== this.selfId)
    const signal = this.deadline(options.signal)
    let lastErr: unknown
    for (const peer of targets) {
      let stream: Stream
      try {
        stream = await this.dial(peer, signal)
      } catch (err) {
        // nothing was sent: safe to try the next member
        lastErr = err
        if (signal.aborted) break
        continue
      }
      try {
        const r = await this.exchange(stream, req, signal)
        if (r.leader != null) this.leaderHint.set(d.name, r.leader)
        return r
      } catch (err) {
        // the request may have been received: do not resend a write elsewhere
        if (req.t === 'get' || req.t === 'status') { lastErr = err; continue }
        throw new ServiceUnavailableError(`service ${d.name}: forwarded request to ${peer} failed: ${(err as Error).message}`)
      }
    }
    throw new ServiceUnavailableError(`service ${d.name}: no member reachable${lastErr !== undefined ? ` (${(lastErr as Error).message})` : ''}`)
  }

  private unwrapEntry (r: KvResponse, name: string, key: string): KvEntry {
    if (r.ok && r.entry !== undefined) return r.entry
    throw this.errorFrom(r, name, key)
  }

  private unwrapWrite (r: KvResponse, name: string, key: string, ifRevision: number | undefined): { revision: number } {
    if (r.ok && typeof r.revision === 'number') return { revision: r.revision }
    if (r.error === 'RevisionMismatchError') throw new RevisionMismatchError(key, ifRevision ?? 0, r.actual ?? 0)
    throw this.errorFrom(r, name, key)
  }

  private errorFrom (r: KvResponse, name: string, key: string): Error {
    switch (r.error) {
      case 'KeyNotFoundError': return new KeyNotFoundError(name, key)
      case 'ServiceNotFoundError': return new ServiceNotFoundError(name)
      case 'RevisionMismatchError': return new RevisionMismatchError(key, 0, r.actual ?? 0)
      case 'ForbiddenError': return new RaftForbiddenError(r.message ?? 'forbidden')
      default: return new ServiceUnavailableError(r.message ?? 'forwarded request failed')
    }
  }

  private async call (peer: string, req: KvRequest, signal: AbortSignal): Promise<KvResponse> {
    const stream = await this.dial(peer, signal)
    return await this.exchange(stream, req, signal)
  }

  private async exchange (stream: Stream, req: KvRequest, signal: AbortSignal): Promise<KvResponse> {
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_KV_FRAME_BYTES })
      await lp.write(encodeFrame(req), { signal })
      const res = decodeKvResponse((await lp.read({ signal })).subarray())
      await stream.close({ signal }).catch(() => {})
      return res
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  private async dial (peer: string, signal: AbortSignal): Promise<Stream> {
    return await dialPeer(this.init.libp2p, peer, RAFT_KV_PROTOCOL, () => this.addressesOf(peer), signal)
  }

  private async serve (stream: Stream, remote: string): Promise<void> {
    const signal = this.deadline()
    const lp = lpStream(stream, { maxDataLength: MAX_KV_FRAME_BYTES })
    try {
      let res: KvResponse
      try {
        const req = decodeKvRequest((await lp.read({ signal })).subarray())
        res = await this.handle(req, remote, signal)
      } catch (err) {
        res = errorResponse(err)
      }
      const hint = res.leader ?? null
      await lp.write(encodeFrame({ ...res, leader: hint }), { signal })
      await stream.close({ signal })
    } catch (err) {
      this.init.logger.debug({ remote, err: (err as Error).message }, 'raft-kv stream failed')
      stream.abort(err as Error)
    }
  }

  private async handle (req: KvRequest, remote: string, signal: AbortSignal): Promise<KvResponse> {
    // only verified mesh peers may announce groups or forward requests
    if (!this.init.registry.list().some(e => e.end.peerId === remote)) {
      return { ok: false, error: 'ForbiddenError', message: `${remote} is not a verified peer of this mesh` }
    }
    if ((req.t === 'get' || req.t === 'put' || req.t === 'del') && this.init.authorizeForwarded !== undefined) {
      const allowed = await this.init.authorizeForwarded({ op: req.t, name: req.name, key: req.key, token: req.token, remotePeer: remote })
      if (!allowed) return { ok: false, error: 'ForbiddenError', message: 'the forwarded caller is not allowed to do this' }
    }
    if (req.t === 'announce') {
      const d = validateDescriptor(req.d)
      const same = await this.adopt(d)
      return same ? { ok: true } : { ok: false, error: 'ServiceConflictError', message: `service ${d.name} already has a different group` }
    }
    const local = this.locals.get(req.name)
    if (!this.descriptors.has(req.name)) return { ok: false, error: 'ServiceNotFoundError', message: `no service named ${req.name}` }
    if (local === undefined) return { ok: false, error: 'ServiceUnavailableError', message: `${this.selfId} holds no replica of ${req.name}` }
    const leader = local.group.leader
    const opts = { signal }
    if (req.t === 'status') {
      const st = local.group.status()
      return { ok: true, leader, status: { leader: st.leader, term: st.term, commitIndex: st.commitIndex } }
    }
    if (req.t === 'get') {
      const entry = await this.count('get', 'served', async () => this.localGet(req.name, local, req.key, opts))
      return { ok: true, entry, leader }
    }
    const { revision } = req.t === 'put'
      ? await this.count('put', 'served', async () => this.localWrite(req.name, local, { op: 'put', key: req.key, value: req.value, ifRevision: req.ifRevision }, opts))
      : await this.count('del', 'served', async () => this.localWrite(req.name, local, { op: 'del', key: req.key, ifRevision: req.ifRevision }, opts))
    void remote
    return { ok: true, revision, leader: local.group.leader }
  }

  // ---- helpers ----

  private need (name: string): GroupDescriptor {
    const d = this.descriptors.get(name)
    if (d === undefined) throw new ServiceNotFoundError(name)
    return d
  }

  private deadline (signal?: AbortSignal): AbortSignal {
    const parts = [this.shutdown.signal, AbortSignal.timeout(this.timeoutMs)]
    if (signal !== undefined) parts.push(signal)
    return AbortSignal.any(parts)
  }

  private candidates (): PlacementCandidate[] {
    return this.init.registry.list().map(e => ({ peerId: e.end.peerId, region: e.end.region ?? null, zone: e.end.zone ?? null }))
  }

  private addressesOf (peer: string): string[] {
    return this.init.registry.list().find(e => e.end.peerId === peer)?.end.multiaddrs ?? []
  }
}

/** A forwarded request was refused by the serving peer (not a mesh peer, or the caller's token not allowed there). */
export class RaftForbiddenError extends Error {
  static readonly code = 'FORBIDDEN'
  readonly code = RaftForbiddenError.code
  constructor (message: string) {
    super(message)
    this.name = 'RaftForbiddenError'
  }
}

function safeWalMetrics (registry: Registry): WalMetrics | undefined {
  try {
    return createWalMetrics(registry)
  } catch {
    return undefined
  }
}
