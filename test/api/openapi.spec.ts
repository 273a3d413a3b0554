import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { parse } from 'yaml'
import { buildOpenApiDocument } from '../../src/api/index.js'
import { DOCUMENTED_ROUTES, OPENAPI_YAML_PATH, renderOpenApiYaml } from '../../src/api/openapi-write.js'
import { openapi30SubsetSchema } from './openapi3-subset.schema.js'
import { startHarness, testRoutes } from './fixtures.js'

type Doc = Record<string, unknown> & {
  paths: Record<string, Record<string, { operationId?: string, responses: Record<string, unknown>, parameters?: Array<{ in: string, name: string }> }>>
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

function compileValidator (): (doc: unknown) => string[] {
  const ajv = new Ajv({ strict: false, allErrors: true })
  addFormats.default(ajv)
  const validate = ajv.compile(openapi30SubsetSchema)
  return (doc) => validate(doc) ? [] : (validate.errors ?? []).map(e => `${e.instancePath} ${e.message ?? ''}`)
}

/** Every `$ref` in the document points at something that exists. */
function danglingRefs (doc: unknown): string[] {
  const bad: string[] = []
  const resolve = (ref: string): unknown => ref.slice(2).split('/').reduce<unknown>((node, key) =>
    node != null && typeof node === 'object' ? (node as Record<string, unknown>)[key.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined, doc)
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) { node.forEach((n, i) => { walk(n, `${path}/${i}`) }); return }
    if (node == null || typeof node !== 'object') return
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && (typeof v !== 'string' || !v.startsWith('#/') || resolve(v) == null)) bad.push(`${path}: ${String(v)}`)
      walk(v, `${path}/${k}`)
    }
  }
  walk(doc, '')
  return bad
}

/** Structural checks the schema cannot express. */
function semanticProblems (doc: Doc): string[] {
  const problems: string[] = []
  const ids = new Set<string>()
  for (const [path, item] of Object.entries(doc.paths)) {
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map(m => m[1])
    const ops = Object.entries(item).filter(([m]) => METHODS.includes(m))
    if (ops.length === 0) problems.push(`${path} has no operations`)
    for (const [method, op] of ops) {
      const where = `${method.toUpperCase()} ${path}`
      if (op.operationId == null) problems.push(`${where} has no operationId`)
      else if (ids.has(op.operationId)) problems.push(`${where} repeats operationId ${op.operationId}`)
      else ids.add(op.operationId)
      if (!Object.keys(op.responses).some(s => /^2/.test(s))) problems.push(`${where} has no 2xx response`)
      for (const s of ['4XX', '5XX']) {
        const r = op.responses[s] as { content?: Record<string, { schema?: { $ref?: string } }> } | undefined
        if (r?.content?.['application/json']?.schema?.$ref !== '#/components/schemas/ErrorEnvelope') {
          problems.push(`${where} ${s} is not the error envelope`)
        }
      }
      const pathParams = (op.parameters ?? []).filter(p => p.in === 'path').map(p => p.name)
      for (const name of templated) {
        if (!pathParams.includes(name)) problems.push(`${where} does not declare path parameter ${name}`)
      }
      for (const name of pathParams) {
        if (!templated.includes(name)) problems.push(`${where} declares path parameter ${name} not in the path`)
      }
    }
  }
  return problems
}

describe('api: OpenAPI document', () => {
  const validate = compileValidator()

  it('protocols/http/openapi.yaml is current: equal to the generated document and to /openapi.json', async () => {
    const yamlText = await readFile(OPENAPI_YAML_PATH, 'utf8')
    assert.equal(yamlText, await renderOpenApiYaml(), 'stale YAML: run npx tsx src/api/openapi-write.ts')
    const fromYaml = parse(yamlText) as unknown
    assert.deepEqual(fromYaml, await buildOpenApiDocument({ routes: DOCUMENTED_ROUTES }))

    const h = await startHarness({ routes: DOCUMENTED_ROUTES })
    try {
      const served = await (await fetch(h.url('/openapi.json'))).json() as unknown
      assert.deepEqual(served, fromYaml)
    } finally {
      await h.server.stop()
    }
  })

  it('is a valid OpenAPI 3.0 document (subset schema, refs, operations, path parameters)', async () => {
    const doc = parse(await readFile(OPENAPI_YAML_PATH, 'utf8')) as Doc
    assert.deepEqual(validate(doc), [])
    assert.deepEqual(danglingRefs(doc), [])
    assert.deepEqual(semanticProblems(doc), [])
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/v1/node', '/v1/peers']) {
      assert.ok(doc.paths[path]?.get != null, `GET ${path} documented`)
    }
    assert.ok(doc.paths['/readyz'].get.responses['503'] != null, '/readyz documents its 503')
  })

  it('includes capability routes with their tag, parameters, body and error responses', async () => {
    const doc = await buildOpenApiDocument({ routes: [testRoutes()] }) as Doc
    assert.deepEqual(validate(doc), [])
    assert.deepEqual(danglingRefs(doc), [])
    assert.deepEqual(semanticProblems(doc), [])
    const echo = doc.paths['/v1/test/echo'].post as unknown as { tags: string[], requestBody: { content: Record<string, unknown> }, parameters: Array<{ name: string }> }
    assert.deepEqual(echo.tags, ['test'])
    assert.ok(echo.requestBody.content['application/json'] != null)
    assert.deepEqual(echo.parameters.map(p => p.name), ['times'])
    assert.ok(doc.paths['/v1/test/items/{id}'].get.responses['404'] != null)
    const tags = (doc.tags as Array<{ name: string }>).map(t => t.name)
    assert.ok(tags.includes('test'))
  })

  it('the checks reject broken documents (so they can fail)', async () => {
    const good = await buildOpenApiDocument() as Doc
    const clone = (): Doc => structuredClone(good)

    const noResponses = clone()
    delete (noResponses.paths['/healthz'].get as Partial<Doc['paths'][string][string]>).responses
    assert.notDeepEqual(validate(noResponses), [])

    const badVersion = clone()
    badVersion.openapi = '2.0'
    assert.notDeepEqual(validate(badVersion), [])

    const noInfo = clone()
    delete noInfo.info
    assert.notDeepEqual(validate(noInfo), [])

    const typeArray = clone()
    ;((typeArray.components as { schemas: Record<string, { properties: Record<string, unknown> }> }).schemas.Peer.properties).rttMs = { type: ['number', 'null'] }
    assert.notDeepEqual(validate(typeArray), [])

    const jsonSchemaOnly = clone()
    ;(jsonSchemaOnly.components as { schemas: Record<string, Record<string, unknown>> }).schemas.Peer.$id = 'Peer'
    assert.notDeepEqual(validate(jsonSchemaOnly), [])

    const dangling = clone()
    ;(dangling.components as { schemas: Record<string, unknown> }).schemas.Peer = undefined
    assert.notDeepEqual(danglingRefs(JSON.parse(JSON.stringify(dangling))), [])

    const missingParam = await buildOpenApiDocument({ routes: [testRoutes()] }) as Doc
    missingParam.paths['/v1/test/items/{id}'].get.parameters = []
    assert.notDeepEqual(semanticProblems(missingParam), [])

    const noEnvelope = clone()
    delete noEnvelope.paths['/v1/node'].get.responses['5XX']
    assert.notDeepEqual(semanticProblems(noEnvelope), [])
  })
})
