import assert from 'node:assert/strict'
import { RouteIndex, compilePattern } from '../../src/api/route-index.js'

describe('api: route index (405 detection)', () => {
  it('compiles fastify patterns', () => {
    assert.ok(compilePattern('/v1/services/:name/kv/:key').test('/v1/services/a/kv/b'))
    assert.ok(!compilePattern('/v1/services/:name/kv/:key').test('/v1/services/a/kv/b/c'))
    assert.ok(!compilePattern('/v1/services/:name/kv/:key').test('/v1/services/a/kv/'))
    assert.ok(compilePattern('/v1/x/:id(^\\d+)').test('/v1/x/12'))
    assert.ok(compilePattern('/files/*').test('/files/a/b/c'))
    assert.ok(compilePattern('/a.b').test('/a.b'))
    assert.ok(!compilePattern('/a.b').test('/aXb'))
    assert.ok(compilePattern('/time::now').test('/time:now'))
  })

  it('lists the methods of every matching pattern', () => {
    const index = new RouteIndex()
    index.add('GET', '/v1/services/:name/kv/:key')
    index.add(['PUT', 'DELETE'], '/v1/services/:name/kv/:key')
    index.add('GET', '/v1/services/:name')
    assert.deepEqual(index.allowedMethods('/v1/services/s/kv/k'), ['DELETE', 'GET', 'PUT'])
    assert.deepEqual(index.allowedMethods('/v1/services/s'), ['GET'])
    assert.deepEqual(index.allowedMethods('/v1/nope'), [])
  })
})
