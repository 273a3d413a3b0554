import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { defaultConfig } from '../../src/config/defaults.js'
import { ConfigError } from '../../src/config/errors.js'
import { configCheckers } from '../../src/config/validate.js'
import { GENERATED, renderConfigValidators, renderEndValidator } from '../../scripts/standalone-validators.js'

const STALE = 'is stale: run `npm run gen:schemas`'
const source = (): string => 'test'

describe('config and END: the generated validators are the schemas\' own', function () {
  it('the standalone validators are what Ajv compiles from the schemas now (config from the TypeBox source, END)', async function () {
    this.timeout(20_000)
    assert.equal(await readFile(GENERATED.config, 'utf8'), renderConfigValidators(), `src/config/validators.generated.ts ${STALE}`)
    assert.equal(await readFile(GENERATED.end, 'utf8'), renderEndValidator(), `src/registry/end-validator.generated.ts ${STALE}`)
  })

  it('`full` wants the whole config, `layer` takes any part of it and refuses unknown keys', function () {
    assert.doesNotThrow(() => { configCheckers.full.check(defaultConfig(), source) })
    assert.throws(() => { configCheckers.full.check({}, source) }, (err: unknown) => err instanceof ConfigError && /is required/.test(err.message))
    assert.doesNotThrow(() => { configCheckers.layer.check({}, source) })
    assert.doesNotThrow(() => { configCheckers.layer.check({ api: { port: 8080 } }, source) })
    assert.throws(() => { configCheckers.layer.check({ api: { prot: 8080 } }, source) }, (err: unknown) => err instanceof ConfigError && /did you mean "port"/.test(err.message))
  })
})
