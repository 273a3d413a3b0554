/** The /dcis/raft/1.0.0 frame codec: round trip, and every malformed frame is refused naming the field. */
import assert from 'node:assert/strict'
import { EntryType, makeMessage, MessageType } from '../../../src/raft/core/index.js'
import type { Message } from '../../../src/raft/core/index.js'
import { decodeEnvelope, encodeEnvelope, InvalidRaftFrameError } from '../../../src/raft/transport/index.js'
import * as pb from '../../../src/raft/transport/raft.pb.js'

const A = '12D3KooWA'
const B = '12D3KooWB'

function refused (bytes: Uint8Array, field: RegExp, self = B): void {
  assert.throws(() => decodeEnvelope(bytes, self), (e: Error) => e instanceof InvalidRaftFrameError && field.test((e as InvalidRaftFrameError).field), `expected refusal naming ${String(field)}`)
}

describe('raft transport codec', () => {
  it('round-trips every wire message type with entries, snapshot and context', () => {
    const types = Object.values(MessageType).filter((t): t is MessageType => typeof t === 'number' && ![0, 1, 10, 11, 12].includes(t))
    for (const type of types) {
      const m: Message = makeMessage({
        type, from: A, to: B, term: 7, logTerm: 6, index: type === MessageType.MsgApp ? 9 : 10, commit: 8, reject: type === MessageType.MsgAppResp, rejectHint: 3,
        entries: type === MessageType.MsgApp || type === MessageType.MsgProp ? [{ term: 7, index: 10, type: EntryType.Normal, data: new Uint8Array([1, 2, 3]) }, { term: 7, index: 11, type: EntryType.ConfChange, data: new Uint8Array([4]) }] : [],
        snapshot: type === MessageType.MsgSnap ? { metadata: { index: 5, term: 2, confState: { voters: [A, B], learners: ['12D3KooWC'], votersOutgoing: [], learnersNext: [], autoLeave: false } }, data: new Uint8Array([9]) } : undefined,
        context: type === MessageType.MsgReadIndex ? new Uint8Array([7, 7]) : undefined
      })
      const d = decodeEnvelope(encodeEnvelope('svc.x', m), B)
      assert.equal(d.group, 'svc.x')
      assert.deepEqual({ ...d.message, entries: d.message.entries.map(e => ({ ...e, data: [...e.data] })), snapshot: d.message.snapshot === undefined ? undefined : { ...d.message.snapshot, data: [...d.message.snapshot.data] }, context: d.message.context === undefined ? undefined : [...d.message.context] },
        { ...m, entries: m.entries.map(e => ({ ...e, data: [...e.data] })), snapshot: m.snapshot === undefined ? undefined : { ...m.snapshot, data: [...m.snapshot.data] }, context: m.context === undefined ? undefined : [...m.context] }, MessageType[type])
    }
  })

  it('refuses garbage, bad group ids, missing message, unknown enums, local-only types, wrong addressee, broken MsgApp', () => {
    refused(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), /^frame$/)
    const hb = makeMessage({ type: MessageType.MsgHeartbeat, from: A, to: B, term: 2 })
    refused(encodeEnvelope('', hb), /^group$/)
    refused(encodeEnvelope('../etc', hb), /^group$/)
    refused(pb.Envelope.encode({ group: 'g' }), /^message$/)
    refused(encodeEnvelope('g', hb), /^message\.to$/, 'someone-else')
    refused(encodeEnvelope('g', makeMessage({ type: MessageType.MsgHup, from: A, to: B, term: 2 })), /^message\.type$/)
    refused(encodeEnvelope('g', makeMessage({ type: MessageType.MsgHeartbeat, from: A, to: B, term: 0 })), /^message\.term$/)
    refused(encodeEnvelope('g', makeMessage({ type: MessageType.MsgApp, from: A, to: B, term: 3, index: 4, entries: [{ term: 3, index: 9, type: EntryType.Normal, data: new Uint8Array() }] })), /entries/)
    refused(encodeEnvelope('g', makeMessage({ type: MessageType.MsgSnap, from: A, to: B, term: 3 })), /snapshot/)
    // an enum value outside the .proto (hand-encoded: field 1 = 99)
    const bad = pb.Envelope.encode({ group: 'g', message: { ...pb.Message.decode(pb.Message.encode({ type: pb.MessageType.MSG_HEARTBEAT, from: A, to: B, term: 2, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 })) } })
    const patched = Uint8Array.from(bad)
    const at = patched.indexOf(0x08) // tag of Message.type (field 1, varint) inside the nested message
    patched[at + 1] = 99
    assert.throws(() => decodeEnvelope(patched, B), InvalidRaftFrameError)
  })

  it('bounds the number of entries per message', () => {
    const entries = Array.from({ length: 70_000 }, (_, i) => ({ term: 1, index: i + 1, type: EntryType.Normal, data: new Uint8Array() }))
    refused(encodeEnvelope('g', makeMessage({ type: MessageType.MsgApp, from: A, to: B, term: 1, index: 0, entries })), /^frame$/)
  })
})
