/**
 * A small client of the allocation protocol for workloads placed by other
 * capabilities (service replicas now; functions may use it later): it
 * reserves a replica's capacity on the chosen peer over /dcis/alloc/1.0.0
 * (reserve, then commit naming the node), keeps the reservation of a replica
 * this peer holds alive (renewing its lease), and releases it when the
 * replica is deleted or re-placed. So `free` in END descriptors and
 * `GET /v1/allocations` tell the truth about what the mesh runs.
 *
 * One reservation per (peer, workload): its id is `<peer>.<hash of the
 * workload name>`, so the peer holding the replica owns it (and renews it),
 * and any peer can release it from the names alone.
 */
import { createHash } from 'node:crypto'
import { makeAllocationId } from './ids.js'
import type { AllocationService } from './service.js'
import type { AbortOptions } from '@libp2p/interface'

/** what a service replica reserves when its manifest names no resources */
export const DEFAULT_REPLICA_CPU = 0.1
export const DEFAULT_REPLICA_MEMORY_MB = 64

/** The narrow interface the service backends use. */
export interface ReplicaReservations {
  /** reserves (and commits) a replica of `workload` on `peer`; false when the peer refuses (capacity, trust) */
  reserve: (peer: string, workload: string, options?: AbortOptions) => Promise<boolean>
  /** releases it on `peer` (best effort: a lease left behind expires) */
  release: (peer: string, workload: string, options?: AbortOptions) => Promise<void>
  /** this peer holds a replica of `workload`: keep its reservation here (reserve if missing, renew before expiry) */
  hold: (workload: string, options?: AbortOptions) => Promise<void>
  /** this peer no longer holds it: release the local reservation */
  drop: (workload: string, options?: AbortOptions) => Promise<void>
}

export interface ServiceReservationsInit {
  /** cores per replica (default 0.1) */
  cpu?: number
  /** MiB per replica (default 64) */
  memoryMb?: number
  /** lease of a replica reservation (default 1 h); the holder renews it at half-time */
  leaseMs?: number
}

export function reservationId (peer: string, workload: string): string {
  return makeAllocationId(peer, `w${createHash('sha256').update(workload).digest('base64url').slice(0, 32)}`)
}

export class ServiceReservations implements ReplicaReservations {
  private readonly cpu: number
  private readonly memoryMb: number
  private readonly leaseMs: number

  constructor (private readonly alloc: AllocationService, init: ServiceReservationsInit = {}) {
    this.cpu = init.cpu ?? DEFAULT_REPLICA_CPU
    this.memoryMb = init.memoryMb ?? DEFAULT_REPLICA_MEMORY_MB
    this.leaseMs = init.leaseMs ?? 3600_000
  }

  async reserve (peer: string, workload: string, options: AbortOptions = {}): Promise<boolean> {
    const id = reservationId(peer, workload)
    const res = await this.alloc.request(peer, { v: 1, op: 'reserve', id, cpu: this.cpu, memoryMb: this.memoryMb, leaseMs: this.leaseMs, constraints: {} }, options)
    // 'duplicate': the peer already holds this replica's reservation (placed before, or by the holder itself)
    if (!res.ok) return res.error === 'duplicate'
    const committed = await this.alloc.request(peer, { v: 1, op: 'commit', id, nodes: [this.alloc.nodeOf(peer)] }, options)
    return committed.ok
  }

  async release (peer: string, workload: string, options: AbortOptions = {}): Promise<void> {
    await this.alloc.request(peer, { v: 1, op: 'release', id: reservationId(peer, workload) }, options)
  }

  async hold (workload: string, options: AbortOptions = {}): Promise<void> {
    const self = this.alloc.selfId
    const id = reservationId(self, workload)
    const held = this.alloc.ledger.get(id)
    if (held == null) {
      await this.reserve(self, workload, options)
      return
    }
    if (held.expiresAt - Date.now() < held.leaseMs / 2) await this.alloc.request(self, { v: 1, op: 'renew', id, leaseMs: this.leaseMs }, options)
  }

  async drop (workload: string, options: AbortOptions = {}): Promise<void> {
    await this.release(this.alloc.selfId, workload, options)
  }
}
