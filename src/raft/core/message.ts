/**
 * Raft messages exchanged between peers (and the local-only ones the driver
 * feeds into the core). Mirrors protocols/raft.proto.
 */
import type { Entry, NodeId, Snapshot } from './types.js'

export enum MessageType {
  MsgHup = 0,
  MsgBeat = 1,
  MsgProp = 2,
  MsgApp = 3,
  MsgAppResp = 4,
  MsgVote = 5,
  MsgVoteResp = 6,
  MsgSnap = 7,
  MsgHeartbeat = 8,
  MsgHeartbeatResp = 9,
  MsgUnreachable = 10,
  MsgSnapStatus = 11,
  MsgCheckQuorum = 12,
  MsgTransferLeader = 13,
  MsgTimeoutNow = 14,
  MsgReadIndex = 15,
  MsgReadIndexResp = 16,
  MsgPreVote = 17,
  MsgPreVoteResp = 18
}

export interface Message {
  type: MessageType
  from: NodeId
  to: NodeId
  term: number
  /** term of the entry at `index` (MsgApp, votes) or the hint term (MsgAppResp reject) */
  logTerm: number
  index: number
  entries: Entry[]
  commit: number
  reject: boolean
  rejectHint: number
  snapshot?: Snapshot
  /** ReadIndex request context, the campaign-transfer marker on votes, or the transferee of a forwarded MsgTransferLeader */
  context?: Uint8Array
}

/** Message types that never travel on the wire. */
export function isLocalMessage (t: MessageType): boolean {
  return t === MessageType.MsgHup || t === MessageType.MsgBeat || t === MessageType.MsgUnreachable ||
    t === MessageType.MsgSnapStatus || t === MessageType.MsgCheckQuorum
}

export function isResponseMessage (t: MessageType): boolean {
  return t === MessageType.MsgAppResp || t === MessageType.MsgVoteResp || t === MessageType.MsgHeartbeatResp ||
    t === MessageType.MsgUnreachable || t === MessageType.MsgPreVoteResp
}

export function voteResponseType (t: MessageType): MessageType {
  if (t === MessageType.MsgVote) return MessageType.MsgVoteResp
  if (t === MessageType.MsgPreVote) return MessageType.MsgPreVoteResp
  throw new TypeError(`not a vote message: ${MessageType[t]}`)
}

/** A message with every field at its zero value, overridden by `m`. */
export function makeMessage (m: Partial<Message> & { type: MessageType }): Message {
  return {
    from: '',
    to: '',
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...m
  }
}
