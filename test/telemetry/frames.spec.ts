/**
 * The optional W3C trace context fields in the request frames of our libp2p
 * protocols (invoke, alloc, raft-kv forward, crdt rpc): they round-trip,
 * frames without them parse as before, and a malformed one is refused with
 * the protocol's own frame error naming the field.
 */
import assert from 'node:assert/strict'
import { decodeRequestHeader, decodeResponseHeader, encodeHeader } from '../../src/wasm/routing/frames.js'
import { InvalidInvokeFrameError } from '../../src/wasm/routing/errors.js'
import { decodeKvRequest, encodeFrame as encodeKv, InvalidKvFrameError } from '../../src/raft/service/frames.js'
import { decodeRpcRequest, encodeJson } from '../../src/crdt/service/rpc.js'
import { ReplicationFrameError } from '../../src/crdt/replication/index.js'

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
const TS = 'dcis=0123456789abcdef,other=x'
const CID = 'bafkreid5cgnvs3lxdklh2tlwfxtpwoekz5k6rz22jhiainukegftp2wd44'
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))

function refused (fn: () => unknown, type: new (...args: never[]) => Error, field: string): void {
  assert.throws(fn, (err: unknown) => err instanceof type && (err as Error & { field?: string }).field === field)
}

describe('telemetry: trace context in request frames', function () {
  it('invoke: request carries traceparent/tracestate; response may name the serving peer\'s trace domain', function () {
    const h = { v: 1 as const, id: CID, name: 'echo', spec: { abi: 'wasi' as const }, traceparent: TP, tracestate: TS }
    assert.deepEqual(decodeRequestHeader(encodeHeader(h)), h)
    assert.deepEqual(decodeRequestHeader(enc({ v: 1, id: CID, name: 'echo', spec: { abi: 'wasi' } })), { v: 1, id: CID, name: 'echo', spec: { abi: 'wasi' } })
    refused(() => decodeRequestHeader(enc({ ...h, traceparent: '00-zz' })), InvalidInvokeFrameError, 'traceparent')
    refused(() => decodeRequestHeader(enc({ ...h, tracestate: ['a'] })), InvalidInvokeFrameError, 'tracestate')
    const ok = { v: 1 as const, ok: true as const, ranOn: '12D3KooWx', durationMs: 1, coldStart: false, traceDomain: '0123456789abcdef' }
    assert.deepEqual(decodeResponseHeader(encodeHeader(ok)), ok)
    refused(() => decodeResponseHeader(enc({ ...ok, traceDomain: 'fed-a' })), InvalidInvokeFrameError, 'traceDomain')
  })

  it('raft-kv forward: any request may carry them', function () {
    const put = { t: 'put', name: 'accounts', key: 'k', value: 'v', traceparent: TP, tracestate: TS }
    assert.deepEqual(decodeKvRequest(encodeKv(put)), put)
    refused(() => decodeKvRequest(enc({ ...put, traceparent: 42 })), InvalidKvFrameError, 'traceparent')
    refused(() => decodeKvRequest(enc({ t: 'status', name: 'a', tracestate: 'x'.repeat(513) })), InvalidKvFrameError, 'tracestate')
  })

  it('crdt rpc: any request may carry them', function () {
    const req = { v: 1, op: 'addCounter', service: 'votes', key: 'k', delta: 1, traceparent: TP, tracestate: TS }
    assert.deepEqual(decodeRpcRequest(encodeJson(req)), req)
    assert.deepEqual(decodeRpcRequest(encodeJson({ v: 1, op: 'status', service: 'votes' })), { v: 1, op: 'status', service: 'votes' })
    refused(() => decodeRpcRequest(enc({ ...req, traceparent: '01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331' })), ReplicationFrameError, 'traceparent')
  })
})
