import assert from 'node:assert/strict'
import { createWasmRuntime } from '../../src/wasm/index.js'
import { cidOf, dec, enc, fixture } from './helpers.js'

describe('wasm/runtime: worker threads start with the first function', function () {
  this.timeout(30_000)

  it('start() spawns no worker; the first load does; stop and start again are lazy again', async () => {
    const rt = createWasmRuntime({ workers: 2 })
    try {
      await rt.start()
      const idle = rt.stats().workers
      assert.equal(idle.idle + idle.busy + idle.starting, 0)
      const bytes = await fixture('echo')
      const echo = { id: await cidOf(bytes), name: 'echo', abi: 'wasi' as const, bytes }
      await rt.load(echo)
      const r = await rt.invoke(echo.id, enc.encode('hello'))
      assert.equal(dec.decode(r.output), 'hello')
      const busy = rt.stats().workers
      assert.ok(busy.idle + busy.busy + busy.starting >= 1, JSON.stringify(busy))
      await rt.stop()
      await rt.start()
      const again = rt.stats().workers
      assert.equal(again.idle + again.busy + again.starting, 0)
    } finally {
      await rt.stop()
    }
  })

  it('lazyWorkers: false starts them with the runtime', async () => {
    const rt = createWasmRuntime({ workers: 1, lazyWorkers: false })
    try {
      await rt.start()
      const w = rt.stats().workers
      assert.equal(w.idle + w.busy + w.starting, 1)
    } finally {
      await rt.stop()
    }
  })
})
