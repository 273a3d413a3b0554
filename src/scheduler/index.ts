/**
 * Scheduler: latency-aware placement (pure: src/scheduler/placement.ts) and
 * the allocation protocol `/dcis/alloc/1.0.0` with each peer's reservation
 * ledger (persisted under `/dcis/alloc/` in the node's datastore).
 *
 * The service depends on narrow interfaces: a `CandidateSource` (the
 * verified registry), a `LatencyOracle` (the latency map plus a direct
 * probe), the libp2p calls it makes, a datastore, a logger and optionally
 * the metrics registry.
 */
import { AllocationService } from './service.js'
import type { Constraints } from './constraints.js'
import type { AllocRequest } from './frames.js'
import type { AllocationNode, Capacity } from './ledger.js'
import type { LatencyView, PlacementExplanation } from './placement.js'
import type { RegistryEntry } from '../registry/index.js'
import type { LearnsCallers } from '../registry/callers.js'
import type { Logger } from '../telemetry/index.js'
import type { AbortOptions, Libp2p } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { Registry } from 'prom-client'

/** `LatencyService.oracle()` of src/latency/service satisfies it. */
export interface LatencyOracle {
  /** best estimate of the RTT from peer `from` to peer `to` (ms) with an error bound, or null if unknown */
  estimate (from: string, to: string): LatencyView | null
  /** a direct ping from this peer (ms), for borderline candidates */
  probe (peerId: string, options?: AbortOptions): Promise<number>
}

/** Where candidates come from: the verified registry (`EndRegistry` satisfies it). */
export interface CandidateSource extends LearnsCallers {
  list (): RegistryEntry[]
}

/** The libp2p calls the service makes. */
export type AllocNetwork = Pick<Libp2p, 'peerId' | 'handle' | 'unhandle' | 'dialProtocol'>

export interface SchedulerComponents {
  libp2p: AllocNetwork
  /** the node's datastore; reservations live under /dcis/alloc/ */
  datastore: Datastore
  registry: CandidateSource
  oracle: LatencyOracle
  logger: Logger
  metrics?: Registry
}

export interface SchedulerInit {
  /** what this peer offers to reservations (its declared cores and MiB) */
  capacity: Capacity
  /** lease when the request names none (default 15 min) */
  defaultLeaseMs?: number
  /** longest lease granted (default 24 h) */
  maxLeaseMs?: number
  /** how often expired leases are swept (default 5 s) */
  sweepIntervalMs?: number
  /** timeout of one protocol call (default 10 s) */
  callTimeoutMs?: number
  /** timeout of one borderline probe (default 5 s) */
  probeTimeoutMs?: number
  /** most reservations this peer holds (default 10 000) */
  maxReservations?: number
  /** concurrent inbound protocol streams (default 64) */
  maxInboundStreams?: number
  /**
   * Who may use this peer's ledger over /dcis/alloc/1.0.0 (reserve, commit,
   * renew, release, get). Default: peers with a verified descriptor in the
   * registry (federation members), and this peer itself.
   */
  authorize?: (remotePeer: string, op: AllocRequest['op']) => boolean
  /**
   * Re-authorises a forwarded request on the original caller's behalf
   * (src/api/auth.ts allocForwardAuthorizer): called with the frame's token
   * when it carries one, and without a token for a get/release/renew of an
   * allocation the remote peer neither owns nor placed. None: not checked
   * (membership alone, as `authorize` says). docs/security.md.
   */
  authorizeCall?: (request: { token?: string, remotePeer: string, op: AllocRequest['op'], id: string }) => Promise<boolean>
  /**
   * With the default `authorize`: the least trust level (of the caller's
   * verified descriptor) a federation member needs to use this peer's
   * ledger (default 0: any verified member)
   */
  minTrust?: number
  /** clock, ms since the epoch (default Date.now) */
  now?: () => number
  /** random bytes for allocation ids (default crypto.randomBytes) */
  randomBytes?: (n: number) => Uint8Array
}

export interface AllocationNodeView extends AllocationNode {
  /** the RTT estimate (or probe) from the measuring point when placed; only in the POST answer */
  rttMs?: number | null
}

/** An allocation as the API returns it. */
export interface AllocationView {
  /** `<ownerPeerId>.<suffix>` */
  id: string
  nodes: AllocationNodeView[]
  constraints: Constraints
  /** ISO 8601 */
  expiresAt: string
  leaseMs: number
  /** cores reserved on each node */
  cpu: number
  /** MiB reserved on each node */
  memoryMb: number
  /** with ?explain=true: what the filters removed */
  explanation?: PlacementExplanation
}

export function createAllocationService (components: SchedulerComponents, init: SchedulerInit): AllocationService {
  return new AllocationService(components, init)
}

export { AllocationService, toView } from './service.js'
export { ServiceReservations, reservationId, DEFAULT_REPLICA_CPU, DEFAULT_REPLICA_MEMORY_MB } from './client.js'
export type { ReplicaReservations, ServiceReservationsInit } from './client.js'
export type { ServiceStatus } from './service.js'
export { allocationRoutes } from './routes.js'
export {
  parseConstraints, parseAllocationRequest, parseMemory, parseCpu, publicConstraints,
  MAX_REPLICAS, RUNTIMES, RUNTIME_ALIASES
} from './constraints.js'
export type { Constraints, ParsedConstraints, AllocationRequest, Runtime } from './constraints.js'
export {
  planPlacement, classifyLatency, candidateFromEntry, chooseReplicas, failedFilter, scoreCandidate,
  summarizeExplanation, SpreadSelector, FILTERS
} from './placement.js'
export type { Candidate, LatencyView, LatencyClass, PlacementExplanation, PlacementInput, PlacementPlan, ScoredCandidate, FilterName } from './placement.js'
export { ReservationLedger, LEDGER_PREFIX } from './ledger.js'
export type { Reservation, ReserveRequest, ReserveResult, Capacity, AllocationNode, LedgerInit } from './ledger.js'
export { ALLOC_PROTOCOL, MAX_FRAME_BYTES, encodeFrame, decodeRequest, decodeResponse } from './frames.js'
export type { AllocRequest, AllocResponse, RefusalReason } from './frames.js'
export { makeAllocationId, parseAllocationId, isAllocationId } from './ids.js'
export {
  InvalidConstraintsError, NoPlacementError, InvalidAllocationIdError, AllocationNotFoundError,
  AllocationPeerError, InvalidAllocFrameError, SchedulerNotStartedError, SCHEDULER_ERROR_STATUS
} from './errors.js'
