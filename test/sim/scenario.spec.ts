/**
 * The scenario format: every shipped scenario validates; a bad scenario
 * gets one ScenarioError naming the field.
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { ScenarioError, loadScenario, parseScenario } from '../../src/sim/index.js'
import { timeline } from '../../src/sim/faults.js'
import { REPO_ROOT, runCli } from '../helpers/cli.js'

const FILE = join(REPO_ROOT, 'simulations', 'test.yaml')
const BASE = `
name: t
seed: 1
duration: 30
sites:
  - { name: eu, region: eu-west, peers: 2 }
  - { name: us, region: us-east, peers: 1 }
`

function fails (yaml: string, field: string, why: RegExp): void {
  assert.throws(() => parseScenario(yaml, FILE), (err: unknown) => {
    assert.ok(err instanceof ScenarioError, String(err))
    assert.equal(err.code, 'SCENARIO_INVALID')
    assert.equal(err.field, field, err.message)
    assert.match(err.message, why)
    return true
  })
}

describe('sim scenario format', () => {
  it('every scenario in simulations/ validates', () => {
    const files = readdirSync(join(REPO_ROOT, 'simulations')).filter(f => f.endsWith('.yaml') && !f.startsWith('docker-compose'))
    assert.ok(files.length >= 7, `scenarios: ${files.join(', ')}`)
    for (const f of files) {
      const s = loadScenario(join(REPO_ROOT, 'simulations', f))
      assert.ok(s.peers.length >= 1, f)
    }
  })

  it('expands sites into named peers with regions and zones', () => {
    const s = parseScenario(BASE, FILE)
    assert.deepEqual(s.peers.map(p => [p.name, p.region, p.zone]), [['eu-0', 'eu-west', 'eu-west-a'], ['eu-1', 'eu-west', 'eu-west-a'], ['us-0', 'us-east', 'us-east-a']])
  })

  it('names the field of a bad scenario', () => {
    fails('name: [', '', /not valid YAML/)
    fails('seed: 1\nduration: 3\nsites: []', 'name', /is required/)
    fails(BASE + 'colour: red\n', 'colour', /unknown field/)
    fails(BASE.replace('seed: 1', 'seed: -1'), 'seed', />= 0/)
    fails(BASE.replace('peers: 1', 'peers: 0'), 'sites[1].peers', />= 1/)
    fails(BASE.replace('region: us-east', 'region: US East'), 'sites[1].region', /must match/)
    fails(BASE + 'faults:\n  - { at: 5, action: explode }\n', 'faults[0].action', /must be one of/)
    fails(BASE + 'faults:\n  - { at: 5, action: partition }\n', 'faults[0].groups', /is required/)
    fails(BASE + 'faults:\n  - { at: 5, action: kill, peers: [mars] }\n', 'faults[0].peers[0]', /no site or peer named "mars"/)
    fails(BASE + 'faults:\n  - { at: 50, action: heal }\n', 'faults[0].at', /after the end/)
    fails(BASE + 'faults:\n  - { at: 5, action: partition, groups: [[eu], [eu-0, us]] }\n', 'faults[0].groups[1]', /in two groups/)
    fails(BASE + 'faults:\n  - { at: 5, action: latency, from: [eu], to: [us] }\n', 'faults[0].delayMs', /is required/)
    fails(BASE + 'rtt: { matrix: nope.json }\n', 'rtt.matrix', /cannot read JSON/)
    fails(BASE + 'rtt: { matrix: { regions: [eu-west], rttMs: [[0]] } }\n', 'rtt.matrix.regions', /no region "us-east"/)
    fails(BASE + 'rtt: {}\n', 'rtt', /exactly one of matrix, perPeer/)
    fails(BASE + 'workload: { strong: { ratePerS: 0 } }\n', 'workload.strong.ratePerS', /> 0/)
    fails(BASE + 'workload: { functions: { wasm: missing.wasm, ratePerS: 1 } }\n', 'workload.functions.wasm', /cannot read/)
    fails(BASE.replace('name: us', 'name: eu'), 'sites[1].name', /duplicate site/)
  })

  it('a per-peer matrix (NetLatency format) gives every peer its own region', () => {
    const s = parseScenario(BASE + 'rtt: { perPeer: rtt/seattle-12.json }\n', FILE)
    assert.deepEqual(s.peers.map(p => p.region), ['eu-0', 'eu-1', 'us-0'])
    assert.equal(s.perPeerRtt?.length, 3)
    assert.equal(s.perPeerRtt?.[0][0], 0)
  })

  it('churn expands into seeded kill/restart pairs, the same for the same seed', () => {
    const y = BASE + 'faults:\n  - { at: 2, action: churn, for: 20, ratePerMin: 12, down: 3 }\n'
    const a = timeline(parseScenario(y, FILE))
    const b = timeline(parseScenario(y, FILE))
    assert.deepEqual(a.map(e => [e.at, e.action, e.peers?.map(p => p.name)]), b.map(e => [e.at, e.action, e.peers?.map(p => p.name)]))
    const kills = a.filter(e => e.action === 'kill')
    assert.ok(kills.length >= 1, 'at least one churn kill in 20 s at 12/min')
    assert.equal(a.filter(e => e.action === 'restart').length, kills.length)
    assert.ok(kills.every(k => k.peers?.[0].name !== 'eu-0'), 'churn spares the first peer by default')
  })

  it('dcis sim validate lists the peers; `dcis sim FILE` is `dcis sim run FILE` (same errors)', async function () {
    this.timeout(240_000)
    const v = await runCli(['sim', 'validate', 'simulations/nat-sites.yaml'], { timeoutMs: 100_000 })
    assert.equal(v.code, 0, v.stderr)
    assert.match(v.stdout, /nat-sites: valid; 6 peers/)
    assert.match(v.stdout, /home-1\s+home\s+eu-west\s+eu-west-b\s+yes/)
    const bad = await runCli(['sim', 'simulations/nope.yaml'], { timeoutMs: 100_000 })
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /^dcis: simulations\/nope\.yaml: scenario: cannot read: ENOENT\n$/)
  })
})
