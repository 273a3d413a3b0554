import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { buildSchema, renderGeneratedSchema } from '../../src/config/schema-source.js'
import { configLayerSchema, DcisConfigSchema } from '../../src/config/schema.js'
import { GENERATED, renderConfigValidators, renderEndValidator } from '../../scripts/standalone-validators.js'

const STALE = 'is stale: run `npm run gen:schemas`'

describe('config: the generated schema is the TypeBox source\'s', function () {
  it('schema.generated.ts is what `npm run gen:schemas` writes now (regenerate after changing schema-source.ts)', async function () {
    const onDisk = await readFile(new URL('../../src/config/schema.generated.ts', import.meta.url), 'utf8')
    assert.equal(onDisk, renderGeneratedSchema(), `src/config/schema.generated.ts ${STALE}`)
  })

  it('the exported schemas equal the TypeBox ones as JSON; each layer schema is a fresh copy', function () {
    assert.deepEqual(DcisConfigSchema, JSON.parse(JSON.stringify(buildSchema(true))))
    assert.deepEqual(configLayerSchema(), JSON.parse(JSON.stringify(buildSchema(false))))
    assert.notEqual(configLayerSchema(), configLayerSchema())
  })

  it('the standalone validators are what Ajv compiles from the schemas now (config and END)', async function () {
    this.timeout(20_000)
    assert.equal(await readFile(GENERATED.config, 'utf8'), renderConfigValidators(), `src/config/validators.generated.ts ${STALE}`)
    assert.equal(await readFile(GENERATED.end, 'utf8'), renderEndValidator(), `src/registry/end-validator.generated.ts ${STALE}`)
  })
})
