import assert from 'node:assert/strict'
import { WorkerPool } from '../../src/wasm/pool.js'
import { waitFor } from '../helpers/wait.js'

const CRASH = new URL('./fixtures/crash-worker.ts', import.meta.url)
const BROKEN = new URL('./fixtures/broken-worker.ts', import.meta.url)

describe('wasm/pool', function () {
  this.timeout(30000)

  it('a worker that dies mid-job fails that job with WorkerCrashedError and is replaced', async () => {
    let idle = 0
    let replaced = 0
    const pool = new WorkerPool({ size: 1, workerUrl: CRASH, onIdle: () => { idle++ }, replay: () => [], onReplaced: () => { replaced++ } })
    await pool.start()
    try {
      const slot = pool.idleSlot()
      assert.ok(slot !== undefined)
      await assert.rejects(pool.run(slot, { type: 'invoke', id: 'x', input: new Uint8Array(0) }, 5000, 'invoke x'), { name: 'WorkerCrashedError', code: 'WORKER_CRASHED' })
      assert.equal(replaced, 1)
      await waitFor('the replacement worker', () => pool.counts().idle === 1, { timeoutMs: 10000, intervalMs: 5 })
      assert.ok(idle > 0)
      // the replacement serves control jobs again
      const [r] = await pool.broadcast({ type: 'unload', id: 'x' }, 5000, 'unload x')
      assert.equal(r.status, 'fulfilled')
    } finally {
      await pool.stop()
    }
  })

  it('a worker that cannot start fails start() and leaves nothing running', async () => {
    const pool = new WorkerPool({ size: 2, workerUrl: BROKEN, onIdle: () => {}, replay: () => [] })
    await assert.rejects(pool.start(), { code: 'WORKER_CRASHED' })
    assert.equal(pool.slots.length, 0)
  })
})
