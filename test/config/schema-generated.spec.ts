import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { buildSchema, renderGeneratedSchema } from '../../src/config/schema-source.js'
import { configLayerSchema, DcisConfigSchema } from '../../src/config/schema.js'

describe('config: the generated schema is the TypeBox source\'s', function () {
  it('schema.generated.ts is what `npm run gen:config-schema` writes now (regenerate after changing schema-source.ts)', async function () {
    const onDisk = await readFile(new URL('../../src/config/schema.generated.ts', import.meta.url), 'utf8')
    assert.equal(onDisk, renderGeneratedSchema(), 'src/config/schema.generated.ts is stale: run `npm run gen:config-schema`')
  })

  it('the exported schemas equal the TypeBox ones as JSON; each layer schema is a fresh copy', function () {
    assert.deepEqual(DcisConfigSchema, JSON.parse(JSON.stringify(buildSchema(true))))
    assert.deepEqual(configLayerSchema(), JSON.parse(JSON.stringify(buildSchema(false))))
    assert.notEqual(configLayerSchema(), configLayerSchema())
  })
})
