/**
 * Property-based fuzzing of every decoder that takes bytes from the network:
 * alloc (/dcis/alloc), invoke (/dcis/invoke), crdt-rpc, crdt-sync and
 * gossip, raft envelopes and raft-kv, the link-emulator preamble. Random
 * bytes, random JSON, and single/multi-byte mutations of valid frames only
 * ever decode or fail with the decoder's own typed error: no TypeError, no
 * RangeError from deep inside, no hang (each run is bounded), and bounded
 * inputs (at most 64 KiB). fast-check prints the seed and the shrunk input
 * on failure; replay with FUZZ_SEED=<seed>.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeRequest, decodeResponse, encodeFrame as encodeAllocFrame } from '../../src/scheduler/frames.js'
import { makeAllocationId, randomSuffix } from '../../src/scheduler/ids.js'
import { decodeRequestHeader, decodeResponseHeader, encodeHeader } from '../../src/wasm/routing/index.js'
import { decodeRpcRequest, decodeRpcResponse, encodeJson } from '../../src/crdt/service/rpc.js'
import { decodeGossip, decodeSyncFrame } from '../../src/crdt/replication/index.js'
import { SERVICE_SECTIONS } from '../../src/crdt/replication/index.js'
import { decodeKvRequest, decodeKvResponse, encodeFrame as encodeKvFrame } from '../../src/raft/service/frames.js'
import { decodeEnvelope } from '../../src/raft/transport/codec.js'
import { decodePreamble, encodePreamble } from '../../src/latency/emulator/preamble.js'

const seed = process.env.FUZZ_SEED != null ? Number(process.env.FUZZ_SEED) : 20261207
const RUNS = Number(process.env.FUZZ_RUNS ?? 400)
const utf8 = new TextEncoder()

interface Target {
  name: string
  decode: (bytes: Uint8Array) => unknown
  /** error names the decoder may throw on bad input */
  errors: string[]
  /** valid frames to mutate */
  valid: Uint8Array[]
}

const types = SERVICE_SECTIONS
const allocId = makeAllocationId('12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN', randomSuffix((n) => new Uint8Array(n).fill(7)))
const targets: Target[] = [
  {
    name: 'alloc request/response',
    decode: (b) => { try { return decodeRequest(b) } catch (err) { if ((err as Error).name !== 'InvalidAllocFrameError') throw err; return decodeResponse(b) } },
    errors: ['InvalidAllocFrameError'],
    valid: [encodeAllocFrame({ v: 1, op: 'release', id: allocId }), encodeAllocFrame({ v: 1, op: 'renew', id: allocId, leaseMs: 5000 }), encodeAllocFrame({ v: 1, ok: false, error: 'capacity', message: 'full' })]
  },
  {
    name: 'invoke header',
    decode: (b) => { try { return decodeRequestHeader(b) } catch (err) { if ((err as Error).name !== 'InvalidInvokeFrameError') throw err; return decodeResponseHeader(b) } },
    errors: ['InvalidInvokeFrameError'],
    valid: [encodeHeader({ v: 1, id: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', name: 'echo', spec: { abi: 'wasi', limits: { timeoutMs: 100 }, env: { A: 'b' }, grants: { clock: true } }, token: 'a.b.c' }), encodeHeader({ v: 1, ok: true, ranOn: 'p', durationMs: 1, coldStart: false })]
  },
  {
    name: 'crdt-rpc',
    decode: (b) => { try { return decodeRpcRequest(b) } catch (err) { if ((err as Error).name !== 'ReplicationFrameError') throw err; return decodeRpcResponse(b) } },
    errors: ['ReplicationFrameError'],
    valid: [encodeJson({ v: 1, op: 'put', service: 's', key: 'k', value: 'v', ifRevision: 2, token: 'a.b.c' }), encodeJson({ v: 1, ok: false, error: { name: 'X', message: 'm', actual: 3 } })]
  },
  {
    name: 'crdt gossip and sync frames',
    decode: (b) => { try { return decodeGossip(b, types) } catch (err) { if ((err as Error).name !== 'ReplicationFrameError' && (err as Error).name !== 'CrdtDecodeError') throw err; return decodeSyncFrame(b, () => types) } },
    errors: ['ReplicationFrameError', 'CrdtDecodeError'],
    valid: []
  },
  {
    name: 'raft-kv',
    decode: (b) => { try { return decodeKvRequest(b) } catch (err) { if ((err as Error).name !== 'InvalidKvFrameError') throw err; return decodeKvResponse(b) } },
    errors: ['InvalidKvFrameError'],
    valid: [encodeKvFrame({ t: 'put', name: 's', key: 'k', value: 'v', ifRevision: 1, token: 'a.b.c' }), encodeKvFrame({ ok: true, entry: { key: 'k', value: 'v', revision: 1 }, leader: null })]
  },
  {
    name: 'raft envelope',
    decode: (b) => decodeEnvelope(b, '12D3KooWself'),
    errors: ['InvalidRaftFrameError'],
    valid: []
  },
  {
    name: 'link-emulator preamble',
    decode: (b) => decodePreamble(b),
    errors: ['PreambleError'],
    valid: [encodePreamble('eu-west', 'site-1')]
  }
]

function mutations (valid: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  if (valid.length === 0) return fc.uint8Array({ maxLength: 512 })
  return fc.tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 }), fc.constantFrom('set', 'insert', 'delete', 'truncate')), { minLength: 1, maxLength: 6 }))
    .map(([base, edits]) => {
      let b = Array.from(base)
      for (const [at, v, op] of edits) {
        const i = b.length === 0 ? 0 : at % b.length
        if (op === 'set' && b.length > 0) b[i] = v
        else if (op === 'insert') b.splice(i, 0, v)
        else if (op === 'delete') b.splice(i, 1)
        else b = b.slice(0, i)
      }
      return Uint8Array.from(b)
    })
}

const jsonBytes = fc.json({ maxDepth: 4 }).map(s => utf8.encode(s))
const frameLike = fc.record({ v: fc.constantFrom(1, 2, '1'), op: fc.string(), t: fc.string(), ok: fc.boolean(), id: fc.string(), name: fc.string(), service: fc.string(), key: fc.string(), spec: fc.anything({ maxDepth: 2 }), token: fc.oneof(fc.string(), fc.integer()) }, { requiredKeys: [] })
  .map(o => utf8.encode(JSON.stringify(o)))

describe(`fuzz: network decoders (seed ${seed}, ${RUNS} runs each)`, function () {
  this.timeout(120_000)
  for (const t of targets) {
    it(`${t.name}: random bytes, random JSON and mutated frames decode or fail typed`, () => {
      for (const v of t.valid) t.decode(v) // the bases are valid
      const input = fc.oneof(fc.uint8Array({ maxLength: 2048 }), jsonBytes, frameLike, mutations(t.valid), fc.uint8Array({ minLength: 60_000, maxLength: 65_536 }))
      fc.assert(fc.property(input, (bytes) => {
        try {
          t.decode(bytes)
        } catch (err) {
          assert.ok(err instanceof Error, `threw a non-Error: ${String(err)}`)
          assert.ok(t.errors.includes(err.name), `${t.name} threw ${err.name}: ${err.message}`)
        }
      }), { seed, numRuns: RUNS })
    })
  }
})
