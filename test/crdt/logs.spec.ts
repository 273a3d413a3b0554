/**
 * Append-only logs of an eventual service on real in-process peers
 * (libp2p on 127.0.0.1): appends on every replica converge to one order,
 * a non-replica forwards appends and reads, cursors resume, retention
 * trims on every replica, and the HTTP routes validate their input.
 */
import assert from 'node:assert/strict'
import { createMeshNode } from '../../src/node/index.js'
import type { MeshNode } from '../../src/node/index.js'
import { parseManifests } from '../../src/services/manifests/index.js'
import { createLogger } from '../../src/telemetry/index.js'
import type { CrdtBackend } from '../../src/crdt/service/index.js'
import { TestMesh, api } from '../registry/mesh.js'
import { waitFor } from '../helpers/wait.js'
import { runCli } from '../helpers/cli.js'
import { buildExamples, cidOf, example } from '../wasm/helpers.js'

const REGIONS = ['eu-west', 'us-east', 'ap-south']

const MANIFEST = `apiVersion: edge/v1
kind: EdgeStatefulService
metadata:
  name: telemetry
spec:
  replicas: 2
  dataSharding:
    strategy: geographic
    zones: [eu-west-a, us-east-a]
  consistency:
    mode: eventual
    maxStalenessMs: 200
  logs:
    retention:
      maxEntries: 50
`

describe('crdt logs: append-only logs of an eventual service', function () {
  this.timeout(90_000)
  let mesh: TestMesh
  const nodes: MeshNode[] = []
  const crdt = (i: number): CrdtBackend => nodes[i].crdt as CrdtBackend

  before(async function () {
    mesh = new TestMesh()
    await mesh.init()
    for (let i = 0; i < REGIONS.length; i++) {
      const config = mesh.config(i, { region: REGIONS[i] })
      const node = createMeshNode({
        config: { ...config, api: { ...config.api, trustLoopback: true } },
        bootstrapPeers: mesh.bootstrap(),
        logger: createLogger({ level: 'silent' })
      })
      await node.start()
      mesh.nodes.push(node)
      nodes.push(node)
    }
    await waitFor('every registry to list every peer', () => nodes.every(n => n.registry.list().length === nodes.length), { timeoutMs: 30_000 })
    await nodes[2].manifests.apply(parseManifests(MANIFEST))
    for (const [i, n] of nodes.entries()) {
      await waitFor(`peer ${i} to know the service`, () => n.crdt?.has('telemetry') === true && n.crdt.isLocal('telemetry') === (i < 2), { timeoutMs: 30_000 })
    }
  })

  after(async function () {
    await mesh?.close()
  })

  it('appends on both replicas converge to one total order; the non-replica forwards', async function () {
    await Promise.all([
      crdt(0).appendLog('telemetry', 'alerts', ['a0', 'a1', 'a2']),
      crdt(1).appendLog('telemetry', 'alerts', ['b0', 'b1']),
      crdt(2).appendLog('telemetry', 'alerts', ['c0'])
    ])
    const order = await waitFor('both replicas to hold all six entries in the same order', async () => {
      const [x, y] = await Promise.all([crdt(0).readLog('telemetry', 'alerts'), crdt(1).readLog('telemetry', 'alerts')])
      if (x.entries.length !== 6 || y.entries.length !== 6) return undefined
      assert.deepEqual(x.entries, y.entries)
      return x.entries.map(e => e.value)
    }, { timeoutMs: 20_000, intervalMs: 20 })
    // each replica's own appends keep their order within the total order
    const pos = (v: string): number => order.indexOf(v)
    assert.ok(pos('a0') < pos('a1') && pos('a1') < pos('a2'))
    assert.ok(pos('b0') < pos('b1'))
    assert.deepEqual((await crdt(2).readLog('telemetry', 'alerts')).entries.map(e => e.value), order)
  })

  it('a cursor resumes where a consumer stopped, over HTTP', async function () {
    const url = nodes[2].api?.url as string
    const first = await api(`${url}/v1/services/telemetry/logs/alerts?limit=4`)
    assert.equal(first.status, 200)
    assert.equal(first.body.entries.length, 4)
    const rest = await api(`${url}/v1/services/telemetry/logs/alerts?after=${encodeURIComponent(first.body.next as string)}`)
    assert.equal(rest.status, 200)
    assert.equal(rest.body.entries.length, 2)
    const all = await api(`${url}/v1/services/telemetry/logs/alerts`)
    assert.deepEqual([...first.body.entries, ...rest.body.entries], all.body.entries)
    // nothing after the end: the cursor stays
    const none = await api(`${url}/v1/services/telemetry/logs/alerts?after=${encodeURIComponent(rest.body.next as string)}`)
    assert.deepEqual(none.body.entries, [])
    assert.equal(none.body.next, rest.body.next)
  })

  it('HTTP appends are validated; bad cursors and bodies answer 400, unknown services 404', async function () {
    const url = nodes[0].api?.url as string
    const post = async (body: string, path = 'telemetry/logs/http'): Promise<{ status: number, body: any }> => // eslint-disable-line @typescript-eslint/no-explicit-any
      api(`${url}/v1/services/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    const ok = await post(JSON.stringify({ entries: ['x', 'y'] }))
    assert.equal(ok.status, 200)
    assert.equal(ok.body.appended, 2)
    assert.equal(typeof ok.body.last, 'string')
    const after = await api(`${url}/v1/services/telemetry/logs/http?after=${encodeURIComponent(ok.body.first as string)}`)
    assert.deepEqual(after.body.entries.map((e: { value: string }) => e.value), ['y'])
    assert.equal((await post(JSON.stringify({ entries: [] }))).status, 400)
    assert.equal((await post(JSON.stringify({ entries: [1] }))).status, 400)
    assert.equal((await post('{"entries": ["x"], "extra": 1}')).status, 400)
    assert.equal((await post('not json')).status, 400)
    assert.equal((await post(JSON.stringify({ entries: ['x'] }), 'nope/logs/k')).status, 404)
    const bad = await api(`${url}/v1/services/telemetry/logs/http?after=12.x.y`)
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.code, 'INVALID_CURSOR')
    assert.equal((await api(`${url}/v1/services/telemetry/logs/http?limit=0`)).status, 400)
    // the peer keeps serving
    assert.equal((await api(`${url}/v1/services/telemetry/logs/http`)).status, 200)
  })

  it('the CLI appends and reads, resuming after a cursor; a bad limit is a one-line error', async function () {
    const url = nodes[1].api?.url as string
    const app = await runCli(['log', 'append', 'telemetry', 'cli', 'one', 'two', 'three', '--api', url, '--json'])
    assert.equal(app.code, 0, app.stderr)
    assert.equal((JSON.parse(app.stdout) as { appended: number }).appended, 3)
    const first = await runCli(['log', 'read', 'telemetry', 'cli', '--api', url, '--limit', '1'])
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, / one\n$/)
    const cursor = /next: (\S+)/.exec(first.stderr)?.[1]
    assert.ok(cursor != null, first.stderr)
    const rest = await runCli(['log', 'read', 'telemetry', 'cli', '--api', url, '--after', cursor, '--json'])
    assert.deepEqual(rest.stdout.trim().split('\n').map(l => (JSON.parse(l) as { value: string }).value), ['two', 'three'])
    const bad = await runCli(['log', 'read', 'telemetry', 'cli', '--api', url, '--limit', 'x'])
    assert.notEqual(bad.code, 0)
  })

  it('a function on a peer without a replica reaches the service through the host interface (served by a remote replica)', async function () {
    await buildExamples()
    const bytes = await example('host-probe')
    const runtime = nodes[2].functions?.runtime
    assert.ok(runtime != null)
    assert.equal(crdt(2).isLocal('telemetry'), false)
    const id = await cidOf(bytes)
    await runtime.load({ id, name: 'probe', abi: 'reactor', bytes, grants: { services: { telemetry: 'read-write' } } })
    const r = await runtime.invoke(id, new TextEncoder().encode('counter_add telemetry hostcalls 5\nlog_append telemetry hostlog hello\nkv_put telemetry k v\nkv_get telemetry k'))
    const out = new TextDecoder().decode(r.output).trim().split('\n')
    assert.equal(out[0], 'ok 5')
    assert.match(out[1], /^ok \d+\.\d+\.\d+\.12D3/)
    assert.deepEqual(out.slice(2), ['ok ', 'ok v'])
    await waitFor('the counter on both replicas', async () => (await crdt(0).counter('telemetry', 'hostcalls')).value === 5 && (await crdt(1).counter('telemetry', 'hostcalls')).value === 5, { timeoutMs: 20_000, intervalMs: 20 })
    assert.deepEqual((await crdt(0).readLog('telemetry', 'hostlog')).entries.map(e => e.value), ['hello'])
  })

  it('size retention trims the oldest entries on every replica and keeps the order', async function () {
    // each batch is seen by the other replica before it appends the next: the
    // order by HLC is then the causal one (two replicas appending without
    // having heard each other interleave by clock, as designed)
    for (let i = 0; i < 8; i++) {
      await crdt(i % 2).appendLog('telemetry', 'sensor', Array.from({ length: 20 }, (_, j) => `r${i % 2}-${i}-${j}`))
      const last = `r${i % 2}-${i}-19`
      await waitFor(`batch ${i} on the other replica`, async () => (await crdt((i + 1) % 2).readLog('telemetry', 'sensor')).entries.some(e => e.value === last), { timeoutMs: 30_000, intervalMs: 20 })
    }
    const entries = await waitFor('both replicas trimmed to the same newest 50 or fewer', async () => {
      const [x, y] = await Promise.all([crdt(0).readLog('telemetry', 'sensor'), crdt(1).readLog('telemetry', 'sensor')])
      if (x.entries.length > 50 || x.entries.length === 0 || JSON.stringify(x.entries) !== JSON.stringify(y.entries)) return undefined
      return x.entries
    }, { timeoutMs: 30_000, intervalMs: 50 })
    // the last batch survives whole and in order
    const tail = entries.slice(-20).map(e => e.value)
    assert.deepEqual(tail, Array.from({ length: 20 }, (_, j) => `r1-7-${j}`))
  })
})
