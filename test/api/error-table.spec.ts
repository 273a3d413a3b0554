import assert from 'node:assert/strict'
import { DEFAULT_ERROR_STATUS, ErrorStatusTable, MethodNotAllowedError, NotReadyError, toErrorReply } from '../../src/api/errors.js'

class KeyNotFoundError extends Error {
  code = 'KEY_NOT_FOUND'
  constructor () { super('no such key'); this.name = 'KeyNotFoundError' }
}

describe('api: error -> status table', () => {
  it('maps known names, keeps a well-formed code, defaults the code by status', () => {
    const table = new ErrorStatusTable()
    table.register('KeyNotFoundError', 404)
    assert.deepEqual(toErrorReply(new KeyNotFoundError(), table), {
      status: 404, envelope: { error: { code: 'KEY_NOT_FOUND', message: 'no such key' } }, internal: false
    })
    const odd = Object.assign(new KeyNotFoundError(), { code: 'ENOENT lowercase?' })
    assert.equal(toErrorReply(odd, table).envelope.error.code, 'NOT_FOUND')
    assert.equal(toErrorReply(new NotReadyError(), table).status, 503)
    assert.equal(toErrorReply(new NotReadyError(), table).envelope.error.code, 'NOT_READY')
  })

  it('unknown errors and non-errors are 500 INTERNAL, flagged internal, with a generic message', () => {
    const table = new ErrorStatusTable()
    for (const thrown of [new Error('secret'), new TypeError('secret'), 'secret', null, undefined, 42, { name: 'Nope', message: 'secret' }]) {
      const reply = toErrorReply(thrown, table)
      assert.equal(reply.status, 500)
      assert.equal(reply.internal, true)
      assert.deepEqual(reply.envelope, { error: { code: 'INTERNAL', message: 'internal error' } })
    }
  })

  it('a 5xx statusCode on a non-fastify error is not trusted', () => {
    const err = Object.assign(new Error('x'), { statusCode: 418, code: 'TEAPOT' })
    assert.equal(toErrorReply(err, new ErrorStatusTable()).status, 500)
  })

  it('abort and timeout errors map to 503 and 504', () => {
    const table = new ErrorStatusTable()
    assert.equal(toErrorReply(new DOMException('gone', 'AbortError'), table).status, 503)
    assert.equal(toErrorReply(new DOMException('slow', 'TimeoutError'), table).status, 504)
  })

  it('405 carries the Allow header', () => {
    const reply = toErrorReply(new MethodNotAllowedError('PUT', '/x', ['GET', 'HEAD']), new ErrorStatusTable())
    assert.equal(reply.status, 405)
    assert.deepEqual(reply.headers, { allow: 'GET, HEAD' })
  })

  it('tables are independent and the defaults are frozen', () => {
    const a = new ErrorStatusTable()
    const b = new ErrorStatusTable()
    a.register('FooError', 409)
    assert.equal(a.statusOf('FooError'), 409)
    assert.equal(b.statusOf('FooError'), undefined)
    assert.throws(() => { (DEFAULT_ERROR_STATUS as Record<string, number>).FooError = 400 })
  })
})
