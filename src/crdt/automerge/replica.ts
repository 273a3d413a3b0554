/**
 * A local replica of an automerge service: the document, its durable copy
 * (A.save, coalesced writes), staleness accounting, and automerge sync
 * sessions (generateSyncMessage / receiveSyncMessage) over one libp2p
 * stream per session.
 *
 * Session frames (length-prefixed): the initiator's first frame is the
 * service name; then both sides alternate, initiator first, each frame
 * being `0` (nothing to send) or `1` + a sync message. The session ends
 * after a round in which neither side had anything to send, or after
 * MAX_ROUNDS.
 */
import * as A from '@automerge/automerge'
import { Key } from 'interface-datastore'
import { StalenessTracker } from '../replication/index.js'
import { CoalescedWriter } from '../service/coalesced-writer.js'
import { actorOf, baseDoc } from './doc.js'
import type { ServiceDoc } from './doc.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { Uint8ArrayList } from 'uint8arraylist'

export { AUTOMERGE_SYNC_PROTOCOL } from './protocol.js'
export const MAX_ROUNDS = 64

/** the subset of @libp2p/utils' lpStream a session uses */
export interface FrameStream {
  read: (options?: AbortOptions) => Promise<Uint8ArrayList>
  write: (data: Uint8Array, options?: AbortOptions) => Promise<void>
}

export class AutomergeFrameError extends Error {
  static readonly code = 'CRDT_AUTOMERGE_FRAME_INVALID'
  readonly code = AutomergeFrameError.code
  readonly field: string
  constructor (field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'AutomergeFrameError'
    this.field = field
  }
}

function docKey (name: string): Key {
  return new Key(`/dcis/crdt/automerge/${encodeURIComponent(name)}`)
}

export class AutomergeReplica {
  readonly name: string
  readonly topic: string
  readonly self: string
  doc: A.Doc<ServiceDoc>
  readonly tracker = new StalenessTracker()
  overBound = false
  syncTimer?: ReturnType<typeof setTimeout>
  private readonly datastore: Datastore
  private readonly writer = new CoalescedWriter(async () => {
    await this.datastore.put(docKey(this.name), A.save(this.doc))
  })

  constructor (name: string, self: string, datastore: Datastore) {
    this.name = name
    this.self = self
    this.topic = `dcis/crdt/${name}/1`
    this.datastore = datastore
    this.doc = baseDoc(actorOf(self))
  }

  async load (): Promise<boolean> {
    const key = docKey(this.name)
    if (!(await this.datastore.has(key))) return false
    const loaded = A.load<ServiceDoc>(await this.datastore.get(key), { actor: actorOf(this.self) })
    this.doc = A.merge(this.doc, loaded)
    return true
  }

  /** writes the current document (coalesced with writes already queued) */
  async persist (): Promise<void> {
    return this.writer.write()
  }

  async flushed (): Promise<void> {
    if (this.syncTimer != null) clearTimeout(this.syncTimer)
    this.syncTimer = undefined
    await this.writer.flushed()
  }

  /** deletes the persisted document (the service was deleted) */
  async discard (): Promise<void> {
    await this.flushed()
    await this.datastore.delete(docKey(this.name))
  }

  private receive (ss: A.SyncState, frame: Uint8Array, field: string): { ss: A.SyncState, empty: boolean } {
    if (frame.length === 0) throw new AutomergeFrameError(field, 'empty frame')
    if (frame[0] === 0) {
      if (frame.length !== 1) throw new AutomergeFrameError(field, 'trailing bytes after "nothing"')
      return { ss, empty: true }
    }
    if (frame[0] !== 1) throw new AutomergeFrameError(field, `unknown tag ${frame[0]}`)
    let next: [A.Doc<ServiceDoc>, A.SyncState, null]
    try {
      next = A.receiveSyncMessage(this.doc, ss, frame.subarray(1))
    } catch (err) {
      throw new AutomergeFrameError(field, `not an automerge sync message: ${(err as Error).message}`)
    }
    this.doc = next[0]
    return { ss: next[1], empty: false }
  }

  private generate (ss: A.SyncState): { ss: A.SyncState, frame: Uint8Array, empty: boolean } {
    const [next, msg] = A.generateSyncMessage(this.doc, ss)
    if (msg == null) return { ss: next, frame: Uint8Array.of(0), empty: true }
    const frame = new Uint8Array(msg.length + 1)
    frame[0] = 1
    frame.set(msg, 1)
    return { ss: next, frame, empty: false }
  }

  /** Runs a session as the initiator (the service name frame is already sent). Returns whether the doc changed. */
  async initiate (lp: FrameStream, options: AbortOptions): Promise<boolean> {
    const before = A.getHeads(this.doc).join()
    let ss = A.initSyncState()
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const out = this.generate(ss)
      ss = out.ss
      await lp.write(out.frame, options)
      const got = this.receive(ss, (await lp.read(options)).subarray(), `rounds[${round}]`)
      ss = got.ss
      if (out.empty && got.empty) break
    }
    return A.getHeads(this.doc).join() !== before
  }

  /** Runs a session as the responder (after the service name frame). Returns whether the doc changed. */
  async respond (lp: FrameStream, options: AbortOptions): Promise<boolean> {
    const before = A.getHeads(this.doc).join()
    let ss = A.initSyncState()
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const got = this.receive(ss, (await lp.read(options)).subarray(), `rounds[${round}]`)
      ss = got.ss
      const out = this.generate(ss)
      ss = out.ss
      await lp.write(out.frame, options)
      if (out.empty && got.empty) break
    }
    return A.getHeads(this.doc).join() !== before
  }
}
