/**
 * One replicated object held by this peer (a service replica or the
 * catalogue): its sectioned state, HLC, staleness tracker, the local deltas
 * waiting to be gossiped (bounded: flushed when the batch is full) and
 * coalesced persistence to the datastore.
 */
import { Key } from 'interface-datastore'
import { join } from '../index.js'
import type { Hlc, ORMap } from '../index.js'
import { HLC_ZERO } from '../hlc.js'
import { CoalescedWriter } from './coalesced-writer.js'
import { applyDelta, bottomState, decodeSnapshot, encodeSnapshot, StalenessTracker } from '../replication/index.js'
import type { SectionDelta, SectionedState } from '../replication/index.js'
import type { Datastore } from 'interface-datastore'

export const CATALOGUE_OBJECT = '_catalogue'

export function objectKey (name: string): Key {
  return new Key(`/dcis/crdt/objects/${encodeURIComponent(name)}`)
}

export class ReplicatedObject {
  readonly name: string
  readonly topic: string
  state: SectionedState
  clock: Hlc = HLC_ZERO
  readonly tracker = new StalenessTracker()
  /** local deltas not yet gossiped (joined into one delta-group) */
  pending: Array<ORMap | null>
  pendingOps = 0
  flushTimer?: ReturnType<typeof setTimeout>
  /** when staleness last exceeded the bound (for logging once per episode) */
  overBound = false
  private readonly datastore: Datastore
  private readonly writer = new CoalescedWriter(async () => {
    await this.datastore.put(objectKey(this.name), encodeSnapshot(this.state, this.clock))
  })

  constructor (name: string, types: SectionedState['types'], datastore: Datastore) {
    this.name = name
    this.topic = `dcis/crdt/${name}/1`
    this.state = bottomState(types)
    this.pending = types.map(() => null)
    this.datastore = datastore
  }

  /** loads the persisted snapshot, if any; returns whether one was found */
  async load (): Promise<boolean> {
    const key = objectKey(this.name)
    if (!(await this.datastore.has(key))) return false
    const { state, clock } = decodeSnapshot(await this.datastore.get(key), this.state.types)
    this.state = state
    this.clock = clock
    return true
  }

  /** deletes the persisted state (the service was deleted) */
  async discard (): Promise<void> {
    await this.writer.flushed()
    await this.datastore.delete(objectKey(this.name))
  }

  apply (delta: SectionDelta): void {
    this.state = applyDelta(this.state, delta)
  }

  /** remembers a local delta for the next gossip flush */
  queue (delta: SectionDelta): void {
    this.pending = this.pending.map((p, i) => {
      const d = delta[i]
      if (d == null) return p
      return p == null ? d : join(p, d)
    })
    this.pendingOps++
  }

  takePending (): SectionDelta | null {
    if (this.pendingOps === 0) return null
    const out = this.pending
    this.pending = this.pending.map(() => null)
    this.pendingOps = 0
    return out
  }

  /**
   * Writes the current state (coalesced: calls made while a write is queued
   * share it). Resolves once a snapshot taken after this call is stored.
   */
  async persist (): Promise<void> {
    return this.writer.write()
  }

  async flushed (): Promise<void> {
    await this.writer.flushed()
  }
}
