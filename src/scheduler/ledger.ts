/**
 * The reservation ledger of one peer: reservations against this peer's
 * declared capacity, serialized by a mutex (no overcommit however many
 * peers ask at once), persisted in the node's datastore under
 * `/dcis/alloc/` before they are acknowledged, with leases that expire.
 */
import { Key } from 'interface-datastore'
import { Mutex } from './mutex.js'
import type { Constraints } from './constraints.js'
import type { Datastore } from 'interface-datastore'

export const LEDGER_PREFIX = '/dcis/alloc/reservations'

export interface AllocationNode {
  peerId: string
  region: string
  zone: string
}

export interface Reservation {
  /** `<ownerPeerId>.<suffix>` */
  id: string
  cpu: number
  memoryMb: number
  leaseMs: number
  /** ms since the epoch */
  createdAt: number
  /** ms since the epoch */
  expiresAt: number
  /** peer id of the peer that placed it */
  placer: string
  constraints: Constraints
  /** on the owning peer: every node of the allocation (set by commit); [] elsewhere */
  nodes: AllocationNode[]
}

export interface ReserveRequest {
  id: string
  cpu: number
  memoryMb: number
  leaseMs: number
  placer: string
  constraints: Constraints
  /** the allocation's nodes, when known at reservation time (a single replica) */
  nodes?: AllocationNode[]
}

export type ReserveResult =
  | { accepted: true, reservation: Reservation }
  | { accepted: false, reason: 'capacity' | 'duplicate' | 'full', free: Capacity }

export interface Capacity {
  /** cores */
  cpu: number
  memoryMb: number
}

export interface LedgerInit {
  /** what this peer offers (declared capacity) */
  capacity: Capacity
  datastore: Datastore
  /** ms since the epoch (default Date.now) */
  now?: () => number
  /** most reservations held at once (default 10 000) */
  maxReservations?: number
  /** fsync each write when the datastore is a LevelDatastore (default true) */
  durable?: boolean
}

const MILLI = 1000
const toMilli = (cores: number): number => Math.round(cores * MILLI)

function reservationKey (id: string): Key {
  return new Key(`${LEDGER_PREFIX}/${id}`)
}

export class ReservationLedger {
  private readonly mutex = new Mutex()
  private readonly held = new Map<string, Reservation>()
  private readonly capacityMilli: number
  private readonly capacityMemMb: number
  private readonly datastore: Datastore
  private readonly now: () => number
  private readonly maxReservations: number
  private readonly durable: boolean
  private usedMilli = 0
  private usedMemMb = 0
  private opened = false

  constructor (init: LedgerInit) {
    if (!(init.capacity.cpu >= 0) || !(init.capacity.memoryMb >= 0)) throw new RangeError('ledger capacity must be >= 0')
    this.capacityMilli = toMilli(init.capacity.cpu)
    this.capacityMemMb = Math.floor(init.capacity.memoryMb)
    this.datastore = init.datastore
    this.now = init.now ?? Date.now
    this.maxReservations = init.maxReservations ?? 10_000
    this.durable = init.durable ?? true
  }

  /** Loads the reservations persisted by an earlier run; expired ones are deleted. Returns how many were loaded. */
  async open (options: { signal?: AbortSignal } = {}): Promise<number> {
    return this.mutex.run(async () => {
      this.held.clear()
      this.usedMilli = 0
      this.usedMemMb = 0
      const now = this.now()
      const expired: Key[] = []
      for await (const { key, value } of this.datastore.query({ prefix: LEDGER_PREFIX }, options)) {
        const r = decodeReservation(value)
        if (r == null || r.expiresAt <= now) {
          expired.push(key)
          continue
        }
        this.add(r)
      }
      for (const key of expired) await this.datastore.delete(key, options)
      this.opened = true
      return this.held.size
    })
  }

  get isOpen (): boolean {
    return this.opened
  }

  get capacity (): Capacity {
    return { cpu: this.capacityMilli / MILLI, memoryMb: this.capacityMemMb }
  }

  /** Free capacity now (expired leases count as free). */
  free (): Capacity {
    const now = this.now()
    let milli = this.usedMilli
    let mem = this.usedMemMb
    for (const r of this.held.values()) {
      if (r.expiresAt <= now) { milli -= toMilli(r.cpu); mem -= r.memoryMb }
    }
    return { cpu: (this.capacityMilli - milli) / MILLI, memoryMb: this.capacityMemMb - mem }
  }

  /** Reserves if the request fits the free capacity; persisted before it returns accepted. */
  async reserve (req: ReserveRequest): Promise<ReserveResult> {
    return this.mutex.run(async () => {
      await this.sweepLocked()
      const existing = this.held.get(req.id)
      if (existing != null) {
        // a retry of the same request is answered with what was granted
        if (existing.placer === req.placer && existing.cpu === req.cpu && existing.memoryMb === req.memoryMb) {
          return { accepted: true as const, reservation: { ...existing } }
        }
        return { accepted: false as const, reason: 'duplicate' as const, free: this.freeLocked() }
      }
      if (this.held.size >= this.maxReservations) return { accepted: false as const, reason: 'full' as const, free: this.freeLocked() }
      const milli = toMilli(req.cpu)
      if (this.usedMilli + milli > this.capacityMilli || this.usedMemMb + req.memoryMb > this.capacityMemMb) {
        return { accepted: false as const, reason: 'capacity' as const, free: this.freeLocked() }
      }
      const now = this.now()
      const r: Reservation = {
        id: req.id,
        cpu: milli / MILLI,
        memoryMb: req.memoryMb,
        leaseMs: req.leaseMs,
        createdAt: now,
        expiresAt: now + req.leaseMs,
        placer: req.placer,
        constraints: req.constraints,
        nodes: req.nodes?.map(n => ({ ...n })) ?? []
      }
      await this.persist(r)
      this.add(r)
      return { accepted: true as const, reservation: { ...r } }
    })
  }

  /** Extends a live reservation's lease to now + leaseMs (or its own leaseMs). */
  async renew (id: string, leaseMs?: number): Promise<Reservation | undefined> {
    return this.update(id, r => {
      const lease = leaseMs ?? r.leaseMs
      return { ...r, leaseMs: lease, expiresAt: this.now() + lease }
    })
  }

  /** Records the allocation's node list on the owning peer. */
  async setNodes (id: string, nodes: AllocationNode[]): Promise<Reservation | undefined> {
    return this.update(id, r => ({ ...r, nodes: nodes.map(n => ({ ...n })) }))
  }

  /** Replaces a live reservation (cpu and memory unchanged) with change(it), persisted first. */
  private async update (id: string, change: (r: Reservation) => Reservation): Promise<Reservation | undefined> {
    return this.mutex.run(async () => {
      await this.sweepLocked()
      const r = this.held.get(id)
      if (r == null) return undefined
      const next = change(r)
      await this.persist(next)
      this.held.set(id, next)
      return { ...next }
    })
  }

  /** Frees a reservation; returns it, or undefined if there was none. */
  async release (id: string): Promise<Reservation | undefined> {
    return this.mutex.run(async () => {
      const r = this.held.get(id)
      if (r == null) return undefined
      await this.remove1(reservationKey(id))
      this.remove(r)
      return r.expiresAt > this.now() ? { ...r } : undefined
    })
  }

  get (id: string): Reservation | undefined {
    const r = this.held.get(id)
    if (r == null || r.expiresAt <= this.now()) return undefined
    return { ...r }
  }

  list (): Reservation[] {
    const now = this.now()
    return [...this.held.values()].filter(r => r.expiresAt > now).map(r => ({ ...r })).sort((a, b) => a.id < b.id ? -1 : 1)
  }

  /** Deletes expired reservations (their capacity is free again); returns their ids. */
  async sweep (): Promise<string[]> {
    return this.mutex.run(async () => this.sweepLocked())
  }

  private async sweepLocked (): Promise<string[]> {
    const now = this.now()
    const gone: string[] = []
    for (const r of this.held.values()) {
      if (r.expiresAt <= now) gone.push(r.id)
    }
    for (const id of gone) {
      await this.remove1(reservationKey(id))
      const r = this.held.get(id)
      if (r != null) this.remove(r)
    }
    return gone
  }

  private freeLocked (): Capacity {
    return { cpu: (this.capacityMilli - this.usedMilli) / MILLI, memoryMb: this.capacityMemMb - this.usedMemMb }
  }

  private add (r: Reservation): void {
    this.held.set(r.id, r)
    this.usedMilli += toMilli(r.cpu)
    this.usedMemMb += r.memoryMb
  }

  private remove (r: Reservation): void {
    if (this.held.delete(r.id)) {
      this.usedMilli -= toMilli(r.cpu)
      this.usedMemMb -= r.memoryMb
    }
  }

  private async persist (r: Reservation): Promise<void> {
    const key = reservationKey(r.id)
    const value = new TextEncoder().encode(JSON.stringify(r))
    const db = this.syncDb()
    if (db != null) await db.put(key.toString(), value, { sync: true })
    else await this.datastore.put(key, value)
  }

  private async remove1 (key: Key): Promise<void> {
    const db = this.syncDb()
    if (db != null) await db.del(key.toString(), { sync: true })
    else await this.datastore.delete(key)
  }

  /**
   * The LevelDB handle of a LevelDatastore (datastore-level exposes `db`),
   * so that a reservation is fsynced before it is acknowledged; other
   * datastores are written through the Datastore interface.
   */
  private syncDb (): SyncLevel | undefined {
    if (!this.durable) return undefined
    const db = (this.datastore as { db?: unknown }).db as Partial<SyncLevel> | undefined
    return db != null && typeof db.put === 'function' && typeof db.del === 'function' ? db as SyncLevel : undefined
  }
}

interface SyncLevel {
  put (key: string, value: Uint8Array, options: { sync: boolean }): Promise<void>
  del (key: string, options: { sync: boolean }): Promise<void>
}

/** A stored reservation, or null if the bytes are not one (a corrupt record is dropped, not trusted). */
export function decodeReservation (bytes: Uint8Array): Reservation | null {
  let v: unknown
  try {
    v = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    return null
  }
  if (typeof v !== 'object' || v === null) return null
  const r = v as Record<string, unknown>
  const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0
  if (typeof r.id !== 'string' || typeof r.placer !== 'string') return null
  if (!num(r.cpu) || !num(r.memoryMb) || !num(r.leaseMs) || !num(r.createdAt) || !num(r.expiresAt)) return null
  if (typeof r.constraints !== 'object' || r.constraints === null || !Array.isArray(r.nodes)) return null
  const nodes: AllocationNode[] = []
  for (const n of r.nodes as unknown[]) {
    const o = n as Record<string, unknown> | null
    if (o == null || typeof o.peerId !== 'string' || typeof o.region !== 'string' || typeof o.zone !== 'string') return null
    nodes.push({ peerId: o.peerId, region: o.region, zone: o.zone })
  }
  return {
    id: r.id,
    cpu: r.cpu,
    memoryMb: r.memoryMb,
    leaseMs: r.leaseMs,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    placer: r.placer,
    constraints: r.constraints as Constraints,
    nodes
  }
}
