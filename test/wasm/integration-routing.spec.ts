/**
 * Routing across three real peers on 127.0.0.1: deploy on A, invoke on B
 * (B fetches the module by CID over bitswap and runs it), forward over
 * /dcis/invoke/1.0.0 when B has no room or does not run functions, the
 * nearest candidate by RTT first, remote errors keep their status, and
 * hostile frames on the protocol are answered without harm.
 */
import assert from 'node:assert/strict'
import { lpStream } from '@libp2p/utils'
import { CID } from 'multiformats/cid'
import { INVOKE_PROTOCOL, decodeRequestHeader, decodeResponseHeader, encodeHeader } from '../../src/wasm/routing/index.js'
import { cidOf, dec, enc, fixture } from './helpers.js'
import { createPrng } from '../../src/latency/prng.js'
import { waitFor } from '../helpers/wait.js'
import { buildExamples, connect, deploy, example, invoke, removeDir, startFnPeer } from './integration-mesh.js'
import type { FnPeer } from './integration-mesh.js'

describe('wasm integration: routing over /dcis/invoke/1.0.0', function () {
  this.timeout(60_000)
  let a: FnPeer
  let b: FnPeer
  let c: FnPeer
  let echoId: string

  before(async function () {
    this.timeout(240_000)
    await buildExamples()
    a = await startFnPeer({ name: 'a', runtime: { workers: 1 } })
    b = await startFnPeer({ name: 'b', runtime: { workers: 1 } })
    // C serves the API but runs nothing itself
    c = await startFnPeer({ name: 'c', runtime: { workers: 1 }, invoker: { localExecution: false }, store: { fetchTimeoutMs: 5000 } })
    await connect(b, a)
    await connect(c, a)
    await connect(c, b)
    const wasi = ['wasi', 'reactor']
    b.registry.push({ end: { peerId: a.id, runtimes: wasi } })
    c.registry.push({ end: { peerId: a.id, runtimes: wasi } }, { end: { peerId: b.id, runtimes: wasi } })
    const echo = await example('echo')
    echoId = await cidOf(echo)
    assert.equal((await deploy(a, echo, 'name=echo')).status, 201)
  })

  after(async () => {
    for (const p of [c, b, a]) {
      await p?.stop()
      if (p != null) await removeDir(p.dir)
    }
  })

  it('B has room: it fetches the module by CID over bitswap from A and runs it itself', async () => {
    const cid = CID.parse(echoId)
    assert.equal(await b.stores.blockstore.has(cid), false, 'B starts without the bytes')
    const res = await invoke(b, echoId, 'fetched and run on B')
    assert.equal(res.status, 200, res.text)
    assert.equal(res.text, 'fetched and run on B')
    assert.equal(res.headers.get('x-dcis-ran-on'), b.id)
    assert.equal(res.headers.get('x-dcis-cold-start'), 'true')
    assert.equal(await b.stores.blockstore.has(cid), true, 'B now holds the block')
    const warm = await invoke(b, echoId, 'again')
    assert.equal(warm.headers.get('x-dcis-ran-on'), b.id)
    assert.equal(warm.headers.get('x-dcis-cold-start'), 'false')
  })

  it('B has no room (its only worker is busy): the call is forwarded to A, and the header says so', async () => {
    const loop = await fixture('loop')
    assert.equal((await deploy(b, loop, 'name=loop&timeoutMs=1500')).status, 201)
    const busy = invoke(b, 'loop')
    await waitFor('B busy', () => b.fns.runtime.stats().workers.busy === 1, { timeoutMs: 5000, intervalMs: 5 })
    assert.equal(b.fns.runtime.capacity(echoId).state, 'queue')
    const res = await invoke(b, echoId, 'forwarded')
    assert.equal(res.status, 200, res.text)
    assert.equal(res.text, 'forwarded')
    assert.equal(res.headers.get('x-dcis-ran-on'), a.id)
    assert.equal((await busy).status, 504)
    const routed = await b.metrics.getSingleMetricAsString('dcis_wasm_routed_total')
    assert.match(routed, /where="forwarded",outcome="ok"} 1/)
  })

  it('a peer that runs nothing forwards to the nearest capable peer by RTT', async () => {
    c.rtt.set(a.id, 40)
    c.rtt.set(b.id, 3)
    assert.deepEqual(c.fns.invoker.candidates('wasi'), [b.id, a.id])
    const res = await invoke(c, echoId, 'near')
    assert.equal(res.status, 200, res.text)
    assert.equal(res.headers.get('x-dcis-ran-on'), b.id)
    c.rtt.set(b.id, 90)
    assert.equal((await invoke(c, echoId, 'near')).headers.get('x-dcis-ran-on'), a.id)
    // a registry entry that does not list the abi is no candidate
    assert.deepEqual(c.fns.invoker.candidates('cobol'), [])
  })

  it('the Function manifest on another peer adopts the CID (fetched over bitswap) under its name', async () => {
    const manifest = `apiVersion: edge/v1\nkind: Function\nmetadata:\n  name: echo\nspec:\n  source: ${echoId}\n  abi: wasi\n  limits:\n    timeoutMs: 1000\n`
    const res = await fetch(`${c.url}/v1/manifests`, { method: 'POST', body: manifest, headers: { 'content-type': 'application/yaml' } })
    assert.equal(res.status, 201, await res.clone().text())
    const r = await invoke(c, 'echo', 'by name on C')
    assert.equal(r.text, 'by name on C')
    assert.notEqual(r.headers.get('x-dcis-ran-on'), c.id)
  })

  it('a remote function error keeps its status through the forward (timeout -> 504)', async () => {
    // C knows it by name with a short timeout; the limits travel with the call
    assert.equal((await deploy(c, await fixture('loop'), 'name=loop&timeoutMs=300')).status, 201)
    const res = await invoke(c, 'loop')
    assert.equal(res.status, 504, res.text)
    assert.match(res.json().error.message, /300 ms/)
    assert.equal(res.json().error.code, 'FUNCTION_TIMEOUT')
    assert.match(res.json().error.message, /on 12D3|on Qm/)
  })

  it('an overloaded candidate is skipped for the next one', async () => {
    const slow = await fixture('loop')
    // on B: one at a time, no queue, and B busy with it
    const id = await cidOf(slow)
    assert.equal((await deploy(b, slow, 'name=slow&timeoutMs=1000&maxConcurrency=1&maxQueue=0')).status, 201)
    assert.equal((await deploy(a, slow, 'name=slow&timeoutMs=300')).status, 201)
    const busy = invoke(b, 'slow')
    await waitFor('B busy', () => b.fns.runtime.stats().workers.busy === 1, { timeoutMs: 5000, intervalMs: 5 })
    c.rtt.set(b.id, 1)
    const res = await invoke(c, id)
    assert.equal(res.status, 504, 'ran (and timed out) on A, not refused by B')
    assert.match(res.json().error.message, new RegExp(a.id))
    await busy
  })

  it('hostile frames on /dcis/invoke/1.0.0 get an error frame; the peer keeps serving', async () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [enc.encode('not json'), /header/],
      [encodeHeader({ v: 1, id: 'x', name: 'n', spec: { abi: 'wasi' } } as never), /id/],
      [enc.encode(JSON.stringify({ v: 1, id: echoId, name: 'echo', spec: { abi: 'wasi', limits: { memoryMb: 'lots' } } })), /memoryMb/],
      [enc.encode(JSON.stringify({ v: 2 })), /\bv\b/]
    ]
    for (const [frame, why] of cases) {
      const stream = await b.libp2p.dialProtocol(a.libp2p.peerId, INVOKE_PROTOCOL, { signal: AbortSignal.timeout(5000) })
      const lp = lpStream(stream)
      await lp.write(frame)
      await lp.write(new Uint8Array(0))
      const h = decodeResponseHeader((await lp.read({ signal: AbortSignal.timeout(5000) })).subarray())
      assert.equal(h.ok, false)
      if (!h.ok) {
        assert.equal(h.error.name, 'InvalidInvokeFrameError')
        assert.match(h.error.message, why)
      }
      await stream.close().catch(() => {})
    }
    // a well-formed call still works
    const stream = await b.libp2p.dialProtocol(a.libp2p.peerId, INVOKE_PROTOCOL, { signal: AbortSignal.timeout(5000) })
    const lp = lpStream(stream)
    await lp.write(encodeHeader({ v: 1, id: echoId, name: 'echo', spec: { abi: 'wasi' } }))
    await lp.write(enc.encode('ok'))
    const h = decodeResponseHeader((await lp.read({ signal: AbortSignal.timeout(5000) })).subarray())
    assert.equal(h.ok, true)
    assert.equal(dec.decode((await lp.read({ signal: AbortSignal.timeout(5000) })).subarray()), 'ok')
    await stream.close().catch(() => {})
  })
})

describe('wasm routing: frame decoders (seeded fuzz)', () => {
  it('mutated headers are decoded or refused with InvalidInvokeFrameError, nothing else', () => {
    const seed = Number(process.env.FN_FUZZ_SEED ?? 20261127)
    const p = createPrng(seed)
    const rnd = (): number => p.next()
    const good = encodeHeader({ v: 1, id: 'bafkreid5cgnvs3lxdklh2tlwfxtpwoekz5k6rz22jhiainukegftp2wd44', name: 'echo', spec: { abi: 'wasi', limits: { timeoutMs: 100 }, grants: { clock: true }, env: { A: 'b' }, warmPoolSize: 1 } })
    const okRes = encodeHeader({ v: 1, ok: true, ranOn: '12D3KooWtest', durationMs: 1.5, coldStart: false })
    assert.equal(decodeRequestHeader(good).spec.limits?.timeoutMs, 100)
    for (let i = 0; i < 3000; i++) {
      const base = i % 2 === 0 ? good : okRes
      const b = new Uint8Array(base)
      const flips = 1 + Math.floor(rnd() * 4)
      for (let f = 0; f < flips; f++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256)
      const frame = rnd() < 0.1 ? b.subarray(0, Math.floor(rnd() * b.length)) : b
      for (const decode of [decodeRequestHeader, decodeResponseHeader]) {
        try {
          decode(frame)
        } catch (err) {
          assert.equal((err as Error).name, 'InvalidInvokeFrameError', `seed ${seed}, case ${i}: ${(err as Error).message}`)
        }
      }
    }
    assert.throws(() => decodeRequestHeader(new Uint8Array(17 * 1024).fill(32)), /larger than/)
  })
})
