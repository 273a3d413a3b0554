import type { AbortOptions } from '@libp2p/interface'

/** An EdgeStatefulService manifest's spec, normalised. */
export interface ServiceSpec {
  name: string
  replicas: number
  runtime: string
  mode: 'eventual' | 'strong'
  /** eventual only: 'delta-crdts' | 'automerge' */
  crdtEngine: 'delta-crdts' | 'automerge'
  /** zones replicas go to, one per zone first; [] = anywhere */
  zones: string[]
  /** eventual: staleness bound to measure against */
  maxStalenessMs: number
  /** strong: voters within this RTT radius */
  latencyRadiusMs: number
  /** eventual: retention of the service's append-only logs (absent = keep everything) */
  logRetention?: LogRetention
  /** true: the manifest says `access: public`, reads of its data need no token */
  public?: boolean
}

export interface LogRetention {
  /** entries older than this (HLC wall time) are dropped */
  maxAgeMs?: number
  /** at most this many entries per log key are kept (the newest) */
  maxEntries?: number
}

export interface ReplicaStatus {
  peerId: string
  region: string | null
  zone: string | null
  /** strong: voter | learner; eventual: replica */
  role: 'voter' | 'learner' | 'replica'
}

export interface ServiceCondition {
  /** Available | FullyReplicated | ZonesServed */
  type: string
  status: 'True' | 'False' | 'Unknown'
  reason: string
  message: string
}

export interface ServiceStatus {
  name: string
  spec: ServiceSpec
  /** the placed replicas (eventual: the catalogue entry; strong: the Raft configuration) */
  replicas: ReplicaStatus[]
  /** spec.replicas */
  desiredReplicas: number
  /** placed replicas whose peers this peer can reach now (itself included) */
  liveReplicas: ReplicaStatus[]
  conditions: ServiceCondition[]
  /** strong: the Raft leader's peer id, null while electing */
  leader?: string | null
  term?: number
  commitIndex?: number
  /** eventual: how far behind this peer's replica is (ms), null if it is not a replica */
  stalenessMs?: number | null
  /** whether this peer holds a replica */
  local: boolean
}

export interface KvEntry {
  key: string
  value: string
  revision: number
}

export interface WriteOptions extends AbortOptions {
  /** compare-and-set: only if the key's revision is N (0 = only if absent) */
  ifRevision?: number
  /** the caller's bearer token, forwarded when the write goes to another peer */
  token?: string
}

export interface ReadOptions extends AbortOptions {
  token?: string
}

/**
 * A consistency backend: strong (Raft) or eventual (CRDTs). Any peer can
 * call any method for any service of the mesh: a backend forwards to the
 * peer that can answer (the Raft leader, the nearest replica).
 */
export interface ServiceBackend {
  readonly mode: 'eventual' | 'strong'
  /** creates or updates a service (idempotent); resolves once the placement is agreed */
  apply (spec: ServiceSpec, options?: WriteOptions): Promise<ServiceStatus>
  /** true when the mesh knows this service under this backend */
  has (name: string): boolean
  list (): string[]
  status (name: string, options?: ReadOptions): Promise<ServiceStatus>
  get (name: string, key: string, options?: ReadOptions): Promise<KvEntry>
  put (name: string, key: string, value: string, options?: WriteOptions): Promise<{ revision: number }>
  delete (name: string, key: string, options?: WriteOptions): Promise<{ revision: number }>
  /** counters: eventual backends (PN-counter); strong backends may implement them too */
  /** deletes a service mesh-wide: its replicas stop, reservations are released */
  remove (name: string, options?: WriteOptions): Promise<void>
  counter? (name: string, key: string, options?: ReadOptions): Promise<{ value: number }>
  addCounter? (name: string, key: string, delta: number, options?: WriteOptions): Promise<{ value: number }>
}

/**
 * Re-authorisation of a call another peer forwarded: the receiving peer
 * checks the original caller's token itself (src/api/auth.ts
 * authorizeForwarded). Resolves true when allowed.
 */
export type ForwardAuthorizer = (request: { access: 'read' | 'write', service: string, token?: string, remotePeer: string }) => Promise<boolean>
