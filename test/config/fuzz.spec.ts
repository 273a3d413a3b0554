/**
 * Seeded fuzzing of the config trust boundary: random environment values,
 * flags and YAML files must yield a config or a one-line ConfigError, never
 * another exception. Replay a failure with FUZZ_SEED=<seed>.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import fc from 'fast-check'
import { ConfigError, INPUTS, loadConfig } from '../../src/config/index.js'
import { tempDir } from './helpers.js'

const seed = process.env.FUZZ_SEED != null ? Number(process.env.FUZZ_SEED) : 20261127

function expectConfigOrConfigError (err: unknown, input: unknown): void {
  assert.ok(err instanceof ConfigError, `unexpected ${String(err)} for ${JSON.stringify(input)}`)
  assert.ok(!/[\r\n]/.test(err.message), `multi-line message: ${JSON.stringify(err.message)}`)
}

describe(`config: fuzz (seed ${seed})`, () => {
  let dir: string

  before(async () => {
    dir = await tempDir()
  })

  after(async () => {
    await fs.rm(dir, { recursive: true, force: true })
  })

  const envNames = INPUTS.flatMap(s => s.env != null ? [s.env] : [])
  const text = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.constantFrom('127.0.0.1:8080', '[::1]:1', '/ip4/1.2.3.4/tcp/1', 'true', '0', '-1', '99999', 'eu-west', '', ' , ', 'a:b:c', '/p2p/x', '.nan')
  )

  it('random environments give a config or a ConfigError', async () => {
    await fc.assert(fc.asyncProperty(fc.dictionary(fc.constantFrom(...envNames), text, { maxKeys: 4 }), async (env) => {
      try {
        await loadConfig({ env, cwd: dir })
      } catch (err) {
        expectConfigOrConfigError(err, env)
      }
    }), { seed, numRuns: 200 })
  })

  it('random YAML-ish files give a config or a ConfigError', async () => {
    const key = fc.constantFrom('region', 'zone', 'listen', 'api', 'port', 'host', 'simulation', 'rtt', 'regions', 'rttMs', 'resources', 'cpu', 'bootstrap', 'x')
    const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null))
    const value = fc.letrec(tie => ({
      node: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(key, tie('node'), { maxKeys: 3 }))
    })).node
    const doc = fc.oneof(
      fc.dictionary(key, value, { maxKeys: 4 }).map(v => JSON.stringify(v)),
      fc.string({ maxLength: 60 })
    )
    const file = path.join(dir, 'fuzz.yaml')
    await fc.assert(fc.asyncProperty(doc, async (content) => {
      await fs.writeFile(file, content)
      try {
        await loadConfig({ file, env: {}, cwd: dir })
      } catch (err) {
        expectConfigOrConfigError(err, content)
      }
    }), { seed, numRuns: 200 })
  })
})
