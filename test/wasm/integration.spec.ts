/**
 * Functions through the HTTP API of one peer (real libp2p + helia + disk
 * stores + worker runtime): deploy, list, get, invoke, versions that
 * survive a restart, the Function manifest, and every bad input of issue 5
 * answered with the right status while the peer keeps serving.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { fixture, cidOf, enc } from './helpers.js'
import { buildExamples, deploy, example, http, invoke, removeDir, startFnPeer } from './integration-mesh.js'
import type { FnPeer } from './integration-mesh.js'


function u32s (b: Uint8Array): number[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const out: number[] = []
  for (let i = 0; i + 4 <= b.byteLength; i += 4) out.push(v.getInt32(i, true))
  return out
}

describe('wasm integration: functions over HTTP on one peer', function () {
  this.timeout(60_000)
  let peer: FnPeer
  let echoId: string

  before(async function () {
    this.timeout(240_000)
    await buildExamples()
    peer = await startFnPeer({ name: 'single', runtime: { workers: 2 }, store: { fetchTimeoutMs: 1500 } })
  })

  after(async () => {
    await peer?.stop()
    if (peer != null) await removeDir(peer.dir)
  })

  it('deploys the echo example: 201 {id (the CID of the bytes, as the manifest carries), name, version}', async () => {
    const bytes = await example('echo')
    const res = await deploy(peer, bytes, 'name=echo&abi=wasi')
    assert.equal(res.status, 201, res.text)
    const body = res.json()
    echoId = await cidOf(bytes)
    assert.deepEqual(body, { id: echoId, name: 'echo', version: 1 })
    const manifest = await readFile(new URL('../../examples/manifests/echo.yaml', import.meta.url), 'utf8')
    assert.ok(manifest.includes(`source: ${echoId}`), 'examples/manifests/echo.yaml carries the same CID')
    // the bytes are a raw block in helia
    assert.equal(await peer.helia.blockstore.has((await import('multiformats/cid')).CID.parse(echoId)), true)
  })

  it('invokes by name and by CID: body in, body out, headers say where and how long', async () => {
    for (const ref of ['echo', echoId]) {
      const res = await invoke(peer, ref, 'hello mesh')
      assert.equal(res.status, 200, res.text)
      assert.equal(res.text, 'hello mesh')
      assert.equal(res.headers.get('x-dcis-ran-on'), peer.id)
      assert.ok(Number(res.headers.get('x-dcis-duration-ms')) >= 0)
      assert.match(res.headers.get('x-dcis-cold-start') ?? '', /^(true|false)$/)
      assert.equal(res.headers.get('x-dcis-function-id'), echoId)
    }
    // a JSON body is passed through as bytes, not parsed
    const res = await invoke(peer, 'echo', '{"a":1}')
    assert.equal(res.text, '{"a":1}')
    const empty = await http(`${peer.url}/v1/functions/echo`, { method: 'POST' })
    assert.equal(empty.status, 200)
    assert.equal(empty.body.byteLength, 0)
  })

  it('lists and describes functions', async () => {
    const list = (await http(`${peer.url}/v1/functions`)).json()
    const echo = list.functions.find((f: { name: string }) => f.name === 'echo')
    assert.equal(echo.id, echoId)
    assert.equal(echo.abi, 'wasi')
    const one = await http(`${peer.url}/v1/functions/echo`)
    assert.equal(one.status, 200)
    const d = one.json()
    assert.equal(d.versions.length, 1)
    assert.equal(d.versions[0].current, true)
    assert.equal(d.events[0].type, 'deployed')
    assert.equal((await http(`${peer.url}/v1/functions/${echoId}`)).json().name, 'echo')
    const missing = await http(`${peer.url}/v1/functions/nope`)
    assert.equal(missing.status, 404)
    assert.equal(missing.json().error.code, 'FUNCTION_NOT_FOUND')
    assert.equal((await invoke(peer, 'nope', 'x')).status, 404)
  })

  it('versions by name: a new module becomes current, the history stays', async () => {
    const v2 = await fixture('echo')
    const res = await deploy(peer, v2, 'name=echo&timeoutMs=2000')
    assert.equal(res.status, 201, res.text)
    assert.equal(res.json().version, 2)
    const d = (await http(`${peer.url}/v1/functions/echo`)).json()
    assert.deepEqual(d.versions.map((v: { version: number, current: boolean }) => [v.version, v.current]), [[1, false], [2, true]])
    assert.equal(d.versions[1].limits.timeoutMs, 2000)
    assert.equal(d.id, await cidOf(v2))
    assert.equal((await invoke(peer, 'echo', 'v2')).text, 'v2')
    // the old version is still invocable by its CID
    assert.equal((await invoke(peer, echoId, 'v1')).text, 'v1')
  })

  it('the sensor filter and the reactor example run through HTTP', async () => {
    assert.equal((await deploy(peer, await example('sensor-filter'), 'name=sensor-filter&memoryMb=32')).status, 201)
    const body = '{"min":0,"max":50,"events":[{"sensor":"probe","value":21},{"sensor":"probe","value":99}]}'
    const out = JSON.parse((await invoke(peer, 'sensor-filter', body)).text) as { accepted: number, dropped: number }
    assert.equal(out.accepted, 1)
    assert.equal(out.dropped, 1)
    assert.equal((await deploy(peer, await example('sensor-reactor'), 'name=sensor-reactor&abi=reactor')).status, 201)
    const r = await invoke(peer, 'sensor-reactor', body)
    assert.equal(r.status, 200, r.text)
    assert.equal(JSON.parse(r.text).accepted, 1)
  })

  describe('bad input (the peer keeps serving after each)', () => {
    afterEach(async () => {
      const res = await invoke(peer, 'echo', 'still alive')
      assert.equal(res.status, 200, `echo after a bad case: ${res.text}`)
      assert.equal(res.text, 'still alive')
    })

    it('invalid bytes -> 400 INVALID_MODULE', async () => {
      const res = await deploy(peer, enc.encode('definitely not wasm'), 'name=junk')
      assert.equal(res.status, 400)
      assert.equal(res.json().error.code, 'INVALID_MODULE')
      const truncated = (await example('echo')).subarray(0, 100)
      assert.equal((await deploy(peer, truncated, 'name=junk')).status, 400)
      assert.equal((await http(`${peer.url}/v1/functions/junk`)).status, 404, 'nothing was recorded')
      const { CID } = await import('multiformats/cid')
      assert.equal(await peer.helia.blockstore.has(CID.parse(await cidOf(truncated))), false, 'nor stored')
    })

    it('oversized module -> 413', async () => {
      const big = new Uint8Array(5 * 1024 * 1024 + 1)
      big.set([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])
      const res = await deploy(peer, big, 'name=big')
      assert.equal(res.status, 413)
      assert.equal(res.json().error.code, 'MODULE_TOO_LARGE')
      const huge = await deploy(peer, new Uint8Array(11 * 1024 * 1024), 'name=big')
      assert.equal(huge.status, 413)
    })

    it('bad parameters and media type -> 400 / 415 naming the field', async () => {
      const bytes = await fixture('echo')
      const noName = await deploy(peer, bytes, 'abi=wasi')
      assert.equal(noName.status, 400)
      assert.match(noName.json().error.message, /name/)
      assert.equal((await deploy(peer, bytes, 'name=Bad_Name')).status, 400)
      assert.equal((await deploy(peer, bytes, 'name=x&abi=cobol')).status, 400)
      assert.equal((await deploy(peer, bytes, 'name=x&timeoutMs=-5')).status, 400)
      const json = await http(`${peer.url}/v1/functions?name=x`, { method: 'POST', body: '{}', type: 'application/json' })
      assert.equal(json.status, 415)
    })

    it('disallowed imports -> 422 DISALLOWED_IMPORT', async () => {
      for (const f of ['bad-import-env', 'bad-import-unknown-wasi']) {
        const res = await deploy(peer, await fixture(f), 'name=bad-import')
        assert.equal(res.status, 422, f)
        assert.equal(res.json().error.code, 'DISALLOWED_IMPORT')
      }
    })

    it('missing exports -> 422 MISSING_EXPORT (wasi without _start, reactor without handle_event)', async () => {
      const res = await deploy(peer, await fixture('missing-start'), 'name=no-start')
      assert.equal(res.status, 422)
      assert.equal(res.json().error.code, 'MISSING_EXPORT')
      const r2 = await deploy(peer, await fixture('echo'), 'name=no-handler&abi=reactor')
      assert.equal(r2.status, 422)
    })

    it('infinite loop -> 504 at the timeout, and the next invoke works', async () => {
      assert.equal((await deploy(peer, await fixture('loop'), 'name=loop&timeoutMs=300')).status, 201)
      const res = await invoke(peer, 'loop')
      assert.equal(res.status, 504)
      assert.equal(res.json().error.code, 'FUNCTION_TIMEOUT')
    })

    it('memory bomb: memory.grow fails at the limit (16 MiB = 256 pages)', async () => {
      assert.equal((await deploy(peer, await fixture('bomb'), 'name=bomb&memoryMb=16')).status, 201)
      const res = await invoke(peer, 'bomb')
      assert.equal(res.status, 200, res.text)
      const [big, pages] = u32s(res.body)
      assert.equal(big, -1)
      assert.equal(pages, 256)
    })

    it('trap -> 502 FUNCTION_TRAP with a clear message', async () => {
      assert.equal((await deploy(peer, await fixture('trap'), 'name=trap')).status, 201)
      const res = await invoke(peer, 'trap')
      assert.equal(res.status, 502)
      assert.equal(res.json().error.code, 'FUNCTION_TRAP')
      assert.match(res.json().error.message, /trap|unreachable/i)
    })

    it('huge output -> 502 OUTPUT_TOO_LARGE (refused, not buffered)', async () => {
      assert.equal((await deploy(peer, await fixture('huge-output'), 'name=huge&maxOutputBytes=65536')).status, 201)
      const res = await invoke(peer, 'huge')
      assert.equal(res.status, 502)
      assert.equal(res.json().error.code, 'OUTPUT_TOO_LARGE')
    })

    it('file and env access without a grant are refused (EBADF / ENOTCAPABLE, empty environment)', async () => {
      assert.equal((await deploy(peer, await fixture('probe'), 'name=probe')).status, 201)
      const res = await invoke(peer, 'probe')
      assert.equal(res.status, 200, res.text)
      const [openPre, openStdin, prestat, envCount, envBytes, clock, random] = u32s(res.body)
      assert.equal(openPre, 8)
      assert.equal(openStdin, 76)
      assert.equal(prestat, 8)
      assert.equal(envCount, 0)
      assert.equal(envBytes, 0)
      assert.equal(clock, 76)
      assert.equal(random, 76)
    })

    it('a flood beyond the limits gets 429/503, never a crash', async () => {
      assert.equal((await deploy(peer, await fixture('loop'), 'name=slow&timeoutMs=400&maxConcurrency=1&maxQueue=1')).status, 201)
      const results = await Promise.all(Array.from({ length: 12 }, async () => await invoke(peer, 'slow')))
      const statuses = results.map(r => r.status)
      assert.ok(statuses.every(s => s === 504 || s === 429 || s === 503), `unexpected statuses ${statuses.join(',')}`)
      assert.ok(statuses.filter(s => s === 429 || s === 503).length >= 8, `most calls are refused: ${statuses.join(',')}`)
      for (const r of results.filter(x => x.status === 429)) assert.equal(r.json().error.code, 'OVERLOADED')
    })
  })

  it('the Function manifest deploys a stored CID under a name with its limits', async () => {
    const manifest = await readFile(new URL('../../examples/manifests/sensor-filter.yaml', import.meta.url), 'utf8')
    const res = await http(`${peer.url}/v1/manifests`, { method: 'POST', body: manifest, type: 'application/yaml' })
    assert.equal(res.status, 201, res.text)
    const applied = res.json().applied[0]
    assert.equal(applied.kind, 'Function')
    assert.equal(applied.result.id, await cidOf(await example('sensor-filter')))
    const d = (await http(`${peer.url}/v1/functions/sensor-filter`)).json()
    assert.equal(d.versions.find((v: { current: boolean }) => v.current).warmPoolSize, 2)
    assert.equal(d.versions.find((v: { current: boolean }) => v.current).limits.timeoutMs, 2000)
    // a source whose bytes nobody has: refused after the fetch timeout, nothing recorded
    const unknown = manifest.replace(/source: \S+/, `source: ${await cidOf(enc.encode('no such module'))}`).replace('name: sensor-filter', 'name: ghost')
    const r2 = await http(`${peer.url}/v1/manifests`, { method: 'POST', body: unknown, type: 'application/yaml' })
    assert.equal(r2.status, 504, r2.text)
    assert.equal(r2.json().error.code, 'MODULE_UNAVAILABLE')
  })

  it('the name index survives a restart (same data dir)', async () => {
    const before = (await http(`${peer.url}/v1/functions/echo`)).json()
    const { dir, key } = peer
    await peer.stop()
    peer = await startFnPeer({ name: 'single', dir, key, runtime: { workers: 2 }, store: { fetchTimeoutMs: 1500 } })
    const after = (await http(`${peer.url}/v1/functions/echo`)).json()
    assert.deepEqual(after.versions.map((v: { id: string }) => v.id), before.versions.map((v: { id: string }) => v.id))
    assert.equal(after.id, before.id)
    // loaded lazily from the blockstore on first use
    const res = await invoke(peer, 'echo', 'after restart')
    assert.equal(res.text, 'after restart')
    assert.equal(res.headers.get('x-dcis-cold-start'), 'true')
  })
})
