/**
 * Registry lifecycle: a stopped registry does no more work. The republish
 * task must not outlive stop() — work that outlives stop keeps the process
 * alive (a test run or `dcis start` that never exits) and runs on a stopped
 * peer.
 */
import assert from 'node:assert/strict'
import { waitFor } from '../helpers/wait.js'
import { TestMesh } from './mesh.js'

describe('registry: lifecycle', function () {
  this.timeout(30_000)
  const mesh = new TestMesh()

  before(async function () {
    await mesh.init()
  })

  after(async function () {
    await mesh.close()
  })

  it('no periodic republish runs after stop()', async function () {
    // 1 s republish period (the smallest the config allows)
    const node = await mesh.add({ region: 'eu-west', republishIntervalMs: 1000 })
    const registry = node.registry
    const runs: number[] = []
    const original = registry.publishSelf.bind(registry)
    registry.publishSelf = async (force: boolean, announce?: boolean) => {
      if (announce === true) runs.push(Date.now())
      return original(force, announce)
    }
    await waitFor('three periodic republishes', () => runs.length >= 3, { timeoutMs: 15_000 })
    await mesh.remove(node)
    const atStop = runs.length
    try {
      // a republish period is at most 1.2 s: 4 s without a run means the task is gone
      await new Promise(resolve => setTimeout(resolve, 4_000))
      assert.equal(runs.length, atStop, `periodic republishes after stop(): ${runs.length - atStop}`)
    } finally {
      // if the task did outlive stop(), break its chain so this test run can still exit:
      // the leaked run re-arms itself through registry.republishTimer
      clearTimeout((registry as unknown as { republishTimer?: ReturnType<typeof setTimeout> }).republishTimer)
    }
  })
})
