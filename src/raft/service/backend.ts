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
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { lpStream } from '@libp2p/utils'
import { Key } from 'interface-datastore'
import { KeyNotFoundError, RevisionMismatchError, ServiceNotFoundError, ServiceUnavailableError, OperationNotSupportedError } from '../../services/errors.js'
import type { KvEntry, ReadOptions, ReplicaStatus, ServiceBackend, ServiceSpec, ServiceStatus, WriteOptions } from '../../services/types.js'
import { RaftGroup } from '../node/index.js'
import { betterLeader, distance, place, voterCount } from '../placement/index.js'
import { DEFAULT_REPAIR_GRACE_MS, PeerLiveness } from '../../services/liveness.js'
import { eligible, emptyZones, unservedZones } from '../../services/residency.js'
import { serviceConditions } from '../../services/conditions.js'
import type { ReplicaReservations } from '../../scheduler/client.js'
import type { LatencyOracle, PlacementCandidate } from '../placement/index.js'
import { createWalMetrics } from '../storage/index.js'
import type { WalCipher, WalMetrics } from '../storage/index.js'
import { createRaftTransport, createTransportMetrics } from '../transport/index.js'
import { dialPeer, endAddresses } from '../../registry/dial.js'
import type { RaftTransport } from '../transport/index.js'
import { bootstrapOf, epochOf, groupIdOf, isNewer, membersOf, SERVICE_NAME_RE, validateDescriptor } from './descriptor.js'
import type { GroupDescriptor } from './descriptor.js'
import { encodeKvCommand, KvStateMachine } from './kv-state.js'
import type { KvResult } from './kv-state.js'
import { createKvMetrics } from './metrics.js'
import type { KvMetrics } from './metrics.js'
import { decodeKvRequest, decodeKvResponse, encodeFrame, errorResponse, MAX_KV_FRAME_BYTES } from './frames.js'
import { incomingTrace, inSpan, peerAttr, SpanKind, traceFields } from '../../telemetry/tracing/spans.js'
import type { KvRequest, KvResponse } from './frames.js'
import type { Logger } from '../../telemetry/index.js'
import type { Libp2p, Stream } from '@libp2p/interface'
import { memberOrLearnt } from '../../registry/callers.js'
import type { LearnsCallers } from '../../registry/callers.js'
import type { Datastore } from 'interface-datastore'
import type { Registry } from 'prom-client'

export const RAFT_KV_PROTOCOL = '/dcis/raft-kv/1.0.0'
const DESCRIPTOR_PREFIX = '/dcis/raft/groups'

/** What the backend reads from the verified registry. */
export interface PeerDirectory extends LearnsCallers {
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
  /** idle groups stop ticking and heartbeating until traffic (default true; false for comparisons) */
  quiesce?: boolean
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
  /** seals WAL entries and snapshots at rest (src/protection); none = clear */
  walCipherFor?: (group: string) => WalCipher
  /** a member whose peer has been unreachable this long is replaced by the leader (ms, default 15 s) */
  repairGraceMs?: number
  /** how often leaders check their groups for repair and resize (ms, default 2000) */
  repairIntervalMs?: number
  /** deadline of one membership change (ms, default 30 s) */
  membershipTimeoutMs?: number
  /** capacity reservations of replicas over /dcis/alloc/1.0.0 (src/scheduler/client.ts); none = unreserved */
  reservations?: ReplicaReservations
}

interface Local { group: RaftGroup<KvResult>, kv: KvStateMachine }

export class RaftKvBackend implements ServiceBackend {
  readonly mode = 'strong' as const
  private readonly descriptors = new Map<string, GroupDescriptor>()
  /** service -> peer -> the descriptor version (group#epoch) it acknowledged */
  private readonly acked = new Map<string, Map<string, string>>()
  private readonly locals = new Map<string, Local>()
  private readonly leaderHint = new Map<string, string>()
  private readonly transport: RaftTransport
  private readonly walMetrics?: WalMetrics
  private readonly kvMetrics?: KvMetrics
  private readonly timeoutMs: number
  private timer?: ReturnType<typeof setInterval>
  private repairTimer?: ReturnType<typeof setInterval>
  private readonly repairing = new Set<string>()
  private liveness!: PeerLiveness
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
    }, { maxInboundStreams: 256, runOnLimitedConnection: true })
    this.liveness = new PeerLiveness(this.init.libp2p, this.init.repairGraceMs ?? DEFAULT_REPAIR_GRACE_MS)
    this.liveness.start()
    this.running = true
    for await (const { key, value } of this.init.datastore.query({ prefix: DESCRIPTOR_PREFIX })) {
      try {
        const d = validateDescriptor(JSON.parse(new TextDecoder().decode(value)))
        this.descriptors.set(d.name, d)
        if (d.deleted !== true) await this.ensureReplica(d)
      } catch (err) {
        this.init.logger.warn({ key: key.toString(), err: (err as Error).message }, 'stored raft descriptor unusable; skipped')
      }
    }
    this.timer = setInterval(() => {
      this.maintain().catch((err: unknown) => { this.init.logger.warn({ err: (err as Error)?.message }, 'raft maintenance round failed') })
    }, this.init.maintenanceMs ?? 5000)
    this.timer.unref?.()
    this.repairTimer = setInterval(() => { this.repairAll() }, this.init.repairIntervalMs ?? 2000)
    this.repairTimer.unref?.()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.shutdown.abort()
    clearInterval(this.timer)
    clearInterval(this.repairTimer)
    this.liveness.stop()
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
    const d = this.descriptors.get(name)
    return d !== undefined && d.deleted !== true
  }

  list (): string[] {
    return [...this.descriptors.values()].filter(d => d.deleted !== true).map(d => d.name).sort()
  }

  descriptor (name: string): GroupDescriptor | undefined {
    return this.descriptors.get(name)
  }

  async apply (spec: ServiceSpec, options: WriteOptions = {}): Promise<ServiceStatus> {
    if (spec.mode !== 'strong') throw new OperationNotSupportedError(`the raft backend serves consistency.mode strong, not ${spec.mode}`)
    if (!SERVICE_NAME_RE.test(spec.name)) throw new OperationNotSupportedError(`service name ${JSON.stringify(spec.name)} must be a DNS label`)
    const existing = this.descriptors.get(spec.name)
    if (existing !== undefined && existing.deleted !== true) {
      if (existing.spec.replicas !== spec.replicas || existing.spec.latencyRadiusMs !== spec.latencyRadiusMs || existing.spec.zones.join('\n') !== spec.zones.join('\n')) {
        // desired state changes; the group's leader adds or removes members to match (repairAll)
        const next: GroupDescriptor = { ...existing, spec: { ...spec }, epoch: epochOf(existing) + 1, updatedBy: this.selfId, updatedAt: new Date().toISOString() }
        await this.adopt(next)
        await this.announceToAll(next)
        this.init.logger.info({ service: spec.name, replicas: spec.replicas }, 'strong service resized: the leader changes the membership')
      }
      return await this.status(spec.name, options)
    }
    const candidates = this.candidates().filter(c => eligible(c, spec.zones))
    const self = this.candidates().find(c => c.peerId === this.selfId) ?? { peerId: this.selfId, region: this.init.region ?? null, zone: this.init.zone ?? null }
    if (candidates.length === 0) throw new ServiceUnavailableError(`service ${spec.name}: no verified peer in the listed zones (${spec.zones.join(', ')})`)
    let placement
    try {
      // residency: only eligible peers; fewer than replicas leaves the service short (its conditions say why)
      const anchor = eligible(self, spec.zones) ? self : candidates[0]
      placement = place({ replicas: Math.min(spec.replicas, candidates.length), zones: spec.zones, latencyRadiusMs: spec.latencyRadiusMs, self: anchor, candidates, oracle: this.init.latency })
    } catch (err) {
      throw new ServiceUnavailableError((err as Error).message)
    }
    if (placement.voters.length + placement.learners.length < spec.replicas) {
      this.init.logger.warn({ service: spec.name, wanted: spec.replicas, placed: placement.voters.length + placement.learners.length }, 'fewer eligible peers than replicas: the service runs short')
    }
    for (const p of [...placement.voters, ...placement.learners]) {
      if (!await this.reserveOn(spec.name, p)) this.init.logger.warn({ service: spec.name, peer: p }, 'a member refused the replica reservation; it is placed anyway (the group needs its configuration)')
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
      createdAt,
      epoch: 0,
      bootstrap: { voters: placement.voters, learners: placement.learners }
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
    const all = this.candidates()
    const where = new Map(all.map(c => [c.peerId, c]))
    // the applied configuration where this peer holds a replica, else the descriptor
    const m = local !== undefined ? local.group.membership() : { voters: d.voters, learners: d.learners, votersOutgoing: [] }
    const voters = [...new Set([...m.voters, ...m.votersOutgoing])]
    const replicas: ReplicaStatus[] = [
      ...voters.map(p => ({ peerId: p, region: where.get(p)?.region ?? null, zone: where.get(p)?.zone ?? null, role: 'voter' as const })),
      ...m.learners.map(p => ({ peerId: p, region: where.get(p)?.region ?? null, zone: where.get(p)?.zone ?? null, role: 'learner' as const }))
    ]
    const connected = this.liveness.snapshot()
    const liveReplicas = replicas.filter(r => this.liveness.isLive(r.peerId, connected))
    const gone = replicas.filter(r => this.liveness.isGone(r.peerId, connected)).map(r => r.peerId)
    const down = replicas.filter(r => !liveReplicas.includes(r) && !gone.includes(r.peerId)).map(r => r.peerId)
    const conditions = serviceConditions({
      mode: 'strong',
      desired: d.spec.replicas,
      placed: replicas.length,
      live: liveReplicas.length,
      gone,
      down,
      unservedZones: unservedZones(d.spec.zones, liveReplicas),
      emptyZones: emptyZones(d.spec.zones, all),
      leader,
      votersLive: liveReplicas.filter(r => r.role === 'voter').length,
      voters: m.voters.length,
      repairing: this.repairing.has(name)
    })
    return { name, spec: d.spec, replicas, desiredReplicas: d.spec.replicas, liveReplicas, conditions, leader, term, commitIndex, local: local !== undefined }
  }

  /** Deletes a strong service: a tombstone descriptor is announced; every member stops its replica and removes its log. */
  async remove (name: string, options: WriteOptions = {}): Promise<void> {
    const d = this.need(name)
    const next: GroupDescriptor = { ...d, deleted: true, epoch: epochOf(d) + 1, updatedBy: this.selfId, updatedAt: new Date().toISOString() }
    await this.adopt(next)
    const signal = this.deadline(options.signal)
    const members = membersOf(d).filter(p => p !== this.selfId)
    await Promise.allSettled(members.map(async p => this.announceTo(p, next, signal)))
    void this.announceToAll(next).catch(() => {})
    await Promise.all(members.map(async p => this.init.reservations?.release(p, `raft.${name}`).catch(() => {})))
    this.init.logger.info({ service: name }, 'strong service deleted')
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
      // the span covers propose, commit and apply (propose resolves with the applied result)
      r = await inSpan('dcis.raft.propose', { attributes: { 'dcis.service': name, 'dcis.raft.op': cmd.op } }, async () => await local.group.propose(encodeKvCommand(cmd), { signal: options.signal, timeoutMs: this.timeoutMs }))
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

  /**
   * Records a descriptor, persists it, and starts or stops the local replica
   * to match. For one group the newer epoch wins; a different group for the
   * same name (a concurrent creation) is refused unless the current one was
   * deleted. Returns false on such a conflict.
   */
  private async adopt (d: GroupDescriptor): Promise<boolean> {
    const cur = this.descriptors.get(d.name)
    if (cur !== undefined) {
      if (cur.group === d.group) {
        if (!isNewer(d, cur)) return true
      } else if (cur.deleted !== true || d.deleted === true) {
        return false
      } else {
        await this.stopLocal(cur, true)
      }
    }
    this.descriptors.set(d.name, d)
    await this.init.datastore.put(new Key(`${DESCRIPTOR_PREFIX}/${d.name}`), new TextEncoder().encode(JSON.stringify(d)))
    if (d.deleted === true || !membersOf(d).includes(this.selfId)) {
      await this.stopLocal(d, true)
    } else {
      await this.ensureReplica(d)
    }
    return true
  }

  /** stops this peer's replica of `d`'s group; `discard` removes its log (deleted, or no longer a member) */
  private async stopLocal (d: GroupDescriptor, discard: boolean): Promise<void> {
    const local = this.locals.get(d.name)
    if (local === undefined || local.group.group !== d.group) return
    this.locals.delete(d.name)
    await local.group.stop()
    if (discard) await rm(join(this.init.dataDir, 'raft', d.group), { recursive: true, force: true })
    await this.init.reservations?.drop(`raft.${d.name}`).catch(() => {})
    this.init.logger.info({ service: d.name, group: d.group, deleted: d.deleted === true }, 'raft replica stopped: no longer a member')
  }

  private async ensureReplica (d: GroupDescriptor): Promise<void> {
    if (!this.running || this.locals.has(d.name) || d.deleted === true) return
    if (!d.voters.includes(this.selfId) && !d.learners.includes(this.selfId)) return
    const boot = bootstrapOf(d)
    // a member added by a membership change joins with an empty log; the leader brings it up to date
    const joining = !boot.voters.includes(this.selfId) && !boot.learners.includes(this.selfId)
    const named = new Set([...membersOf(d), ...boot.voters, ...boot.learners])
    const kv = new KvStateMachine()
    const group = new RaftGroup<KvResult>({
      group: d.group,
      self: this.selfId,
      dir: join(this.init.dataDir, 'raft', d.group),
      transport: this.transport,
      stateMachine: kv,
      voters: boot.voters,
      learners: boot.learners,
      join: joining,
      accept: (peer) => named.has(peer),
      logger: this.init.logger,
      walMetrics: this.walMetrics,
      ...(this.init.walCipherFor !== undefined ? { walCipher: this.init.walCipherFor(d.group) } : {}),
      tickMs: this.init.tickMs,
      electionTick: this.init.electionTick,
      quiesce: this.init.quiesce,
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
    if (s === undefined) { s = new Map(); this.acked.set(d.name, s) }
    s.set(peer, `${d.group}#${epochOf(d)}`)
  }

  private async announceToAll (d: GroupDescriptor, peers: string[] = this.candidates().map(c => c.peerId)): Promise<void> {
    const done = this.acked.get(d.name) ?? new Map<string, string>()
    const version = `${d.group}#${epochOf(d)}`
    const targets = peers.filter(p => p !== this.selfId && done.get(p) !== version)
    if (targets.length === 0) return
    await Promise.allSettled(targets.map(async p => this.announceTo(p, d, this.deadline())))
  }

  private async reserveOn (service: string, peer: string): Promise<boolean> {
    const r = this.init.reservations
    if (r === undefined) return true
    try {
      return await r.reserve(peer, `raft.${service}`, { signal: this.deadline() })
    } catch (err) {
      this.init.logger.info({ service, peer, err: (err as Error).message }, 'replica reservation failed')
      return false
    }
  }

  // ---- self-healing and resize (the leader of each group acts) ----

  private repairAll (): void {
    if (!this.running) return
    // one view of the mesh per round, shared by every group (a peer may lead many idle groups)
    let view: { connected: Set<string>, where: Map<string, PlacementCandidate> } | undefined
    for (const d of this.descriptors.values()) {
      const local = this.locals.get(d.name)
      if (local === undefined || d.deleted === true) continue
      this.init.reservations?.hold(`raft.${d.name}`).catch((err: Error) => { this.init.logger.debug({ service: d.name, err: err.message }, 'renewing the replica reservation failed') })
      if (!local.group.isLeader || this.repairing.has(d.name)) continue
      view ??= { connected: this.liveness.snapshot(), where: new Map(this.candidates().map(c => [c.peerId, c])) }
      if (!this.needsRepair(d, local, view.connected, view.where)) continue
      this.repairing.add(d.name)
      void this.repairGroup(d, local)
        .catch((err: Error) => { this.init.logger.warn({ service: d.name, err: err.message }, 'raft membership repair failed; retried later') })
        .finally(() => { this.repairing.delete(d.name) })
    }
  }

  /** the cheap, synchronous part of repairGroup's decision: false when nothing is gone, misplaced or missing */
  private needsRepair (d: GroupDescriptor, local: Local, connected: Set<string>, where: Map<string, PlacementCandidate>): boolean {
    const m = local.group.membership()
    if (m.joint) return false
    const members = [...m.voters, ...m.learners]
    if (members.length !== d.spec.replicas) return true
    return members.some(p => this.liveness.isGone(p, connected) || (p !== this.selfId && where.has(p) && !eligible(where.get(p)!, d.spec.zones)))
  }

  /**
   * The leader replaces members whose peers are gone past the grace period
   * and adds or removes members to match spec.replicas: the new peers are
   * told first (they start an empty replica that joins), then one joint-
   * consensus membership change moves the group, then the new descriptor is
   * announced. Live members are never moved (no churn when peers appear or
   * return); a gone member stays until a replacement exists.
   */
  private async repairGroup (d: GroupDescriptor, local: Local): Promise<void> {
    const m = local.group.membership()
    if (m.joint) return
    const members = [...m.voters, ...m.learners]
    const connected = this.liveness.snapshot()
    const where = new Map(this.candidates().map(c => [c.peerId, c]))
    // members outside the listed zones (the zones were changed) are replaced like gone ones; never this leader
    const misplaced = members.filter(p => p !== this.selfId && where.has(p) && !eligible(where.get(p)!, d.spec.zones))
    const gone = [...new Set([...members.filter(p => this.liveness.isGone(p, connected)), ...misplaced])]
    const desired = d.spec.replicas
    if (gone.length === 0 && members.length === desired) return
    const keep = members.filter(p => !gone.includes(p))
    const self = where.get(this.selfId) ?? { peerId: this.selfId, region: this.init.region ?? null, zone: this.init.zone ?? null }
    const add: string[] = []
    if (keep.length < desired) {
      const pool = this.candidates()
        .filter(c => !members.includes(c.peerId) && eligible(c, d.spec.zones) && this.liveness.isLive(c.peerId, connected))
        .sort((a, b) => (distance(self, a, this.init.latency) ?? Infinity) - (distance(self, b, this.init.latency) ?? Infinity) || (a.peerId < b.peerId ? -1 : 1))
      for (const c of pool) {
        if (keep.length + add.length >= desired) break
        if (await this.reserveOn(d.name, c.peerId)) add.push(c.peerId)
      }
    }
    // gone members stay while no replacement exists (they may come back)
    let next = [...keep, ...add]
    next = [...next, ...gone.slice(0, Math.max(0, desired - next.length))]
    if (next.length > desired) {
      // shrinking: drop learners first, then voters, never this leader
      const order = [...m.learners, ...m.voters].filter(p => p !== this.selfId && next.includes(p))
      const drop = new Set(order.slice(0, next.length - desired))
      next = next.filter(p => !drop.has(p))
    }
    if (next.length === members.length && next.every(p => members.includes(p))) return
    const nv = voterCount(next.length)
    const ordered = [this.selfId, ...m.voters.filter(v => v !== this.selfId && next.includes(v)), ...next.filter(p => !m.voters.includes(p))]
    const voters = ordered.slice(0, nv).sort()
    const learners = ordered.slice(nv).sort()
    const stamp = (epoch: number, v: string[], l: string[]): GroupDescriptor => {
      const priorities: Record<string, number> = {}
      for (const x of v) priorities[x] = d.priorities[x] ?? 1
      return { ...this.need(d.name), voters: v, learners: l, priorities, epoch, updatedBy: this.selfId, updatedAt: new Date().toISOString() }
    }
    this.init.logger.info({ event: 'raft-membership-change', service: d.name, gone, add, voters, learners }, 'changing the raft membership')
    // 1. the new members learn the target first, so their replicas run (and join) when the leader starts sending
    const prepare = stamp(Math.max(epochOf(this.need(d.name)), epochOf(d)) + 1, voters, learners)
    const told: string[] = []
    for (const p of add) {
      try {
        await this.announceTo(p, prepare, this.deadline())
        told.push(p)
      } catch (err) {
        this.init.logger.info({ service: d.name, peer: p, err: (err as Error).message }, 'a new member could not be told; not added this round')
      }
    }
    if (told.length < add.length) {
      const missing = add.filter(p => !told.includes(p))
      await Promise.all(missing.map(async p => this.init.reservations?.release(p, `raft.${d.name}`).catch(() => {})))
      return
    }
    // 2. one joint-consensus change (quorums of both configurations while it lasts)
    await local.group.changeMembership({ voters, learners }, { timeoutMs: this.init.membershipTimeoutMs ?? 30_000, signal: this.shutdown.signal })
    // 3. the agreed configuration becomes the descriptor every peer learns
    const applied = local.group.membership()
    const final = stamp(epochOf(prepare) + 1, applied.voters, applied.learners)
    await this.adopt(final)
    void this.announceToAll(final).catch(() => {})
    const removed = members.filter(p => ![...applied.voters, ...applied.learners].includes(p))
    await Promise.all(removed.map(async p => this.init.reservations?.release(p, `raft.${d.name}`).catch(() => {})))
    this.init.logger.info({ event: 'replica-repaired', service: d.name, removed, added: add, voters: applied.voters, learners: applied.learners }, 'raft membership changed')
  }

  private async maintain (): Promise<void> {
    if (!this.running) return
    const peers = this.candidates().map(c => c.peerId)
    for (const d of this.descriptors.values()) {
      const local = this.locals.get(d.name)
      if (local === undefined || d.deleted === true) continue
      this.announceToAll(d, peers).catch((err: unknown) => { this.init.logger.debug({ service: d.name, err: (err as Error)?.message }, 'announcing the group failed') })
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
    const members = [...d.voters, ...d.learners]
    let hint = this.leaderHint.get(d.name)
    // a hint naming a peer that is no longer a member is stale
    if (hint !== undefined && !members.includes(hint)) { this.leaderHint.delete(d.name); hint = undefined }
    const targets = [...new Set([...(hint !== undefined ? [hint] : []), ...members])].filter(p => p !== this.selfId)
    const signal = this.deadline(options.signal)
    // one silent member (killed, cut off: its packets dropped) must not use up
    // the whole deadline: each dial gets a share of it, so the live members
    // are still tried in time
    const dialMs = Math.max(1000, Math.floor(this.timeoutMs / Math.max(1, targets.length)))
    let lastErr: unknown
    for (const peer of targets) {
      let stream: Stream
      try {
        stream = await this.dial(peer, AbortSignal.any([signal, AbortSignal.timeout(dialMs)]))
      } catch (err) {
        // nothing was sent: safe to try the next member; a leader hint that
        // cannot be dialled is forgotten (the next answer names the new leader)
        lastErr = err
        if (this.leaderHint.get(d.name) === peer) this.leaderHint.delete(d.name)
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
    return await inSpan(`dcis.raft.kv.${req.t}`, { kind: SpanKind.CLIENT, attributes: { 'dcis.peer.target': peer } }, async () => {
      const stream = await this.dial(peer, signal)
      return await this.exchange(stream, { ...req, ...traceFields() }, signal)
    })
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
        const incoming = incomingTrace(req)
        res = await inSpan(`dcis.raft.kv.serve.${req.t}`, { kind: SpanKind.SERVER, parent: incoming.parent, links: incoming.links, attributes: { 'dcis.peer.caller': peerAttr(remote, incoming.crossed) } }, async () => await this.handle(req, remote, signal))
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
    if (!await memberOrLearnt(this.init.registry, remote, () => this.init.registry.list().some(e => e.end.peerId === remote))) {
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
    if (!this.has(req.name)) return { ok: false, error: 'ServiceNotFoundError', message: `no service named ${req.name}` }
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
    if (d === undefined || d.deleted === true) throw new ServiceNotFoundError(name)
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
    return endAddresses(this.init.registry, peer)
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
