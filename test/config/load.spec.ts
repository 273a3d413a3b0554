import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { defaultConfig, loadConfig } from '../../src/config/index.js'
import type { ConfigFlags } from '../../src/config/index.js'
import { rejectsConfig, tempDir } from './helpers.js'

describe('config: loadConfig', () => {
  let dir: string
  let peer: string

  before(async () => {
    peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  })

  beforeEach(async () => {
    dir = await tempDir()
  })

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true })
  })

  async function writeYaml (name: string, text: string): Promise<string> {
    const file = path.join(dir, name)
    await fs.writeFile(file, text)
    return file
  }

  it('one latency interval alone keeps the other at its default', async () => {
    const config = await loadConfig({ env: { DCIS_LATENCY_PROBE_MS: '1000' }, cwd: dir })
    assert.deepEqual(config.latency, { probeIntervalMs: 1000, gossipIntervalMs: 10000 })
  })

  it('defaults', async () => {
    const config = await loadConfig({ env: {}, cwd: dir })
    assert.deepEqual(config, { ...defaultConfig(), dataDir: path.join(dir, '.dcis') })
    assert.equal(config.dataDir, path.join(dir, '.dcis'))
    assert.equal(config.region, 'local')
    assert.equal(config.zone, 'local-a')
    assert.deepEqual(config.listen, ['/ip4/0.0.0.0/tcp/4001'])
    assert.deepEqual(config.api, { host: '127.0.0.1', port: 8080, trustLoopback: false, openInfo: true, policy: [] })
    assert.equal(config.logLevel, 'info')
    assert.deepEqual(config.dht, { clientMode: false, passthroughMapper: true })
    assert.equal(config.gossip.endRepublishIntervalMs, 300000)
    assert.equal(config.simulation.rtt, undefined)
    // defaultConfig() hands out a fresh object every time
    const a = defaultConfig()
    a.listen.push('/ip4/1.2.3.4/tcp/1')
    assert.deepEqual(defaultConfig().listen, ['/ip4/0.0.0.0/tcp/4001'])
  })

  it('precedence: file < env < flags, each supplying the same fields', async () => {
    const file = await writeYaml('dcis.yaml', [
      'region: eu-west',
      'logLevel: debug',
      'api:',
      '  host: 0.0.0.0',
      '  port: 9000',
      '  trustLoopback: false',
      'listen: [/ip4/0.0.0.0/tcp/5001]',
      'federation: fed-file'
    ].join('\n'))
    const env = {
      DCIS_REGION: 'us-east',
      DCIS_API: '127.0.0.2:9100',
      DCIS_LISTEN: '/ip4/127.0.0.1/tcp/6001,/ip4/127.0.0.1/tcp/6002',
      DCIS_TRUST_LOOPBACK: '1'
    }
    const flags: ConfigFlags = { region: 'ap-south', api: '127.0.0.3:9200' }

    const fileOnly = await loadConfig({ file, env: {}, cwd: dir })
    assert.equal(fileOnly.region, 'eu-west')
    assert.equal(fileOnly.zone, 'eu-west-a')
    assert.deepEqual(fileOnly.api, { host: '0.0.0.0', port: 9000, trustLoopback: false, openInfo: true, policy: [] })
    assert.deepEqual(fileOnly.listen, ['/ip4/0.0.0.0/tcp/5001'])
    assert.equal(fileOnly.logLevel, 'debug')

    const withEnv = await loadConfig({ file, env, cwd: dir })
    assert.equal(withEnv.region, 'us-east')
    assert.deepEqual(withEnv.api, { host: '127.0.0.2', port: 9100, trustLoopback: true, openInfo: true, policy: [] })
    assert.deepEqual(withEnv.listen, ['/ip4/127.0.0.1/tcp/6001', '/ip4/127.0.0.1/tcp/6002'])
    assert.equal(withEnv.logLevel, 'debug') // only the file set it
    assert.equal(withEnv.federation, 'fed-file')

    const all = await loadConfig({ file, env, flags, cwd: dir })
    assert.equal(all.region, 'ap-south')
    assert.equal(all.zone, 'ap-south-a')
    assert.deepEqual(all.api, { host: '127.0.0.3', port: 9200, trustLoopback: true, openInfo: true, policy: [] }) // trustLoopback from env
    assert.deepEqual(all.listen, withEnv.listen)

    const flagsWin = await loadConfig({ file, env, flags: { ...flags, trustLoopback: false, logLevel: 'warn' }, cwd: dir })
    assert.equal(flagsWin.api.trustLoopback, false)
    assert.equal(flagsWin.logLevel, 'warn')
  })

  it('finds the file via option, flag --config or DCIS_CONFIG', async () => {
    const a = await writeYaml('a.yaml', 'region: from-a\n')
    const b = await writeYaml('b.yaml', 'region: from-b\n')
    const c = await writeYaml('c.yaml', 'region: from-c\n')
    assert.equal((await loadConfig({ env: { DCIS_CONFIG: c }, cwd: dir })).region, 'from-c')
    assert.equal((await loadConfig({ env: { DCIS_CONFIG: c }, flags: { config: 'b.yaml' }, cwd: dir })).region, 'from-b')
    assert.equal((await loadConfig({ file: a, env: { DCIS_CONFIG: c }, flags: { config: b }, cwd: dir })).region, 'from-a')
  })

  it('an explicit zone wins over the derived one; an empty file is allowed', async () => {
    const file = await writeYaml('z.yaml', 'region: eu\nzone: eu-c\n')
    assert.equal((await loadConfig({ file, env: {}, cwd: dir })).zone, 'eu-c')
    assert.equal((await loadConfig({ file, env: { DCIS_REGION: 'us' }, cwd: dir })).zone, 'eu-c')
    const empty = await writeYaml('empty.yaml', '# nothing here\n')
    assert.equal((await loadConfig({ file: empty, env: {}, cwd: dir })).region, 'local')
  })

  it('relative paths: in the file against its directory, in env/flags against cwd', async () => {
    await fs.mkdir(path.join(dir, 'etc'))
    const file = path.join(dir, 'etc', 'dcis.yaml')
    await fs.writeFile(file, 'dataDir: state\nbootstrap: [peers.json]\n')
    const fromFile = await loadConfig({ file, env: {}, cwd: '/' })
    assert.equal(fromFile.dataDir, path.join(dir, 'etc', 'state'))
    assert.deepEqual(fromFile.bootstrap, [path.join(dir, 'etc', 'peers.json')])
    const fromFlags = await loadConfig({ file, env: {}, flags: { dataDir: 'other', bootstrap: ['x.json', `/ip4/127.0.0.1/tcp/1/p2p/${peer}`] }, cwd: dir })
    assert.equal(fromFlags.dataDir, path.join(dir, 'other'))
    assert.deepEqual(fromFlags.bootstrap, [path.join(dir, 'x.json'), `/ip4/127.0.0.1/tcp/1/p2p/${peer}`])
  })

  it('accepts a full file with every section', async () => {
    const file = await writeYaml('full.yaml', `
dataDir: /var/lib/dcis
region: eu-west
zone: eu-west-b
listen: [/ip4/0.0.0.0/tcp/4001, /ip6/::/tcp/4001]
announce: [/dns4/edge-1.example.net/tcp/4001]
api: { host: localhost, port: 0, trustLoopback: true, openInfo: true, policy: [] }
bootstrap: [/ip4/10.0.0.1/tcp/4001/p2p/${peer}]
federation: acme
logLevel: trace
dht: { clientMode: true, passthroughMapper: false }
gossip: { endRepublishIntervalMs: 120000 }
simulation:
  rtt: { regions: [eu-west, us-east], rttMs: [[1, 80], [82, 2]] }
resources: { cpu: 2.5, memoryMb: 2048, arch: x86_64, accelerators: [nvidia-t4], tee: false }
`)
    const c = await loadConfig({ file, env: {}, cwd: dir })
    assert.equal(c.api.host, 'localhost')
    assert.equal(c.api.port, 0)
    assert.deepEqual(c.simulation.rtt, { regions: ['eu-west', 'us-east'], rttMs: [[1, 80], [82, 2]] })
    assert.deepEqual(c.resources, { cpu: 2.5, memoryMb: 2048, arch: 'x86_64', accelerators: ['nvidia-t4'], tee: false })
    assert.deepEqual(c.dht, { clientMode: true, passthroughMapper: false })
  })

  it('simulation.rtt as a path is resolved against the config file; DCIS_RTT_MATRIX and --rtt-matrix too', async () => {
    await fs.mkdir(path.join(dir, 'sim'))
    await fs.writeFile(path.join(dir, 'sim', 'rtt.json'), JSON.stringify({ regions: ['a', 'b'], rttMs: [[0, 10], [10, 0]] }))
    await fs.writeFile(path.join(dir, 'rtt2.json'), JSON.stringify({ regions: ['x'], rttMs: [[3]] }))
    const file = path.join(dir, 'sim', 'dcis.yaml')
    await fs.writeFile(file, 'simulation:\n  rtt: rtt.json\n')
    const c = await loadConfig({ file, env: {}, cwd: '/' })
    assert.deepEqual(c.simulation.rtt, { regions: ['a', 'b'], rttMs: [[0, 10], [10, 0]] })
    const e = await loadConfig({ file, env: { DCIS_RTT_MATRIX: 'rtt2.json' }, cwd: dir })
    assert.deepEqual(e.simulation.rtt?.regions, ['x'])
    const f = await loadConfig({ file, env: {}, flags: { rttMatrix: path.join(dir, 'rtt2.json') }, cwd: '/' })
    assert.deepEqual(f.simulation.rtt?.regions, ['x'])
  })

  describe('rejects bad values, naming the field and the source', () => {
    it('port out of range (env, flag, file)', async () => {
      const err = await rejectsConfig(loadConfig({ env: { DCIS_API: '127.0.0.1:70000' }, cwd: dir }),
        { field: 'api.port', source: 'env DCIS_API', reason: /must be <= 65535 \(got 70000\)/ })
      assert.equal(err.message, 'config: api.port: must be <= 65535 (got 70000) [from env DCIS_API]')
      await rejectsConfig(loadConfig({ env: {}, flags: { api: 'localhost:99999' }, cwd: dir }), { field: 'api.port', source: 'flag --api' })
      await rejectsConfig(loadConfig({ env: {}, flags: { api: 'localhost:http' }, cwd: dir }), { field: 'api.port', source: 'flag --api', reason: /integer/ })
      const file = await writeYaml('p.yaml', 'region: eu\napi:\n  port: -1\n')
      await rejectsConfig(loadConfig({ file, env: {}, cwd: dir }), { field: 'api.port', source: `file ${file} line 3`, reason: />= 0/ })
    })

    it('malformed host:port', async () => {
      await rejectsConfig(loadConfig({ env: { DCIS_API: 'localhost' }, cwd: dir }), { field: 'api', source: 'env DCIS_API', reason: /HOST:PORT/ })
      await rejectsConfig(loadConfig({ env: { DCIS_API: '::1:80' }, cwd: dir }), { field: 'api', reason: /brackets/ })
      await rejectsConfig(loadConfig({ env: { DCIS_API: ':80' }, cwd: dir }), { field: 'api.host' })
      await rejectsConfig(loadConfig({ env: { DCIS_API: 'bad_host!:80' }, cwd: dir }), { field: 'api.host', source: 'env DCIS_API' })
      const ok = await loadConfig({ env: { DCIS_API: '[::1]:8081' }, cwd: dir })
      assert.deepEqual(ok.api, { host: '::1', port: 8081, trustLoopback: false, openInfo: true, policy: [] })
    })

    it('bad multiaddr', async () => {
      await rejectsConfig(loadConfig({ env: { DCIS_LISTEN: '/ip4/127.0.0.1/tcp/1,/ip4/300.1.1.1/tcp/4001' }, cwd: dir }),
        { field: 'listen[1]', source: 'env DCIS_LISTEN', reason: /not a valid multiaddr/ })
      await rejectsConfig(loadConfig({ env: {}, flags: { listen: ['tcp://0.0.0.0:4001'] }, cwd: dir }), { field: 'listen[0]', source: 'flag --listen' })
      const file = await writeYaml('m.yaml', 'announce:\n  - /dns4/ok.example/tcp/1\n  - /\n')
      await rejectsConfig(loadConfig({ file, env: {}, cwd: dir }), { field: 'announce[1]', source: `file ${file} line 3`, reason: /empty/ })
    })

    it('bootstrap multiaddr without /p2p', async () => {
      await rejectsConfig(loadConfig({ env: {}, flags: { bootstrap: ['/ip4/127.0.0.1/tcp/8180'] }, cwd: dir }),
        { field: 'bootstrap[0]', source: 'flag --bootstrap', reason: /must end with \/p2p\/<peerId>/ })
      await rejectsConfig(loadConfig({ env: { DCIS_BOOTSTRAP: `/ip4/127.0.0.1/tcp/8180/p2p/${peer},/ip4/127.0.0.1/tcp/8181/p2p/notapeer` }, cwd: dir }),
        { field: 'bootstrap[1]', source: 'env DCIS_BOOTSTRAP', reason: /invalid peer id/ })
      await rejectsConfig(loadConfig({ env: { DCIS_BOOTSTRAP: '/ip4/1.2.3.999/tcp/1' }, cwd: dir }),
        { field: 'bootstrap[0]', reason: /not a valid multiaddr/ })
    })

    it('bad log level', async () => {
      await rejectsConfig(loadConfig({ env: { DCIS_LOG_LEVEL: 'verbose' }, cwd: dir }),
        { field: 'logLevel', source: 'env DCIS_LOG_LEVEL', reason: /must be one of fatal, error, warn, info, debug, trace, silent \(got "verbose"\)/ })
      await rejectsConfig(loadConfig({ env: {}, flags: { logLevel: 'INFO' as 'info' }, cwd: dir }), { field: 'logLevel', source: 'flag --log-level' })
    })

    it('unknown YAML key, with a suggestion', async () => {
      const file = await writeYaml('u.yaml', 'region: eu\nlisten: []\napi:\n  host: 127.0.0.1\n  prot: 80\n')
      await rejectsConfig(loadConfig({ file, env: {}, cwd: dir }),
        { field: 'api.prot', source: `file ${file} line 5`, reason: /unknown key \(did you mean "port"\?\)/, code: 'CONFIG_UNKNOWN_KEY' })
      const top = await writeYaml('u2.yaml', 'regoin: eu\n')
      await rejectsConfig(loadConfig({ file: top, env: {}, cwd: dir }), { field: 'regoin', reason: /did you mean "region"/ })
      const far = await writeYaml('u3.yaml', 'colour: blue\n')
      await rejectsConfig(loadConfig({ file: far, env: {}, cwd: dir }), { field: 'colour', reason: /^unknown key; known keys/ })
    })

    it('bad region, zone and federation names', async () => {
      for (const region of ['EU-West', 'eu_west', 'a'.repeat(64), 'eu west']) {
        await rejectsConfig(loadConfig({ env: { DCIS_REGION: region }, cwd: dir }), { field: 'region', source: 'env DCIS_REGION', reason: /1-63 characters/ })
      }
      await rejectsConfig(loadConfig({ env: {}, flags: { zone: 'Zone/1' }, cwd: dir }), { field: 'zone', source: 'flag --zone' })
      await rejectsConfig(loadConfig({ env: { DCIS_FEDERATION: '../../etc' }, cwd: dir }), { field: 'federation', source: 'env DCIS_FEDERATION' })
      const file = await writeYaml('r.yaml', 'region: 42\n')
      await rejectsConfig(loadConfig({ file, env: {}, cwd: dir }), { field: 'region', reason: /must be a string \(got 42\)/ })
    })

    it('wrong types in the file', async () => {
      const cases: Array<[string, string, RegExp]> = [
        ['listen: /ip4/0.0.0.0/tcp/1\n', 'listen', /must be a list/],
        ['api: 8080\n', 'api', /must be a mapping/],
        ['api:\n  trustLoopback: yes\n', 'api.trustLoopback', /must be a boolean \(got "yes"\)/],
        ['api:\n  port: 80.5\n', 'api.port', /must be an integer/],
        ['gossip:\n  endRepublishIntervalMs: 5\n', 'gossip.endRepublishIntervalMs', /must be >= 1000/],
        ['resources:\n  cpu: 0\n', 'resources.cpu', /must be > 0/],
        ['resources:\n  arch: "x86 64"\n', 'resources.arch', /characters/],
        ['resources:\n  gpu: 1\n', 'resources.gpu', /unknown key/],
        ['dht:\n  clientMode: "true"\n', 'dht.clientMode', /boolean/]
      ]
      for (const [text, field, reason] of cases) {
        const file = await writeYaml('t.yaml', text)
        await rejectsConfig(loadConfig({ file, env: {}, cwd: dir }), { field, reason, source: new RegExp(`^file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) })
      }
    })

    it('malformed YAML', async () => {
      const cases = ['region: [eu\n', 'a: 1\na: 2\n', 'api:\n  host: x\n port: 1\n', '\tregion: eu\n']
      for (const text of cases) {
        const file = await writeYaml('bad.yaml', text)
        await rejectsConfig(loadConfig({ file, env: {}, cwd: dir }), { field: '', code: 'CONFIG_FILE_MALFORMED', reason: /not valid YAML/, source: new RegExp(`^file .*bad\\.yaml line \\d+ column \\d+$`) })
      }
      const list = await writeYaml('list.yaml', '- a\n- b\n')
      await rejectsConfig(loadConfig({ file: list, env: {}, cwd: dir }), { field: '', reason: /top level must be a mapping/ })
    })

    it('missing config file', async () => {
      await rejectsConfig(loadConfig({ env: { DCIS_CONFIG: 'nope.yaml' }, cwd: dir }),
        { field: '', source: 'env DCIS_CONFIG', code: 'CONFIG_FILE_UNREADABLE', reason: /nope\.yaml: no such file/ })
    })

    it('bad RTT matrix in the file: non-square, negative, NaN, unknown file', async () => {
      const cases: Array<[string, string, RegExp]> = [
        ['{ regions: [a, b], rttMs: [[0, 1], [1, 0, 3]] }', 'simulation.rtt.rttMs[1]', /must have 2 entries/],
        ['{ regions: [a, b], rttMs: [[0, 1]] }', 'simulation.rtt.rttMs', /must have 2 rows/],
        ['{ regions: [a, b], rttMs: [[0, -5], [1, 0]] }', 'simulation.rtt.rttMs[0][1]', /finite number >= 0 .*got -5/],
        ['{ regions: [a, b], rttMs: [[0, .nan], [1, 0]] }', 'simulation.rtt.rttMs[0][1]', /got NaN/],
        ['{ regions: [a, b], rttMs: [[0, .inf], [1, 0]] }', 'simulation.rtt.rttMs[0][1]', /got Infinity/],
        ['{ regions: [a, a], rttMs: [[0, 1], [1, 0]] }', 'simulation.rtt.regions[1]', /duplicate/],
        ['{ regions: [a, b], rttMs: [[0, 61000], [1, 0]] }', 'simulation.rtt.rttMs[0][1]', /<= 60000 ms/],
        ['{ regions: [a], rttMs: [[0]], rtt: [[0]] }', 'simulation.rtt.rtt', /unknown key/],
        ['missing.json', 'simulation.rtt', /cannot read RTT matrix/]
      ]
      for (const [inline, field, reason] of cases) {
        const file = await writeYaml('rtt.yaml', `simulation:\n  rtt: ${inline}\n`)
        await rejectsConfig(loadConfig({ file, env: {}, cwd: dir }), { field, reason })
      }
    })

    it('bad booleans and integers from env', async () => {
      await rejectsConfig(loadConfig({ env: { DCIS_TRUST_LOOPBACK: 'yes' }, cwd: dir }), { field: 'api.trustLoopback', source: 'env DCIS_TRUST_LOOPBACK' })
      await rejectsConfig(loadConfig({ env: { DCIS_DHT_CLIENT_MODE: 'on' }, cwd: dir }), { field: 'dht.clientMode', source: 'env DCIS_DHT_CLIENT_MODE' })
      await rejectsConfig(loadConfig({ env: { DCIS_END_REPUBLISH_MS: '30s' }, cwd: dir }), { field: 'gossip.endRepublishIntervalMs', source: 'env DCIS_END_REPUBLISH_MS', reason: /integer/ })
      const ok = await loadConfig({ env: { DCIS_TRUST_LOOPBACK: 'TRUE', DCIS_DHT_CLIENT_MODE: '0', DCIS_END_REPUBLISH_MS: '60000', DCIS_REGION: '' }, cwd: dir })
      assert.equal(ok.api.trustLoopback, true)
      assert.equal(ok.dht.clientMode, false)
      assert.equal(ok.gossip.endRepublishIntervalMs, 60000)
      assert.equal(ok.region, 'local') // empty = unset
    })

    it('bad flags object', async () => {
      await rejectsConfig(loadConfig({ env: {}, flags: { colour: 'x' } as unknown as ConfigFlags, cwd: dir }), { field: 'colour', source: 'flags', code: 'CONFIG_UNKNOWN_KEY' })
      await rejectsConfig(loadConfig({ env: {}, flags: { trustLoopback: 'maybe' } as unknown as ConfigFlags, cwd: dir }), { field: 'api.trustLoopback', source: 'flag --trust-loopback' })
      await rejectsConfig(loadConfig({ env: {}, flags: { listen: [42] } as unknown as ConfigFlags, cwd: dir }), { field: 'listen[0]', source: 'flag --listen', reason: /must be a string/ })
    })

    it('a value with a line break still gives a one-line message', async () => {
      await rejectsConfig(loadConfig({ env: { DCIS_REGION: 'eu\nwest' }, cwd: dir }), { field: 'region', source: 'env DCIS_REGION' })
      await rejectsConfig(loadConfig({ env: { DCIS_LISTEN: '/ip4/1.2.3.4/tcp/\n1' }, cwd: dir }), { field: 'listen[0]' })
    })
  })
})
