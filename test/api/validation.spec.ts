import assert from 'node:assert/strict'
import { lazyBuildValidator } from '../../src/api/validation.js'

const shared = { $id: 'm13-point', type: 'object', required: ['x'], properties: { x: { type: 'number' } }, additionalProperties: false }

describe('api: lazily built route validators (issue 13)', () => {
  it('makes no Ajv until the first compile, then one pair for every context with the same shared schemas', () => {
    const factory = lazyBuildValidator()
    const contextA = factory({ 'm13-point': shared })
    const contextB = factory({ 'm13-point': shared })
    const body = contextA({ schema: { $ref: 'm13-point#' }, httpPart: 'body' })
    const query = contextB({ schema: { type: 'object', properties: { n: { type: 'integer' } } }, httpPart: 'querystring' })
    assert.equal(factory.builders(), 0, 'nothing compiled yet')
    assert.equal(body({ x: 1 }), true)
    assert.equal(body({ x: '1' }), false, 'bodies are strict: a string is not a number')
    assert.equal(body.errors?.[0]?.keyword, 'type')
    const q: Record<string, unknown> = { n: '7' }
    assert.equal(query(q), true, 'query strings are coerced')
    assert.equal(q.n, 7)
    assert.equal(factory.builders(), 1)
    // other shared schemas: another pair
    const other = factory({ 'm13-point': { ...shared } })({ schema: { $ref: 'm13-point#' }, httpPart: 'body' })
    assert.equal(other({ x: 2, y: 1 }), false)
    assert.equal(factory.builders(), 2)
  })

  it('compileAll compiles what is pending, and a bad schema throws there', () => {
    const factory = lazyBuildValidator()
    const ctx = factory({})
    ctx({ schema: { type: 'object' }, httpPart: 'body' })
    ctx({ schema: { type: 'no-such-type' }, httpPart: 'body' })
    assert.throws(() => { factory.compileAll() })
    assert.equal(factory.compileNext(), false, 'nothing left: the bad one is tried again only by a request')
  })
})
