/**
 * Wire codec of /dcis/raft/1.0.0: core Message <-> protobuf Envelope
 * (protocols/raft.proto, generated into raft.pb.ts by protons). Decoding is a
 * trust boundary: sizes and counts are bounded, enums must be known and the
 * message must pass the core's validateRemoteMessage before the core sees it.
 */
import { EntryType, MessageType, validateRemoteMessage } from '../core/index.js'
import type { ConfState, Entry, Message, Snapshot } from '../core/index.js'
import * as pb from './raft.pb.js'
import { InvalidRaftFrameError } from './errors.js'

export const MAX_FRAME_BYTES = 16 * 1024 * 1024
export const MAX_ENTRIES_PER_MESSAGE = 65_536
export const MAX_IDS_PER_CONF = 1024
/** a group id: 1..128 characters */
export const GROUP_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

const ENTRY_TO_PB: Record<EntryType, pb.EntryType> = {
  [EntryType.Normal]: pb.EntryType.ENTRY_NORMAL,
  [EntryType.ConfChange]: pb.EntryType.ENTRY_CONF_CHANGE
}

function entryFromPb (t: unknown): EntryType {
  if (t === pb.EntryType.ENTRY_NORMAL) return EntryType.Normal
  if (t === pb.EntryType.ENTRY_CONF_CHANGE) return EntryType.ConfChange
  throw new InvalidRaftFrameError('message.entries.type', 'unknown entry type')
}

function typeToPbSlow (t: MessageType): pb.MessageType {
  const name = MessageType[t]
  // MsgAppResp -> MSG_APP_RESP
  const snake = name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase() as keyof typeof pb.MessageType
  return pb.MessageType[snake] as pb.MessageType
}

const PB_TO_TYPE = new Map<string, MessageType>()
/** core type -> protobuf enum, computed once (the name mapping is a regex: too slow per message) */
const TYPE_TO_PB: pb.MessageType[] = []
for (const v of Object.values(MessageType)) {
  if (typeof v === 'number') {
    PB_TO_TYPE.set(typeToPbSlow(v), v)
    TYPE_TO_PB[v] = typeToPbSlow(v)
  }
}

function typeToPb (t: MessageType): pb.MessageType {
  return TYPE_TO_PB[t]
}

function confToPb (cs: ConfState): pb.ConfState {
  return { voters: cs.voters, learners: cs.learners, votersOutgoing: cs.votersOutgoing, learnersNext: cs.learnersNext, autoLeave: cs.autoLeave }
}

function snapshotToPb (s: Snapshot): pb.Snapshot {
  return { metadata: { index: s.metadata.index, term: s.metadata.term, confState: confToPb(s.metadata.confState) }, data: s.data as Uint8Array<ArrayBuffer> }
}

export function encodeEnvelope (group: string, m: Message): Uint8Array {
  const msg: pb.Message = {
    type: typeToPb(m.type),
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map((e: Entry) => ({ term: e.term, index: e.index, type: ENTRY_TO_PB[e.type], data: e.data as Uint8Array<ArrayBuffer> })),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    snapshot: m.snapshot === undefined ? undefined : snapshotToPb(m.snapshot),
    context: m.context as Uint8Array<ArrayBuffer> | undefined
  }
  return pb.Envelope.encode({ group, message: msg })
}

export interface DecodedFrame {
  group: string
  message: Message
}

const LIMITS = {
  message: {
    entries: MAX_ENTRIES_PER_MESSAGE,
    snapshot: { metadata: { confState: { voters: MAX_IDS_PER_CONF, learners: MAX_IDS_PER_CONF, votersOutgoing: MAX_IDS_PER_CONF, learnersNext: MAX_IDS_PER_CONF } } }
  }
}

/**
 * Decodes and validates one frame addressed to `self`. Throws
 * InvalidRaftFrameError naming the field on anything malformed.
 */
export function decodeEnvelope (buf: Uint8Array, self: string): DecodedFrame {
  if (buf.byteLength > MAX_FRAME_BYTES) throw new InvalidRaftFrameError('frame', `larger than ${MAX_FRAME_BYTES} bytes`)
  let env: pb.Envelope
  try {
    env = pb.Envelope.decode(buf, { limits: LIMITS as never })
  } catch (err) {
    throw new InvalidRaftFrameError('frame', `not a protobuf Envelope: ${(err as Error).message}`)
  }
  if (typeof env.group !== 'string' || !GROUP_ID_RE.test(env.group)) throw new InvalidRaftFrameError('group', 'must match ' + GROUP_ID_RE.source)
  const p = env.message
  if (p === undefined) throw new InvalidRaftFrameError('message', 'missing')
  const type = PB_TO_TYPE.get(p.type as unknown as string)
  if (type === undefined) throw new InvalidRaftFrameError('message.type', 'unknown message type')
  const entries: Entry[] = p.entries.map(e => ({ term: e.term, index: e.index, type: entryFromPb(e.type), data: e.data }))
  let snapshot: Snapshot | undefined
  if (p.snapshot !== undefined) {
    const md = p.snapshot.metadata
    if (md === undefined) throw new InvalidRaftFrameError('message.snapshot.metadata', 'missing')
    const cs = md.confState
    if (cs === undefined) throw new InvalidRaftFrameError('message.snapshot.metadata.confState', 'missing')
    snapshot = {
      metadata: { index: md.index, term: md.term, confState: { voters: cs.voters, learners: cs.learners, votersOutgoing: cs.votersOutgoing, learnersNext: cs.learnersNext, autoLeave: cs.autoLeave } },
      data: p.snapshot.data
    }
  }
  const message: Message = {
    type,
    from: p.from,
    to: p.to,
    term: p.term,
    logTerm: p.logTerm,
    index: p.index,
    entries,
    commit: p.commit,
    reject: p.reject,
    rejectHint: p.rejectHint,
    snapshot,
    context: p.context
  }
  try {
    validateRemoteMessage(message, self)
  } catch (err) {
    const field = (err as { field?: string }).field ?? 'message'
    throw new InvalidRaftFrameError(`message.${field}`, (err as Error).message)
  }
  return { group: env.group, message }
}
