import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import {
  ConfigError,
  loadMeasuredRttMatrix,
  loadRttMatrix,
  parseMeasuredRttMatrix,
  parseRttMatrix
} from '../../src/config/index.js'
import { rejectsConfig, tempDir } from './helpers.js'

const SHARED_LATENCY = path.resolve('../shared/data/latency/seattle.json')

describe('config: RTT matrix', () => {
  let dir: string

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true })
  })

  async function writeJson (value: unknown): Promise<string> {
    const file = path.join(dir, `m-${Math.random().toString(36).slice(2)}.json`)
    await fs.writeFile(file, typeof value === 'string' ? value : JSON.stringify(value))
    return file
  }

  it('loads the native shape; asymmetric matrices are fine', async () => {
    const file = await writeJson({ regions: ['eu-west', 'us-east'], rttMs: [[1, 80], [85, 1]] })
    assert.deepEqual(await loadRttMatrix(file), { regions: ['eu-west', 'us-east'], rttMs: [[1, 80], [85, 1]] })
  })

  it('maps the measured shape {nodes, rtt} to regions', () => {
    const named = parseMeasuredRttMatrix({ name: 'x', unit: 'ms', nodes: ['a', 'b'], rtt: [[0, null], [4, 0]] }, { source: 'test' })
    assert.deepEqual(named, { regions: ['a', 'b'], rttMs: [[0, null], [4, 0]] })
    const counted = parseRttMatrix({ nodes: 2, rtt: [[0, 3], [4, 0]] }, { source: 'test' })
    assert.deepEqual(counted.regions, ['node-0', 'node-1'])
  })

  it('loads the shared Seattle data set (nodes as a count, nulls for unmeasured)', async function () {
    try {
      await fs.access(SHARED_LATENCY)
    } catch {
      console.log(`      (skipped: shared data ${SHARED_LATENCY} is absent)`)
      this.skip()
    }
    const m = await loadMeasuredRttMatrix(SHARED_LATENCY)
    assert.equal(m.regions.length, 99)
    assert.equal(m.rttMs.length, 99)
    assert.ok(m.rttMs.every(row => row.length === 99))
    assert.ok(m.rttMs.flat().some(v => v === null))
    // the same file is a valid simulation.rtt (null pairs get no delay in the emulator)
    const e = await loadRttMatrix(SHARED_LATENCY)
    assert.deepEqual(e, m)
  })

  const bad: Array<[string, unknown, string, RegExp]> = [
    ['non-square (short row)', { regions: ['a', 'b'], rttMs: [[0, 1], [1]] }, 'simulation.rtt.rttMs[1]', /must have 2 entries/],
    ['non-square (extra row)', { regions: ['a'], rttMs: [[0], [1]] }, 'simulation.rtt.rttMs', /must have 1 rows/],
    ['negative', { regions: ['a', 'b'], rttMs: [[0, -1], [1, 0]] }, 'simulation.rtt.rttMs[0][1]', /got -1/],
    ['NaN', { regions: ['a', 'b'], rttMs: [[0, NaN], [1, 0]] }, 'simulation.rtt.rttMs[0][1]', /got NaN/],
    ['string entry', { regions: ['a', 'b'], rttMs: [[0, '5'], [1, 0]] }, 'simulation.rtt.rttMs[0][1]', /got "5"/],
    ['duplicate names', { regions: ['a', 'a'], rttMs: [[0, 1], [1, 0]] }, 'simulation.rtt.regions[1]', /duplicate/],
    ['empty name', { regions: [''], rttMs: [[0]] }, 'simulation.rtt.regions[0]', /non-empty/],
    ['no names', { regions: [], rttMs: [] }, 'simulation.rtt.regions', /1\.\.4096/],
    ['row not a list', { regions: ['a'], rttMs: [5] }, 'simulation.rtt.rttMs[0]', /list/],
    ['not an object', [[0]], 'simulation.rtt', /mapping/],
    ['wrong unit', { unit: 's', regions: ['a'], rttMs: [[0]] }, 'simulation.rtt.unit', /"ms"/],
    ['unknown key', { regions: ['a'], rttMs: [[0]], rtts: [] }, 'simulation.rtt.rtts', /unknown key/],
    ['seconds given as ms', { regions: ['a', 'b'], rttMs: [[0, 90000], [1, 0]] }, 'simulation.rtt.rttMs[0][1]', /<= 60000/],
    ['bad count', { nodes: 0, rtt: [] }, 'simulation.rtt.nodes', /count/]
  ]
  for (const [label, value, field, reason] of bad) {
    it(`refuses ${label}, naming ${field}`, async () => {
      const source = 'test'
      assert.throws(() => parseRttMatrix(value, { field: ['simulation', 'rtt'], source }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err))
        assert.equal(err.field, field)
        assert.match(err.reason, reason)
        assert.ok(!err.message.includes('\n'))
        return true
      })
    })
  }

  it('refuses NaN and malformed JSON in a file, naming the file', async () => {
    const nan = await writeJson('{"regions": ["a"], "rttMs": [[NaN]]}')
    await rejectsConfig(loadRttMatrix(nan), { field: 'simulation.rtt', source: `file ${nan}`, code: 'CONFIG_FILE_MALFORMED', reason: /not valid JSON/ })
    await rejectsConfig(loadRttMatrix(path.join(dir, 'absent.json')), { field: 'simulation.rtt', code: 'CONFIG_FILE_UNREADABLE' })
    await rejectsConfig(loadRttMatrix(dir), { field: 'simulation.rtt', code: 'CONFIG_FILE_UNREADABLE' })
  })

  it('null entries (unknown) are accepted', () => {
    assert.deepEqual(parseRttMatrix({ regions: ['a', 'b'], rttMs: [[0, null], [7, null]] }, { source: 't' }).rttMs, [[0, null], [7, null]])
  })

  it('measured matrices have no 60 s cap but still refuse negative and non-square input', () => {
    assert.equal(parseMeasuredRttMatrix({ nodes: ['a', 'b'], rtt: [[0, 90000], [1, 0]] }, { source: 't' }).rttMs[0][1], 90000)
    assert.throws(() => parseMeasuredRttMatrix({ nodes: ['a', 'b'], rtt: [[0, -3], [1, 0]] }, { field: ['m'], source: 't' }), /m\.rtt\[0\]\[1\]/)
    assert.throws(() => parseMeasuredRttMatrix({ nodes: ['a', 'b'], rtt: [[0, 1]] }, { field: ['m'], source: 't' }), /must have 2 rows/)
  })
})
