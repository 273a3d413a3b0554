import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { Registry } from 'prom-client'
import { createApiServer } from '../../src/api/index.js'
import { FakeNode, memoryLogger, startHarness } from './fixtures.js'
import { waitFor } from '../helpers/wait.js'
import type { ApiComponents, ApiRoutes } from '../../src/api/index.js'

/** Resolves true if something accepts TCP connections on 127.0.0.1:port. */
async function portOpen (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { socket.destroy(); resolve(false) })
  })
}

const components = (): ApiComponents =>
  ({ node: new FakeNode(), metrics: new Registry(), logger: memoryLogger().logger })

describe('api: server lifecycle', () => {
  it('port 0 picks a free port, reported by .port and .url', async () => {
    const h = await startHarness()
    try {
      assert.ok(h.server.port > 0)
      assert.equal(h.server.url, `http://127.0.0.1:${h.server.port}`)
      assert.equal(h.server.status, 'started')
      assert.equal((await fetch(`${h.server.url}/healthz`)).status, 200)
    } finally {
      await h.server.stop()
    }
  })

  it('stop() closes the port, also with a kept-alive connection open', async () => {
    const h = await startHarness()
    try {
      const port = h.server.port
      // leave a keep-alive connection in the pool
      assert.equal((await fetch(h.url('/healthz'), { keepalive: true })).status, 200)
      assert.equal(await portOpen(port), true)
      await h.server.stop()
      assert.equal(h.server.status, 'stopped')
      assert.equal(await portOpen(port), false)
    } finally {
      await h.server.stop()
    }
  })

  it('start and stop are idempotent, and a stopped server starts again', async () => {
    const server = createApiServer(components(), { port: 0 })
    try {
      await server.stop()
      await server.start()
      await server.start()
      const first = server.port
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200)
      await server.stop()
      await server.stop()
      assert.equal(await portOpen(first), false)
      await server.start()
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200)
    } finally {
      await server.stop()
    }
  })

  it('concurrent start()/stop() calls run in order', async () => {
    const server = createApiServer(components(), { port: 0 })
    try {
      const [a, b] = [server.start(), server.start()]
      await Promise.all([a, b])
      const port = server.port
      assert.equal(await portOpen(port), true)
      const starting = server.start()
      const stopping = server.stop()
      await Promise.all([starting, stopping])
      assert.equal(server.status, 'stopped')
      assert.equal(await portOpen(port), false)
      // a stop() issued while start() is still running stops the server it started
      const again = server.start()
      const stop2 = server.stop()
      await Promise.all([again, stop2])
      assert.equal(server.status, 'stopped')
    } finally {
      await server.stop()
    }
  })

  it('listens on 127.0.0.1 by default', async () => {
    const server = createApiServer(components(), { port: 0 })
    await server.start()
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    } finally {
      await server.stop()
    }
  })

  it('a taken port fails start() and leaves the server stopped', async () => {
    const h = await startHarness()
    try {
      const other = createApiServer(components(), { port: h.server.port })
      await assert.rejects(other.start(), { code: 'EADDRINUSE' })
      assert.equal(other.status, 'stopped')
    } finally {
      await h.server.stop()
    }
  })

  it('stop() aborts the signal of in-flight handlers', async () => {
    const h = await startHarness()
    h.node.hangPeers = true
    const pending = fetch(h.url('/v1/peers')).then(async r => ({ status: r.status, body: await r.text() }), (err: Error) => err)
    try {
      await waitFor('the handler to start', () => h.node.lastPeersSignal != null, { timeoutMs: 5000, intervalMs: 10 })
      await h.server.stop()
      assert.equal(h.node.lastPeersSignal?.aborted, true)
      const result = await pending
      if (!(result instanceof Error)) {
        assert.equal(result.status, 503)
      }
    } finally {
      await h.server.stop()
    }
  })

  it('stop() does not wait for a client that never finishes its request', async function () {
    this.timeout(30_000)
    const h = await startHarness()
    // half a body, then silence: without a bound, close() waits for the 60 s request timeout
    const socket = connect(h.server.port, '127.0.0.1')
    socket.on('error', () => {})
    try {
      await new Promise<void>(resolve => socket.once('connect', () => { resolve() }))
      socket.write('POST /v1/test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"message":')
      await new Promise(resolve => setTimeout(resolve, 200))
      const started = Date.now()
      const stopped = h.server.stop().then(() => 'stopped')
      const late = new Promise(resolve => { const t = setTimeout(resolve, 15_000, 'still stopping after 15 s'); t.unref() })
      assert.equal(await Promise.race([stopped, late]), 'stopped')
      assert.ok(Date.now() - started < 15_000)
    } finally {
      socket.destroy()
      await h.server.stop()
    }
  })

  it('rejects a bad port, host or limit with a message naming the field', () => {
    assert.throws(() => createApiServer(components(), { port: 70000 }), /api port/)
    assert.throws(() => createApiServer(components(), { port: -1 }), /api port/)
    assert.throws(() => createApiServer(components(), { port: 1.5 }), /api port/)
    assert.throws(() => createApiServer(components(), { host: '' }), /api host/)
    assert.throws(() => createApiServer(components(), { bodyLimit: 0 }), /api bodyLimit/)
    assert.throws(() => createApiServer(components(), { errorStatus: { Foo: 200 } }), { name: 'InvalidErrorStatusError' })
  })

  it('a capability route without a response schema fails start()', async () => {
    const bad: ApiRoutes = {
      name: 'bad',
      register (app) {
        app.get('/v1/bad', async () => ({ ok: true }))
      }
    }
    const server = createApiServer(components(), { port: 0, routes: [bad] })
    await assert.rejects(server.start(), { name: 'RouteSchemaMissingError' })
    assert.equal(server.status, 'stopped')
  })

  it('a POST route without a body schema or bodyLimit fails start()', async () => {
    const bad: ApiRoutes = {
      name: 'bad',
      register (app) {
        app.post('/v1/bad', { schema: { response: { 200: { description: 'x', type: 'object' } } } }, async () => ({}))
      }
    }
    const server = createApiServer(components(), { port: 0, routes: [bad] })
    await assert.rejects(server.start(), { name: 'RouteSchemaMissingError', message: /body/ })
  })

  it('two route plugins with one name fail start()', async () => {
    const r: ApiRoutes = { name: 'health', register () {} }
    const server = createApiServer(components(), { port: 0, routes: [r] })
    await assert.rejects(server.start(), { name: 'DuplicateRoutesError' })
  })
})
