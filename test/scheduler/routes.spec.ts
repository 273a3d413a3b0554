import assert from 'node:assert/strict'
import { Registry } from 'prom-client'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { ApiAuth } from '../../src/api/auth.js'
import { buildOpenApiDocument, createApiServer } from '../../src/api/index.js'
import { identityFromPrivateKey, signJwt } from '../../src/identity/index.js'
import { allocationRoutes } from '../../src/scheduler/index.js'
import { Command } from 'commander'
import { registerAlloc } from '../../src/cli/commands/alloc.js'
import { CliError } from '../../src/cli/errors.js'
import { entryOf, FakeRegistry, silent, startPeer, stopPeer } from './mesh.js'
import type { MeshPeer } from './mesh.js'
import type { ApiNode, ApiServer } from '../../src/api/index.js'

// the replies are checked field by field; a loose type keeps the assertions short
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any

function fakeNode (peerId: string): ApiNode {
  return {
    info: () => ({ peerId, did: `did:key:z${peerId}`, multiaddrs: [], region: 'eu-west', zone: 'eu-west-a', end: null, endJwt: null }),
    peers: async () => [],
    isReady: () => true
  }
}

async function call (api: ApiServer, method: string, path: string, body?: unknown): Promise<{ status: number, json: Json }> {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    body: body !== undefined ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
    signal: AbortSignal.timeout(10_000)
  })
  return { status: res.status, json: await res.json() }
}

describe('scheduler HTTP routes and dcis alloc', function () {
  this.timeout(60_000)
  const registry = new FakeRegistry()
  let a: MeshPeer, b: MeshPeer
  let apiA: ApiServer, apiB: ApiServer

  before(async () => {
    a = await startPeer({ name: 'a', capacity: { cpu: 0, memoryMb: 0 }, registry })
    b = await startPeer({ name: 'b', capacity: { cpu: 2, memoryMb: 2048 }, registry })
    registry.entries = [entryOf(b, { region: 'eu-west', zone: 'eu-west-b', freeCpu: 2, freeMemoryMb: 2048 })]
    a.oracle.set(a.id, b.id, 4, 1)
    apiA = createApiServer({ node: fakeNode(a.id), metrics: new Registry(), logger: silent }, { port: 0, routes: [allocationRoutes(a.service)] })
    apiB = createApiServer({ node: fakeNode(b.id), metrics: new Registry(), logger: silent }, { port: 0, routes: [allocationRoutes(() => b.service)] })
    await apiA.start()
    await apiB.start()
  })

  after(async () => {
    await apiA?.stop()
    await apiB?.stop()
    await stopPeer(a)
    await stopPeer(b)
  })

  afterEach(async () => {
    for (const r of b.service.ledger.list()) await b.service.ledger.release(r.id)
  })

  it('POST 201 -> GET and DELETE through another peer\'s API', async () => {
    const created = await call(apiA, 'POST', '/v1/allocations?explain=true', { runtime: 'wasi', constraints: { cpu: 1, memory: '256Mi', latencyMs: 10 } })
    assert.equal(created.status, 201, JSON.stringify(created.json))
    assert.deepEqual(Object.keys(created.json).sort(), ['constraints', 'cpu', 'expiresAt', 'explanation', 'id', 'leaseMs', 'memoryMb', 'nodes'])
    assert.deepEqual(created.json.nodes, [{ peerId: b.id, region: 'eu-west', zone: 'eu-west-b', rttMs: 4 }])
    assert.deepEqual(created.json.constraints, { runtime: 'wasi', cpu: 1, memory: '256Mi', latencyMs: 10 })
    assert.equal(created.json.explanation.total, 1)
    const id = created.json.id as string

    const got = await call(apiB, 'GET', `/v1/allocations/${encodeURIComponent(id)}`)
    assert.equal(got.status, 200)
    assert.equal(got.json.id, id)
    assert.equal(got.json.explanation, undefined)

    const local = await call(apiB, 'GET', '/v1/allocations')
    assert.equal(local.json.allocations.length, 1)
    assert.deepEqual(local.json.free, { cpu: 1, memoryMb: 2048 - 256 })

    const renewed = await call(apiA, 'POST', `/v1/allocations/${encodeURIComponent(id)}/renew`, { leaseMs: 90_000 })
    assert.equal(renewed.status, 200)
    assert.equal(renewed.json.leaseMs, 90_000)

    const del = await call(apiA, 'DELETE', `/v1/allocations/${encodeURIComponent(id)}`)
    assert.equal(del.status, 200)
    const gone = await call(apiA, 'GET', `/v1/allocations/${encodeURIComponent(id)}`)
    assert.equal(gone.status, 404)
    assert.equal(gone.json.error.code, 'ALLOCATION_NOT_FOUND')
  })

  it('documents every route in the OpenAPI document (mutating ones secured)', async () => {
    const doc = await buildOpenApiDocument({ routes: [allocationRoutes(a.service)] }) as { paths: Record<string, Record<string, { operationId?: string, security?: unknown, responses: Record<string, unknown> }>> }
    assert.equal(doc.paths['/v1/allocations'].post.operationId, 'createAllocation')
    assert.ok(doc.paths['/v1/allocations'].post.security != null)
    assert.ok(doc.paths['/v1/allocations'].post.responses['201'] != null)
    assert.ok(doc.paths['/v1/allocations'].post.responses['409'] != null)
    assert.ok(doc.paths['/v1/allocations/{id}'].get.responses['200'] != null)
    assert.ok(doc.paths['/v1/allocations/{id}'].delete.security != null)
    assert.ok(doc.paths['/v1/allocations/{id}/renew'].post != null)
  })

  it('400 naming the field for malformed constraints', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ constraints: { cpu: -1 } }, /cpu/],
      [{ constraints: { cpu: '1 core' } }, /cpu/],
      [{ constraints: { memory: '256MB' } }, /constraints\.memory/],
      [{ constraints: { memory: -5 } }, /constraints\.memory/],
      [{ constraints: { latencyMs: 0 } }, /latencyMs/],
      [{ constraints: { gpu: 1 } }, /gpu/],
      [{ replicas: 0 }, /replicas/],
      [{ replicas: 99 }, /replicas/],
      [{ runtime: 'jvm' }, /runtime/],
      [{ constraints: { from: 'nowhere' } }, /constraints\.from/],
      ['{"constraints": {"cpu": NaN}}', /.+/]
    ]
    for (const [body, pattern] of cases) {
      const res = await call(apiA, 'POST', '/v1/allocations', body)
      assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${res.status} ${JSON.stringify(res.json)}`)
      assert.match(res.json.error.message, pattern)
    }
    const badId = await call(apiA, 'GET', '/v1/allocations/not-an-id')
    assert.equal(badId.status, 400)
    assert.equal(badId.json.error.code, 'INVALID_ALLOCATION_ID')
  })

  it('accepts the article\'s request as written (runtime wasm, cpu "2", memory "256Mi", tee, region) and quantity cpu strings', async () => {
    const article = await call(apiA, 'POST', '/v1/allocations', { runtime: 'wasm', constraints: { cpu: '2', memory: '256Mi', tee: true, region: 'us-east' } })
    // the body validates; this two-peer mesh has no us-east peer with a TEE, so it is a placement answer, not a 400
    assert.equal(article.status, 409, JSON.stringify(article.json))
    assert.equal(article.json.error.code, 'NO_PLACEMENT')
    const placed = await call(apiA, 'POST', '/v1/allocations', { runtime: 'wasm', constraints: { cpu: '500m', memory: '256Mi', region: 'eu-west' } })
    assert.equal(placed.status, 201, JSON.stringify(placed.json))
    assert.deepEqual(placed.json.constraints, { runtime: 'wasi', cpu: 0.5, memory: '256Mi', region: 'eu-west' })
    assert.equal(placed.json.cpu, 0.5)
  })

  it('409 NO_PLACEMENT with the explanation in the message', async () => {
    const res = await call(apiA, 'POST', '/v1/allocations', { constraints: { cpu: 1, region: 'us-east' } })
    assert.equal(res.status, 409)
    assert.equal(res.json.error.code, 'NO_PLACEMENT')
    const explanation = JSON.parse(res.json.error.message.slice(res.json.error.message.indexOf('explanation {') + 12))
    assert.equal(explanation.total, 1)
    assert.equal(explanation.removed.region, 1)
  })

  it('mutating routes need the allocate role; reads are open', async () => {
    const nodeId = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    const allocator = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    const deployer = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    const auth = new ApiAuth({ nodeDid: nodeId.did, policy: [{ did: allocator.did, roles: ['allocate'] }, { did: deployer.did, roles: ['deploy'] }], trustLoopback: false })
    const api = createApiServer({ node: fakeNode(a.id), metrics: new Registry(), logger: silent }, { port: 0, auth, routes: [allocationRoutes(a.service)] })
    await api.start()
    try {
      const post = async (token?: string): Promise<number> => {
        const res = await fetch(`${api.url}/v1/allocations`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token != null ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ constraints: { cpu: 0.25 } })
        })
        await res.arrayBuffer()
        return res.status
      }
      assert.equal(await post(), 401)
      assert.equal(await post(await signJwt(deployer, {}, { audience: nodeId.did, expiresInSeconds: 60 })), 403)
      assert.equal(await post(await signJwt(allocator, {}, { audience: nodeId.did, expiresInSeconds: 60 })), 201)
      const list = await fetch(`${api.url}/v1/allocations`)
      assert.equal(list.status, 200)
      await list.arrayBuffer()
      const del = await fetch(`${api.url}/v1/allocations/${encodeURIComponent(b.service.ledger.list()[0].id)}`, { method: 'DELETE' })
      assert.equal(del.status, 401)
      await del.arrayBuffer()
    } finally {
      await api.stop()
    }
  })

  it('dcis alloc: --json on success, --explain on no placement, errors name the flag or field', async () => {
    const api = ['--api', apiA.url]
    const ok = await cli(['alloc', '--cpu', '1', '--memory', '128Mi', '--latency-ms', '20', '--json', ...api])
    assert.equal(ok.error, undefined, String(ok.error))
    const alloc = JSON.parse(ok.stdout)
    assert.equal(alloc.nodes[0].peerId, b.id)

    const human = await cli(['alloc', '--cpu', '0.5', ...api])
    assert.match(human.stdout, /^allocation \S+\.\S+\nexpires /)

    const none = await cli(['alloc', '--cpu', '1', '--region', 'us-east', '--explain', ...api])
    assert.ok(none.error instanceof CliError)
    assert.equal(none.error.message, 'no placement: 0 of 1 candidates eligible, 1 needed')
    assert.match(none.stdout, /region\s+1\s+0/)

    const noneJson = await cli(['alloc', '--cpu', '1', '--region', 'us-east', '--json', ...api])
    assert.equal(JSON.parse(noneJson.stdout).explanation.removed.region, 1)

    const bad = await cli(['alloc', '--memory', '1XB', ...api])
    assert.match(String(bad.error), /constraints\.memory/)
    const nan = await cli(['alloc', '--cpu', 'lots', ...api])
    assert.match(String(nan.error), /--cpu: not a number/)
  })
})

/** Runs `dcis alloc ...` in-process (main.ts registers it through registerAlloc), capturing stdout. */
async function cli (args: string[]): Promise<{ stdout: string, error?: unknown }> {
  const program = new Command().exitOverride()
  registerAlloc(program)
  let stdout = ''
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = ((chunk: string | Uint8Array) => { stdout += chunk.toString(); return true }) as typeof process.stdout.write
  try {
    await program.parseAsync(args, { from: 'user' })
    return { stdout }
  } catch (error) {
    return { stdout, error }
  } finally {
    process.stdout.write = write
  }
}
