/**
 * Grants belong to the function name, not to the module's bytes: two names
 * deployed with the same bytes (one CID, one loaded module) keep their own
 * data grants, whichever was loaded last, in a real MeshNode (store,
 * invoker, runtime, the node's host interface).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultConfig } from '../../src/config/index.js'
import { createMeshNode } from '../../src/node/index.js'
import type { MeshNode } from '../../src/node/index.js'
import type { FunctionService } from '../../src/wasm/functions/index.js'
import { buildExamples, example, silent } from './integration-mesh.js'

describe('wasm: grants per function name (same bytes, different names)', function () {
  this.timeout(120_000)
  let dir: string
  let node: MeshNode
  let fns: FunctionService

  before(async function () {
    await buildExamples()
    dir = await mkdtemp(join(tmpdir(), 'dcis-grants-'))
    const c = defaultConfig()
    node = createMeshNode({
      config: { ...c, dataDir: join(dir, 'peer-0'), region: 'eu-west', zone: 'eu-west-a', listen: ['/ip4/127.0.0.1/tcp/0'], api: { ...c.api, host: '127.0.0.1', port: 0, trustLoopback: true } },
      bootstrapPeers: [],
      logger: silent
    })
    await node.start()
    fns = node.functions as FunctionService
  })

  after(async function () {
    await node?.stop()
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  async function run (name: string): Promise<string> {
    const r = await fns.invoker.invoke(name, new TextEncoder().encode('counter_get fleet k\nsink_emit core r'))
    return new TextDecoder().decode(r.output)
  }

  it('each name is checked against its own grants, whichever name loaded the bytes last', async function () {
    const bytes = await example('host-probe')
    const a = await fns.store.deploy(bytes, { name: 'probe-granted', abi: 'reactor', grants: { services: { fleet: 'read' }, sinks: ['core'] } })
    const b = await fns.store.deploy(bytes, { name: 'probe-bare', abi: 'reactor' })
    assert.equal(a.id, b.id, 'one module, two names')
    const denied = /err -1 [^\n]*no (read )?grant/
    for (let round = 0; round < 2; round++) {
      const granted = await run('probe-granted')
      const bare = await run('probe-bare')
      assert.doesNotMatch(granted, denied, `round ${round}: ${granted}`)
      assert.match(bare, /^err -1 counter_get: the function has no read grant on service fleet/, `round ${round}`)
      assert.match(bare.split('\n')[1], /^err -1 sink_emit: the function has no grant on sink core/)
      // load the granted name last: the bare one must still be denied
      if (round === 0) await fns.store.deploy(bytes, { name: 'probe-granted', abi: 'reactor', grants: { services: { fleet: 'read' }, sinks: ['core'] } })
    }
    // invoked by CID alone (no name): nothing is granted
    assert.match(await run(a.id), /^err -1 /)
  })
})
