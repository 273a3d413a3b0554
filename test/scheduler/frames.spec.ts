import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeRequest, decodeResponse, encodeFrame, InvalidAllocFrameError, makeAllocationId, MAX_FRAME_BYTES } from '../../src/scheduler/index.js'
import { fakePeerId, testSeed } from './fixtures.js'
import type { AllocRequest, AllocResponse } from '../../src/scheduler/index.js'

const ID = makeAllocationId(fakePeerId(1), 'abcdefgh12')
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))

function badField (fn: () => unknown, field: string): void {
  assert.throws(fn, (err: unknown) => err instanceof InvalidAllocFrameError && err.field === field && err.code === 'INVALID_ALLOC_FRAME')
}

describe('scheduler alloc frames', () => {
  it('round-trips every request and response kind', () => {
    const reqs: AllocRequest[] = [
      { v: 1, op: 'reserve', id: ID, cpu: 0.5, memoryMb: 256, leaseMs: 60_000, constraints: { cpu: 0.5, memory: '256Mi' } },
      { v: 1, op: 'reserve', id: ID, cpu: 1, memoryMb: 0, leaseMs: 1000, constraints: {}, nodes: [{ peerId: fakePeerId(1), region: 'eu-west', zone: 'eu-west-a' }] },
      { v: 1, op: 'commit', id: ID, nodes: [{ peerId: fakePeerId(1), region: 'eu-west', zone: 'eu-west-a' }] },
      { v: 1, op: 'get', id: ID },
      { v: 1, op: 'release', id: ID },
      { v: 1, op: 'renew', id: ID },
      { v: 1, op: 'renew', id: ID, leaseMs: 5000 }
    ]
    for (const r of reqs) assert.deepEqual(decodeRequest(encodeFrame(r)), r)
    const ress: AllocResponse[] = [
      { v: 1, ok: true, reservation: { id: ID, cpu: 1, memoryMb: 2, leaseMs: 1000, createdAt: 1, expiresAt: 1001, placer: fakePeerId(2), constraints: { cpu: 1 }, nodes: [] } },
      { v: 1, ok: false, error: 'capacity', message: 'full', free: { cpu: 0.25, memoryMb: 3 } },
      { v: 1, ok: false, error: 'not-found', message: 'no' }
    ]
    for (const r of ress) assert.deepEqual(decodeResponse(encodeFrame(r)), r)
  })

  it('carries optional W3C trace context in any request; a malformed one is a bad field', () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    const r: AllocRequest = { v: 1, op: 'commit', id: ID, nodes: [], traceparent: tp, tracestate: 'dcis=0123456789abcdef' }
    assert.deepEqual(decodeRequest(encodeFrame(r)), r)
    assert.deepEqual(decodeRequest(enc({ v: 1, op: 'get', id: ID })), { v: 1, op: 'get', id: ID })
    badField(() => decodeRequest(enc({ v: 1, op: 'get', id: ID, traceparent: 'x' })), 'traceparent')
    badField(() => decodeRequest(enc({ v: 1, op: 'get', id: ID, tracestate: 5 })), 'tracestate')
  })

  it('carries the caller\'s token (optional) in any request; a malformed one is a bad field', () => {
    const token = 'eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJ4In0.c2ln'
    for (const r of [
      { v: 1, op: 'release', id: ID, token },
      { v: 1, op: 'renew', id: ID, leaseMs: 5000, token },
      { v: 1, op: 'reserve', id: ID, cpu: 1, memoryMb: 1, leaseMs: 1000, constraints: {}, token }
    ] as AllocRequest[]) assert.deepEqual(decodeRequest(encodeFrame(r)), r)
    for (const bad of ['', 5, 'has space', 'a'.repeat(8 * 1024 + 1), ['x']]) badField(() => decodeRequest(enc({ v: 1, op: 'get', id: ID, token: bad })), 'token')
  })

  it('names the bad field', () => {
    const base = { v: 1, op: 'reserve', id: ID, cpu: 1, memoryMb: 1, leaseMs: 1000, constraints: {} }
    badField(() => decodeRequest(enc({ ...base, cpu: -1 })), 'cpu')
    badField(() => decodeRequest(enc({ ...base, cpu: '1' })), 'cpu')
    badField(() => decodeRequest(enc({ ...base, memoryMb: 1.5 })), 'memoryMb')
    badField(() => decodeRequest(enc({ ...base, leaseMs: 10 })), 'leaseMs')
    badField(() => decodeRequest(enc({ ...base, id: 'a.b' })), 'id')
    badField(() => decodeRequest(enc({ ...base, constraints: { cpu: -2 } })), 'constraints.cpu')
    badField(() => decodeRequest(enc({ ...base, nodes: [{ peerId: 'x', region: 'r', zone: 'z' }] })), 'nodes[0].peerId')
    badField(() => decodeRequest(enc({ ...base, nodes: new Array(17).fill({ peerId: fakePeerId(1), region: 'r', zone: 'z' }) })), 'nodes')
    badField(() => decodeRequest(enc({ ...base, admin: true })), 'admin')
    badField(() => decodeRequest(enc({ ...base, v: 2 })), 'v')
    badField(() => decodeRequest(enc({ ...base, op: 'steal' })), 'op')
    badField(() => decodeRequest(enc([1, 2])), 'frame')
    badField(() => decodeRequest(new Uint8Array([0xff, 0xfe])), 'frame')
    badField(() => decodeRequest(new Uint8Array(MAX_FRAME_BYTES + 1)), 'frame')
    badField(() => decodeResponse(enc({ v: 1, ok: 'yes' })), 'ok')
    badField(() => decodeResponse(enc({ v: 1, ok: false, error: 'teapot', message: '' })), 'error')
    badField(() => decodeResponse(enc({ v: 1, ok: false, error: 'capacity', message: 'x'.repeat(2000) })), 'message')
    badField(() => decodeResponse(enc({ v: 1, ok: true, reservation: { id: ID } })), 'reservation.cpu')
    assert.throws(() => encodeFrame({ v: 1, ok: false, error: 'internal', message: 'x'.repeat(MAX_FRAME_BYTES) }), InvalidAllocFrameError)
  })

  it('fuzz: arbitrary bytes and mutated frames never throw anything but InvalidAllocFrameError (seeded)', () => {
    const seed = testSeed(777)
    const valid = JSON.stringify({ v: 1, op: 'reserve', id: ID, cpu: 1, memoryMb: 1, leaseMs: 1000, constraints: { memory: '1Mi' } })
    try {
      fc.assert(fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 256 }),
          fc.tuple(fc.nat(valid.length - 1), fc.string({ maxLength: 4 })).map(([at, s]) => new TextEncoder().encode(valid.slice(0, at) + s + valid.slice(at + 1))),
          fc.jsonValue().map(v => enc(v))
        ),
        (bytes) => {
          for (const decode of [decodeRequest, decodeResponse]) {
            try {
              decode(bytes)
            } catch (err) {
              assert.ok(err instanceof InvalidAllocFrameError, `unexpected ${String(err)}`)
            }
          }
        }
      ), { seed, numRuns: 2000 })
    } catch (err) {
      console.error(`frame fuzz failed; replay with SEED=${seed}`)
      throw err
    }
  })
})
