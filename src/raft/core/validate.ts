/**
 * Shape checks for messages arriving from the network (a trust boundary):
 * a malformed frame is rejected with the offending field named, never crashes the core.
 */
import { isLocalMessage, MessageType } from './message.js'
import type { Message } from './message.js'
import { InvalidMessageError } from './raft-errors.js'
import { EntryType } from './types.js'
import type { ConfState, Entry, Snapshot } from './types.js'

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

function checkIds (field: string, v: unknown): void {
  if (!Array.isArray(v) || !v.every(x => typeof x === 'string' && x.length > 0)) {
    throw new InvalidMessageError(field, 'must be an array of non-empty node ids')
  }
}

function checkConfState (field: string, cs: ConfState): void {
  if (typeof cs !== 'object' || cs === null) throw new InvalidMessageError(field, 'missing')
  checkIds(`${field}.voters`, cs.voters)
  checkIds(`${field}.learners`, cs.learners)
  checkIds(`${field}.votersOutgoing`, cs.votersOutgoing)
  checkIds(`${field}.learnersNext`, cs.learnersNext)
  if (typeof cs.autoLeave !== 'boolean') throw new InvalidMessageError(`${field}.autoLeave`, 'must be a boolean')
}

function checkEntry (field: string, e: Entry): void {
  if (typeof e !== 'object' || e === null) throw new InvalidMessageError(field, 'must be an object')
  if (!isIndex(e.term)) throw new InvalidMessageError(`${field}.term`, 'must be a non-negative integer')
  if (!isIndex(e.index)) throw new InvalidMessageError(`${field}.index`, 'must be a non-negative integer')
  if (e.type !== EntryType.Normal && e.type !== EntryType.ConfChange) throw new InvalidMessageError(`${field}.type`, 'unknown entry type')
  if (!(e.data instanceof Uint8Array)) throw new InvalidMessageError(`${field}.data`, 'must be bytes')
}

function checkSnapshot (s: Snapshot): void {
  if (typeof s !== 'object' || s === null || typeof s.metadata !== 'object' || s.metadata === null) {
    throw new InvalidMessageError('snapshot.metadata', 'missing')
  }
  if (!isIndex(s.metadata.index) || s.metadata.index === 0) throw new InvalidMessageError('snapshot.metadata.index', 'must be a positive integer')
  if (!isIndex(s.metadata.term) || s.metadata.term === 0) throw new InvalidMessageError('snapshot.metadata.term', 'must be a positive integer')
  checkConfState('snapshot.metadata.confState', s.metadata.confState)
  if (!(s.data instanceof Uint8Array)) throw new InvalidMessageError('snapshot.data', 'must be bytes')
}

/** Throws InvalidMessageError unless `m` is a well-formed message a peer may send to `self`. */
export function validateRemoteMessage (m: Message, self: string): void {
  if (typeof m !== 'object' || m === null) throw new InvalidMessageError('message', 'must be an object')
  if (typeof m.type !== 'number' || MessageType[m.type] === undefined) throw new InvalidMessageError('type', 'unknown message type')
  if (isLocalMessage(m.type)) throw new InvalidMessageError('type', `${MessageType[m.type]} is local-only`)
  if (typeof m.from !== 'string' || m.from.length === 0) throw new InvalidMessageError('from', 'must be a non-empty node id')
  if (m.to !== self) throw new InvalidMessageError('to', `addressed to ${String(m.to)}, not ${self}`)
  for (const f of ['term', 'logTerm', 'index', 'commit', 'rejectHint'] as const) {
    if (!isIndex(m[f])) throw new InvalidMessageError(f, 'must be a non-negative integer')
  }
  if (typeof m.reject !== 'boolean') throw new InvalidMessageError('reject', 'must be a boolean')
  if (!Array.isArray(m.entries)) throw new InvalidMessageError('entries', 'must be an array')
  m.entries.forEach((e, i) => { checkEntry(`entries[${i}]`, e) })
  if (m.type !== MessageType.MsgProp && m.type !== MessageType.MsgReadIndex && m.term === 0) {
    throw new InvalidMessageError('term', `${MessageType[m.type]} needs a term`)
  }
  if (m.type === MessageType.MsgApp) {
    m.entries.forEach((e, i) => {
      if (e.index !== m.index + 1 + i) throw new InvalidMessageError(`entries[${i}].index`, 'entries must follow index contiguously')
      if (e.term > m.term) throw new InvalidMessageError(`entries[${i}].term`, 'entry term is above the message term')
      if (i > 0 && e.term < m.entries[i - 1].term) throw new InvalidMessageError(`entries[${i}].term`, 'entry terms must not decrease')
    })
    if (m.entries.length > 0 && m.entries[0].term < m.logTerm) throw new InvalidMessageError('logTerm', 'above the first entry term')
  }
  if (m.type === MessageType.MsgProp && m.entries.length === 0) throw new InvalidMessageError('entries', 'a proposal needs entries')
  if (m.type === MessageType.MsgSnap) {
    if (m.snapshot === undefined) throw new InvalidMessageError('snapshot', 'MsgSnap needs a snapshot')
    checkSnapshot(m.snapshot)
  }
  if (m.context !== undefined && !(m.context instanceof Uint8Array)) throw new InvalidMessageError('context', 'must be bytes')
}
