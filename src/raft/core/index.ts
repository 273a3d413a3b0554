/**
 * Deterministic Raft core (etcd-raft shaped). Public types and the factory.
 *
 * Driver contract (the driver owns clock, disk and network):
 *
 *   const node = createRaft({ id, storage, electionTick: 10, heartbeatTick: 1 })
 *   every tick interval:        node.tick()
 *   message from a peer:        node.step(msg)        (throws InvalidMessageError on a malformed one)
 *   client write:               node.propose(data)    (throws ProposalDroppedError when it cannot be taken now)
 *   linearizable read:          node.readIndex(ctx)   -> later a ReadState {index, ctx}: serve once applied >= index
 *   while (node.hasReady()) {
 *     const rd = node.ready()
 *     1. persist: rd.snapshot (install), rd.entries (append, truncating conflicts), rd.hardState
 *        — durably (fsync when rd.mustSync) BEFORE step 2
 *     2. send rd.messages; after sending a MsgSnap call node.reportSnapshot(to, ok)
 *     3. apply rd.committedEntries in order; for EntryType.ConfChange entries call
 *        node.applyConfChange(decodeAnyConfChange(e.data)) and keep the returned ConfState
 *        for snapshots; an empty Normal entry is a no-op (leader's first entry or a refused change)
 *     4. hand rd.readStates to the waiting reads
 *     5. node.advance()
 *   }
 *
 * Snapshots: storage.snapshot() is what a lagging follower receives. A
 * follower ignores a snapshot whose ConfState does not contain it, and the
 * leader holds such a snapshot back, so take a snapshot (createSnapshot at
 * the applied index) after applying a ConfChange that adds a node, or the
 * newcomer waits for the next periodic snapshot.
 */
import { InvalidRaftConfigError } from './raft-errors.js'
import type { ReadOnlyOption } from './raft.js'
import { RawNode } from './raw-node.js'
import type { LogStorage, NodeId } from './types.js'

export * from './types.js'
export * from './errors.js'
export * from './raft-errors.js'
export { MessageType, makeMessage, isLocalMessage, isResponseMessage } from './message.js'
export type { Message } from './message.js'
export {
  ConfChangeType, ConfChangeTransition, encodeConfChange, decodeConfChange, decodeAnyConfChange, isConfChangeV2, leaveJointChange, compareIds
} from './confchange.js'
export type { ConfChange, ConfChangeV2, ConfChangeSingle, AnyConfChange } from './confchange.js'
export { StateType } from './raft.js'
export type { ReadOnlyOption } from './raft.js'
export type { Ready, SoftState, RaftStatus, ProgressStatus } from './raw-node.js'
export type { ReadState } from './read-only.js'
export { MemoryLogStorage } from './memory-storage.js'
export { validateRemoteMessage } from './validate.js'
export { RawNode }

export interface RaftOptions {
  id: NodeId
  storage: LogStorage
  /** ticks without a leader before campaigning (randomized in [electionTick, 2*electionTick)); default 10 */
  electionTick?: number
  /** ticks between leader heartbeats; default 1, must be < electionTick */
  heartbeatTick?: number
  /** run a pre-vote round before disrupting the term; default true */
  preVote?: boolean
  /** leader steps down without a recently active quorum; followers ignore votes while in lease; default true */
  checkQuorum?: boolean
  /** max bytes of entry data per MsgApp (at least one entry is always sent); default 1 MiB */
  maxSizePerMsg?: number
  /** max in-flight MsgApps per follower in replicate state; default 256 */
  maxInflightMsgs?: number
  /** max in-flight bytes per follower, 0 = unlimited; default 0 */
  maxInflightBytes?: number
  /** max bytes of committed entries per Ready; default unlimited */
  maxCommittedSizePerReady?: number
  /** seed of the PRNG behind randomized election timeouts; default 0 (mixed with the id) */
  randomSeed?: number
  /**
   * election priority, default 1: the random part of the election timeout is
   * electionTick/priority, so higher-priority nodes tend to campaign first;
   * 0 never campaigns on its own (only campaign() or a leadership transfer).
   */
  priority?: number
  /** last index applied by the state machine (on restart); default the snapshot index */
  applied?: number
  /**
   * 'safe' (heartbeat-confirmed ReadIndex, linearizable) or 'lease' (answered
   * from the commit index without a round trip; needs checkQuorum). Lease reads
   * assume bounded clock drift AND that the old leader's check-quorum fires
   * before a new leader can be elected, which this tick-based design does not
   * guarantee (a deposed leader may keep answering for up to ~one extra
   * election timeout): use only where slightly stale reads are acceptable.
   * Default 'safe'.
   */
  readOnlyOption?: ReadOnlyOption
  /** followers drop proposals instead of forwarding them to the leader; default false */
  disableProposalForwarding?: boolean
  /**
   * The driver persists the leader's own entries in parallel with sending
   * them (Ready taken while leader, term and vote unchanged, no snapshot:
   * send first, then write) and reports each completed write with
   * leaderAppendDurable(lastIndex, term). The leader counts itself toward a
   * commit quorum only for entries reported durable, so "committed" still
   * means "durable on a majority". In this mode a commit advance is not
   * broadcast as empty appends: followers learn it with their next append
   * or heartbeat. Default false (the leader counts its entries when it
   * appends them; the driver must persist before sending).
   */
  leaderPersistsAsync?: boolean
}

function posInt (field: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt
  if (!Number.isSafeInteger(x) || x <= 0) throw new InvalidRaftConfigError(field, 'must be a positive integer')
  return x
}

export function createRaft (opts: RaftOptions): RawNode {
  if (typeof opts.id !== 'string' || opts.id.length === 0) throw new InvalidRaftConfigError('id', 'must be a non-empty string')
  if (opts.storage === undefined || opts.storage === null) throw new InvalidRaftConfigError('storage', 'is required')
  const electionTick = posInt('electionTick', opts.electionTick, 10)
  const heartbeatTick = posInt('heartbeatTick', opts.heartbeatTick, 1)
  if (heartbeatTick >= electionTick) throw new InvalidRaftConfigError('electionTick', 'must be greater than heartbeatTick')
  const priority = opts.priority ?? 1
  if (typeof priority !== 'number' || !Number.isFinite(priority) || priority < 0) throw new InvalidRaftConfigError('priority', 'must be a finite number >= 0')
  const readOnlyOption = opts.readOnlyOption ?? 'safe'
  if (readOnlyOption !== 'safe' && readOnlyOption !== 'lease') throw new InvalidRaftConfigError('readOnlyOption', "must be 'safe' or 'lease'")
  const checkQuorum = opts.checkQuorum ?? true
  if (readOnlyOption === 'lease' && !checkQuorum) throw new InvalidRaftConfigError('readOnlyOption', 'lease reads need checkQuorum')
  const maxInflightBytes = opts.maxInflightBytes ?? 0
  if (!Number.isSafeInteger(maxInflightBytes) || maxInflightBytes < 0) throw new InvalidRaftConfigError('maxInflightBytes', 'must be a non-negative integer')
  const applied = opts.applied ?? 0
  if (!Number.isSafeInteger(applied) || applied < 0) throw new InvalidRaftConfigError('applied', 'must be a non-negative integer')
  const maxCommitted = opts.maxCommittedSizePerReady ?? Infinity
  if (!(maxCommitted > 0)) throw new InvalidRaftConfigError('maxCommittedSizePerReady', 'must be positive')
  return new RawNode({
    id: opts.id,
    storage: opts.storage,
    electionTick,
    heartbeatTick,
    preVote: opts.preVote ?? true,
    checkQuorum,
    maxSizePerMsg: posInt('maxSizePerMsg', opts.maxSizePerMsg, 1024 * 1024),
    maxInflightMsgs: posInt('maxInflightMsgs', opts.maxInflightMsgs, 256),
    maxInflightBytes,
    maxCommittedSizePerReady: maxCommitted,
    randomSeed: (opts.randomSeed ?? 0) >>> 0,
    priority,
    leaderPersistsAsync: opts.leaderPersistsAsync === true,
    applied,
    readOnlyOption,
    disableProposalForwarding: opts.disableProposalForwarding ?? false
  })
}
