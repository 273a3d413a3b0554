/**
 * Shared Raft data types: the contract between the deterministic core
 * (src/raft/core), log storage (src/raft/storage) and the transport.
 * Shaped after etcd-io/raft's raftpb, in our own words.
 */

export type NodeId = string

export enum EntryType {
  Normal = 0,
  ConfChange = 1
}

export interface Entry {
  term: number
  index: number
  type: EntryType
  data: Uint8Array
}

/** What must be on disk before any message that depends on it is sent. */
export interface HardState {
  term: number
  /** the candidate voted for in `term`, '' for none */
  vote: NodeId
  commit: number
}

export interface ConfState {
  voters: NodeId[]
  learners: NodeId[]
  /** voters of the outgoing config while in a joint config, else [] */
  votersOutgoing: NodeId[]
  /** learners to add once the joint config is left */
  learnersNext: NodeId[]
  autoLeave: boolean
}

export interface SnapshotMetadata {
  index: number
  term: number
  confState: ConfState
}

export interface Snapshot {
  metadata: SnapshotMetadata
  data: Uint8Array
}

/**
 * Read side of the log the core consults (etcd's `Storage`). Index 0 / term 0
 * is the empty-log sentinel. Entries below firstIndex() are compacted.
 */
export interface LogStorage {
  initialState (): { hardState: HardState, confState: ConfState }
  /** entries in [lo, hi), at most maxBytes of data (always at least one entry if any is in range) */
  entries (lo: number, hi: number, maxBytes?: number): Entry[]
  /** term of entry i; throws CompactedError below firstIndex()-1, UnavailableError above lastIndex() */
  term (i: number): number
  firstIndex (): number
  lastIndex (): number
  snapshot (): Snapshot
}

export function emptyConfState (): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }
}

export function emptyHardState (): HardState {
  return { term: 0, vote: '', commit: 0 }
}
