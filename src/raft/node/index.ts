/**
 * Raft driver: one RaftGroup per replica (clock, WAL, transport slot, Ready
 * loop, proposals matched to callers, ReadIndex barrier, snapshots).
 *
 *   const g = new RaftGroup({ group, self, dir: join(dataDir, 'raft', group), transport, stateMachine, voters, learners, logger })
 *   await g.start()
 *   const result = await g.propose(commandBytes, { signal })   // the state machine's apply() result
 *   await g.readBarrier({ signal }); read the state machine
 *   await g.stop()
 */
export { RaftGroup } from './group.js'
export type { StateMachine, RaftGroupInit, GroupStatus } from './group.js'
export { RaftTimeoutError, RaftGroupStoppedError, RaftStorageFailedError, RaftNotLeaderError } from './errors.js'
export { frameProposal, unframeProposal } from './proposal.js'
