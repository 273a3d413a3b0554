/**
 * The invoker's room check and a burst: two calls arrive together at a peer
 * with one free slot for the function. The first takes the slot; the second
 * must go to another peer, even while the first is still loading its module
 * (it used to see the same free slot, stay, and be refused as overloaded).
 */
import assert from 'node:assert/strict'
import { createFunctionInvoker } from '../../src/wasm/routing/index.js'
import type { InvokerComponents } from '../../src/wasm/routing/index.js'
import type { Capacity } from '../../src/wasm/index.js'
import { waitFor } from '../helpers/wait.js'

const SELF = '12D3KooWGETwtueHDrsGejSpDG1anNoTHQhQWWMJjo5qULqcgqGc'
const OTHER = '12D3KooWMBsk3SVaqtHE3Am3FxgS22gZA6LGLsD4jhbCYF4XURE2'

function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>(r => { resolve = r })
  return { promise, resolve }
}

describe('wasm routing: a burst does not pile onto one free slot', function () {
  it('the second of two concurrent calls is forwarded while the first still loads; a single call stays local', async function () {
    let inflight = 0
    const loading = deferred()
    let hold: Promise<void> = Promise.resolve()
    const dials: string[] = []
    const capacity = (): Capacity => ({
      state: inflight < 1 ? 'now' : 'full',
      idleWorkers: inflight < 1 ? 1 : 0,
      queued: 0,
      maxQueue: 0,
      function: { inflight, queued: 0, maxConcurrency: 1, maxQueue: 0 }
    })
    const components = {
      libp2p: {
        peerId: { toString: () => SELF },
        handle: async () => {},
        unhandle: async () => {},
        getPeers: () => [],
        dialProtocol: async (peer: unknown) => {
          dials.push(String(peer))
          throw new Error('unreachable in this test')
        }
      },
      runtime: {
        has: () => true,
        capacity,
        invoke: async () => {
          if (inflight >= 1) throw Object.assign(new Error('no room'), { name: 'OverloadedError' })
          inflight++
          await hold
          inflight--
          return { output: new Uint8Array([1]), durationMs: 1, coldStart: false }
        }
      },
      store: {
        resolve: () => ({ name: 'f', version: { id: 'f1', abi: 'reactor' } }),
        ensureLoaded: async () => { await loading.promise; return false }
      },
      candidates: () => [{ peerId: OTHER, runtimes: ['reactor'] }]
    } as unknown as InvokerComponents
    const invoker = createFunctionInvoker(components)

    const finish = deferred()
    hold = finish.promise
    const first = invoker.invoke('f', new Uint8Array([0]))
    const second = invoker.invoke('f', new Uint8Array([0]))
    // the second call tried the other peer while the first was still loading (the old check let it stay)
    await waitFor('the second call to try the other peer', () => dials.length > 0, { timeoutMs: 5_000 })
    assert.deepEqual(dials, [OTHER])
    loading.resolve()
    // the other peer was unreachable: the second fell back to this peer, whose one slot the first holds
    await assert.rejects(second, { name: 'OverloadedError' })
    finish.resolve()
    assert.equal((await first).ranOn, SELF)
    hold = Promise.resolve()

    // alone, a call runs here without trying anyone
    const alone = await invoker.invoke('f', new Uint8Array([0]))
    assert.equal(alone.ranOn, SELF)
    assert.equal(dials.length, 1)
  })
})
