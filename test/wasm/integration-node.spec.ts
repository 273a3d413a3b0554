/**
 * The function service wired into two real MeshNodes (as the lead wires it:
 * createFunctionService on the node's libp2p, helia, datastore, registry and
 * manifest dispatcher; its routes in the node's API): deploy on peer 0,
 * invoke by CID on peer 1 through the node's own API with its auth.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultConfig } from '../../src/config/index.js'
import { createMeshNode } from '../../src/node/index.js'
import { cidOf } from './helpers.js'
import { waitFor } from '../helpers/wait.js'
import { buildExamples, example, http, silent } from './integration-mesh.js'
import type { MeshNode } from '../../src/node/index.js'
import type { FunctionService } from '../../src/wasm/functions/index.js'

describe('wasm integration: functions in MeshNodes', function () {
  this.timeout(90_000)
  let dir: string
  const nodes: MeshNode[] = []
  const services: FunctionService[] = []

  async function addNode (index: number, trustLoopback: boolean): Promise<void> {
    const c = defaultConfig()
    const node = createMeshNode({
      config: { ...c, dataDir: join(dir, `peer-${index}`), region: 'eu-west', zone: 'eu-west-a', listen: ['/ip4/127.0.0.1/tcp/0'], api: { ...c.api, host: '127.0.0.1', port: 0, trustLoopback } },
      bootstrapPeers: nodes.length === 0 ? [] : nodes[0].libp2p.getMultiaddrs(),
      logger: silent
    })
    // MeshNode builds its own function service (store, routing, health) and serves its routes
    await node.start()
    nodes.push(node)
    services.push(node.functions as FunctionService)
  }

  before(async function () {
    this.timeout(240_000)
    await buildExamples()
    dir = await mkdtemp(join(tmpdir(), 'dcis-fn-node-'))
    await addNode(0, true)
    await addNode(1, false)
    await waitFor('peer 1 to verify peer 0\'s END', () => nodes[1].registry.list().some(e => e.end.peerId === nodes[0].libp2p.peerId.toString()), { timeoutMs: 20_000, intervalMs: 5 })
  })

  after(async function () {
    this.timeout(60_000)
    for (let i = nodes.length - 1; i >= 0; i--) {
      await nodes[i].stop()
    }
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it('deploy on peer 0 (loopback trusted), invoke by CID on peer 1; mutating calls need a token there', async () => {
    const [n0, n1] = nodes
    const echo = await example('echo')
    const id = await cidOf(echo)
    const dep = await http(`${n0.api?.url ?? ''}/v1/functions?name=echo`, { method: 'POST', body: echo, type: 'application/wasm' })
    assert.equal(dep.status, 201, dep.text)
    assert.equal(dep.json().id, id)
    assert.equal((await http(`${n0.api?.url ?? ''}/v1/functions`)).json().functions[0].id, id)

    const anon = await http(`${n1.api?.url ?? ''}/v1/functions/${id}`, { method: 'POST', body: 'x' })
    assert.equal(anon.status, 401, 'invoke needs the deploy role')
    assert.equal((await http(`${n1.api?.url ?? ''}/v1/functions?name=x`, { method: 'POST', body: echo, type: 'application/wasm' })).status, 401)
    assert.equal((await http(`${n1.api?.url ?? ''}/v1/functions`)).status, 200, 'reads are open')

    // peer 1 runs it through its own service (fetched over bitswap from peer 0)
    const out = await services[1].invoker.invoke(id, new TextEncoder().encode('on peer 1'))
    assert.equal(new TextDecoder().decode(out.output), 'on peer 1')
    assert.equal(out.ranOn, n1.libp2p.peerId.toString())
    // the registry says peer 0 runs wasi: it is peer 1's forwarding candidate
    assert.deepEqual(services[1].invoker.candidates('wasi'), [n0.libp2p.peerId.toString()])
  })
})
