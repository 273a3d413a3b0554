/**
 * Re-authorised forwarding between two real MeshNodes (real libp2p over
 * loopback, no trusted loopback): peer A holds no replica of the services,
 * peer B holds them. A caller whose token A's policy accepts but B's policy
 * does not is refused by B (403 at A's API) for eventual (crdt-rpc) and
 * strong (raft-kv) services; a caller both peers accept is served. Reads of
 * service data need a token; a token scoped to service `a` gets 403 on `b`.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { pino } from 'pino'
import { defaultConfig } from '../../src/config/index.js'
import { identityFromPrivateKey, signJwt } from '../../src/identity/index.js'
import { createMeshNode } from '../../src/node/index.js'
import { waitFor } from '../helpers/wait.js'
import { buildExamples, cidOf, example } from '../wasm/helpers.js'
import type { DcisConfig } from '../../src/config/index.js'
import type { NodeIdentity } from '../../src/identity/index.js'
import type { MeshNode } from '../../src/node/index.js'

interface Reply { value?: string, local?: boolean, replicas: Array<{ peerId: string }>, error: { code: string } }

describe('node: forwarded calls are re-authorised by the peer that serves them', function () {
  this.timeout(120_000)
  let dir: string
  let a: MeshNode
  let b: MeshNode
  let both: NodeIdentity
  let onlyA: NodeIdentity
  let reader: NodeIdentity
  /** may allocate on A only / on B only */
  let allocA: NodeIdentity
  let allocB: NodeIdentity

  async function node (name: string, zone: string, policy: DcisConfig['api']['policy'], bootstrap: MeshNode | undefined): Promise<MeshNode> {
    const c = defaultConfig()
    const n = createMeshNode({
      config: { ...c, dataDir: join(dir, name), region: 'eu-west', zone, listen: ['/ip4/127.0.0.1/tcp/0'], api: { ...c.api, host: '127.0.0.1', port: 0, trustLoopback: false, policy } },
      bootstrapPeers: bootstrap == null ? [] : bootstrap.libp2p.getMultiaddrs(),
      logger: pino({ level: 'silent' })
    })
    await n.start()
    return n
  }

  async function call (peer: MeshNode, method: string, path: string, token?: string, body?: string, type = 'text/plain'): Promise<{ status: number, json: () => Reply, text: string }> {
    const res = await fetch(`${peer.api?.url ?? ''}${path}`, {
      method,
      headers: { ...(token != null ? { authorization: `Bearer ${token}` } : {}), ...(body != null ? { 'content-type': type } : {}) },
      ...(body != null ? { body } : {})
    })
    const text = await res.text()
    return { status: res.status, text, json: () => JSON.parse(text) as Reply }
  }

  const tokenFor = async (who: NodeIdentity, peer: MeshNode, claims: Record<string, unknown> = {}): Promise<string> => signJwt(who, claims, { audience: peer.identity.did, expiresInSeconds: 600 })

  before(async function () {
    this.timeout(120_000)
    dir = await mkdtemp(join(tmpdir(), 'dcis-fwd-auth-'))
    both = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    onlyA = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    reader = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    allocA = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    allocB = identityFromPrivateKey(await generateKeyPair('Ed25519'))
    b = await node('b', 'eu-west-b', [{ did: both.did, roles: ['services', 'admin'] }, { did: reader.did, roles: ['read'] }, { did: allocB.did, roles: ['allocate'] }], undefined)
    a = await node('a', 'eu-west-a', [{ did: both.did, roles: ['services', 'admin'] }, { did: onlyA.did, roles: ['services'] }, { did: reader.did, roles: ['read'] }, { did: allocA.did, roles: ['allocate'] }], b)
    const has = (n: MeshNode, m: MeshNode): boolean => n.registry.list().some(e => e.end.peerId === m.libp2p.peerId.toString())
    await waitFor('both peers verified each other', () => has(a, b) && has(b, a), { timeoutMs: 30_000, intervalMs: 20 })
    // both services live on B only (its zone); A forwards every data call
    for (const [name, mode] of [['ev', 'eventual'], ['st', 'strong']] as const) {
      const manifest = { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name }, spec: { replicas: 1, dataSharding: { strategy: 'geographic', zones: ['eu-west-b'] }, consistency: mode === 'strong' ? { mode, latencyRadiusMs: 50 } : { mode } } }
      const res = await call(a, 'POST', '/v1/manifests', await tokenFor(both, a), JSON.stringify(manifest), 'application/json')
      assert.equal(res.status, 201, res.text)
    }
    const self = b.libp2p.peerId.toString()
    await waitFor('the services are placed on B and known to A', async () => {
      for (const name of ['ev', 'st']) {
        const s = await call(a, 'GET', `/v1/services/${name}`)
        if (s.status !== 200 || s.json().local === true || !s.json().replicas.some(r => r.peerId === self)) return false
      }
      return true
    }, { timeoutMs: 60_000, intervalMs: 100 })
  })

  after(async function () {
    this.timeout(60_000)
    await a?.stop()
    await b?.stop()
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  for (const name of ['ev', 'st']) {
    it(`${name}: a caller both peers accept writes and reads through A`, async () => {
      const t = await tokenFor(both, a)
      await waitFor(`a write to ${name} through A`, async () => (await call(a, 'PUT', `/v1/services/${name}/kv/k`, t, 'v1')).status === 200, { timeoutMs: 30_000, intervalMs: 200 })
      const got = await call(a, 'GET', `/v1/services/${name}/kv/k`, t)
      assert.equal(got.status, 200, got.text)
      assert.equal(got.json().value, 'v1')
    })

    it(`${name}: a caller only A accepts is refused by B (403), though A's API let it through`, async () => {
      const t = await tokenFor(onlyA, a)
      const put = await call(a, 'PUT', `/v1/services/${name}/kv/k`, t, 'evil')
      assert.equal(put.status, 403, put.text)
      assert.equal(put.json().error.code, 'FORBIDDEN')
      const got = await call(a, 'GET', `/v1/services/${name}/kv/k`, t)
      assert.equal(got.status, 403, got.text)
      // B's value is untouched
      assert.equal((await call(a, 'GET', `/v1/services/${name}/kv/k`, await tokenFor(both, a))).json().value, 'v1')
    })

    it(`${name}: reads need a token (401 without); a read-only token reads through A but cannot write`, async () => {
      assert.equal((await call(a, 'GET', `/v1/services/${name}/kv/k`)).status, 401)
      assert.equal((await call(b, 'GET', `/v1/services/${name}/kv/k`)).status, 401)
      const r = await tokenFor(reader, a)
      assert.equal((await call(a, 'GET', `/v1/services/${name}/kv/k`, r)).status, 200)
      assert.equal((await call(a, 'PUT', `/v1/services/${name}/kv/k`, r, 'x')).status, 403)
    })
  }

  for (const name of ['ev', 'st']) {
    it(`${name}: ?provenance=true says who wrote, when, via which peer, signed by that peer`, async () => {
      const put = await call(a, 'PUT', `/v1/services/${name}/kv/prov`, await tokenFor(both, a), 'with provenance')
      assert.equal(put.status, 200, put.text)
      const got = await call(b, 'GET', `/v1/services/${name}/kv/prov?provenance=true`, await tokenFor(both, b))
      assert.equal(got.status, 200, got.text)
      const p = (got.json() as unknown as { provenance: { writer: string, via: string, verified: boolean, stale: boolean, rev: number, at: string } | null, revision: number }).provenance
      assert.ok(p != null, got.text)
      assert.equal(p.writer, both.did)
      assert.equal(p.via, a.identity.did)
      assert.equal(p.verified, true)
      assert.equal(p.stale, false)
      assert.ok(Date.now() - Date.parse(p.at) < 120_000)
      // without the flag the answer is the plain entry; the reserved key space is not writable
      assert.equal((got.json() as unknown as Record<string, unknown>).value, 'with provenance')
      assert.equal('provenance' in (await call(b, 'GET', `/v1/services/${name}/kv/prov`, await tokenFor(both, b))).json(), false)
      assert.equal((await call(a, 'PUT', `/v1/services/${name}/kv/%00prov%2Fprov`, await tokenFor(both, a), 'forged')).status, 400)
    })
  }

  it('a token scoped to service ev gets 403 on st, on A and through the forward', async () => {
    const scoped = await tokenFor(both, a, { scope: { services: ['ev'] } })
    assert.equal((await call(a, 'GET', '/v1/services/ev/kv/k', scoped)).status, 200)
    assert.equal((await call(a, 'GET', '/v1/services/st/kv/k', scoped)).status, 403)
    assert.equal((await call(a, 'PUT', '/v1/services/st/kv/k', scoped, 'x')).status, 403)
  })

  describe('host calls of a function on A reach the services on B with the invoking caller\'s authority', () => {
    let id: string
    const probe = async (token: string | undefined, cmds: string): Promise<string[]> => {
      const runtime = a.functions?.runtime
      assert.ok(runtime != null)
      const r = await runtime.invoke(id, new TextEncoder().encode(cmds), token !== undefined ? { token } : {})
      return new TextDecoder().decode(r.output).trim().split('\n')
    }

    before(async function () {
      this.timeout(240_000)
      await buildExamples()
      const bytes = await example('host-probe')
      id = await cidOf(bytes)
      const runtime = a.functions?.runtime
      assert.ok(runtime != null)
      // grants: both services read-write (the function's own least privilege)
      await runtime.load({ id, name: 'probe', abi: 'reactor', bytes, grants: { services: { ev: 'read-write', st: 'read-write' } } })
    })

    for (const name of ['ev', 'st']) {
      it(`${name}: a caller B accepts: the host calls are served by B`, async () => {
        const t = await tokenFor(both, a)
        // (strong services have no counters)
        const out = await probe(t, `kv_put ${name} hk from-host\nkv_get ${name} hk${name === 'ev' ? `\ncounter_add ${name} hc 3` : ''}`)
        assert.deepEqual(out, ['ok ', 'ok from-host', ...(name === 'ev' ? ['ok 3'] : [])])
        const got = await call(b, 'GET', `/v1/services/${name}/kv/hk`, await tokenFor(both, b))
        assert.equal(got.json().value, 'from-host')
      })

      it(`${name}: a caller only A accepts, or no token at all: B refuses the host calls (grants alone do not pass)`, async () => {
        for (const t of [await tokenFor(onlyA, a), undefined]) {
          const out = await probe(t, `kv_put ${name} hk evil\nkv_get ${name} hk`)
          assert.equal(out.length, 2)
          for (const line of out) assert.match(line, /^err -/, `${t === undefined ? 'no token' : 'onlyA'}: ${line}`)
        }
        assert.equal((await call(b, 'GET', `/v1/services/${name}/kv/hk`, await tokenFor(both, b))).json().value, 'from-host')
      })

      it(`${name}: a read-only caller reads through the host interface but cannot write`, async () => {
        const out = await probe(await tokenFor(reader, a), `kv_get ${name} hk\nkv_put ${name} hk x`)
        assert.equal(out[0], 'ok from-host')
        assert.match(out[1], /^err -/)
      })
    }
  })

  describe('allocation frames carry the caller\'s token and the peer holding the allocation re-checks it', () => {
    const allocate = async (peer: MeshNode, token: string): Promise<{ status: number, text: string }> =>
      await call(peer, 'POST', '/v1/allocations', token, JSON.stringify({ replicas: 2, leaseMs: 60_000 }), 'application/json')

    it('a caller only A lets allocate cannot reserve on B: 403 at A', async () => {
      const r = await allocate(a, await tokenFor(allocA, a))
      assert.equal(r.status, 403, r.text)
      assert.equal((JSON.parse(r.text) as Reply).error.code, 'FORBIDDEN')
    })

    it('a caller both peers accept allocates on both; a renew or release forwarded to the owner is re-checked there', async () => {
      const r = await allocate(a, await tokenFor(both, a))
      assert.equal(r.status, 201, r.text)
      const view = JSON.parse(r.text) as { id: string, nodes: Array<{ peerId: string }> }
      assert.equal(view.nodes.length, 2)
      const owner = view.id.slice(0, view.id.indexOf('.'))
      // enter at the peer that does not own it, with a caller only that peer lets allocate: the owner refuses
      const [entry, who, other] = owner === b.libp2p.peerId.toString() ? [a, allocA, b] : [b, allocB, a]
      const renew = await call(entry, 'POST', `/v1/allocations/${view.id}/renew`, await tokenFor(who, entry), JSON.stringify({ leaseMs: 60_000 }), 'application/json')
      assert.equal(renew.status, 403, renew.text)
      assert.equal((JSON.parse(renew.text) as Reply).error.code, 'FORBIDDEN')
      const release = await call(entry, 'DELETE', `/v1/allocations/${view.id}`, await tokenFor(who, entry))
      assert.equal(release.status, 403, release.text)
      // reading an allocation is info (open), not re-checked; a caller both accept releases it through the same entry
      assert.equal((await call(entry, 'GET', `/v1/allocations/${view.id}`, await tokenFor(who, entry))).status, 200)
      const ok = await call(entry, 'GET', `/v1/allocations/${view.id}`, await tokenFor(both, entry))
      assert.equal(ok.status, 200, ok.text)
      assert.equal((await call(entry, 'DELETE', `/v1/allocations/${view.id}`, await tokenFor(both, entry))).status, 200)
      assert.equal((await call(other, 'GET', `/v1/allocations/${view.id}`, await tokenFor(both, other))).status, 404)
    })
  })
})
