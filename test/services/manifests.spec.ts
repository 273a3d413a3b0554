import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { KindNotSupportedError, ManifestDispatcher, ManifestError, parseManifests } from '../../src/services/manifests/index.js'
import type { Manifest } from '../../src/services/manifests/index.js'

const examples = new URL('../../examples/manifests/', import.meta.url)

function rejects (text: string, field: RegExp, type = 'application/yaml'): void {
  assert.throws(() => parseManifests(text, type), (err: unknown) => {
    assert.ok(err instanceof ManifestError, String(err))
    assert.match(err.message, field)
    return true
  })
}

const ess = (spec: string): string => `apiVersion: edge/v1
kind: EdgeStatefulService
metadata:
  name: lb
spec:
${spec}`

describe('services: manifests', () => {
  it('every example manifest validates', async () => {
    const files = (await readdir(examples)).filter(f => f.endsWith('.yaml'))
    assert.ok(files.length >= 4)
    for (const f of files) {
      const docs = parseManifests(await readFile(new URL(f, examples), 'utf8'))
      assert.ok(docs.length >= 1, f)
    }
  })

  it('parses several YAML documents and JSON arrays', () => {
    const two = parseManifests(`${ess('  replicas: 1\n  consistency: { mode: eventual }')}\n---\n${ess('  replicas: 2\n  consistency: { mode: strong }').replace('name: lb', 'name: lb2')}`)
    assert.deepEqual(two.map(m => m.metadata.name), ['lb', 'lb2'])
    const json = parseManifests(JSON.stringify([{ apiVersion: 'edge/v1', kind: 'HealthCheck', metadata: { name: 'h' }, spec: { function: 'f', intervalSeconds: 5, failureThreshold: 3, recoveryAction: 'rollback' } }]), 'application/json')
    assert.equal(json[0].kind, 'HealthCheck')
  })

  it('rejects bad manifests naming the field', () => {
    rejects(ess('  replicas: 0\n  consistency: { mode: eventual }'), /spec\.replicas: must be >= 1/)
    rejects(ess('  replicas: 3\n  consistency: { mode: eventual, maxStalenessMs: -5 }'), /spec\.consistency\.maxStalenessMs: must be >= 0/)
    rejects(ess('  replicas: 3\n  consistency: { mode: sometimes }'), /spec\.consistency\.mode: must be one of "eventual", "strong"/)
    rejects(ess('  replicas: 3\n  dataSharding: { strategy: geographic, zones: [EU West] }\n  consistency: { mode: eventual }'), /spec\.dataSharding\.zones\.0/)
    rejects(ess('  replicas: 3\n  replica: 2\n  consistency: { mode: eventual }'), /spec\.replica: unknown field/)
    rejects(ess('  replicas: 3'), /spec\.consistency: is required/)
    rejects(ess('  replicas: 3\n  consistency: { mode: eventual }').replace('edge/v1', 'edge/v2'), /apiVersion: must be "edge\/v1"/)
    rejects(ess('  replicas: 3\n  consistency: { mode: eventual }').replace('EdgeStatefulService', 'Deployment'), /kind: must be one of/)
    rejects(ess('  replicas: 3\n  consistency: { mode: eventual }').replace('name: lb', 'name: Not_A_Name'), /metadata\.name/)
    rejects('apiVersion: edge/v1\nkind: [unclosed', /YAML/)
    rejects('{"apiVersion": ', /not JSON/, 'application/json')
    rejects('', /no manifest/)
    rejects('x'.repeat(300 * 1024), /larger than/)
    rejects('a: 1\na: 2\n', /YAML/)
  })

  it('the dispatcher refuses kinds without a backend and checks all before applying any', async () => {
    const d = new ManifestDispatcher()
    const applied: string[] = []
    d.register('Function', { role: 'deploy', apply: async (m) => { applied.push(m.metadata.name); return { ok: true } } })
    const fn = (name: string): Manifest => ({ apiVersion: 'edge/v1', kind: 'Function', metadata: { name }, spec: { source: 'bafkreid5cgnvs3lxdklh2tlwfxtpwoekz5k6rz22jhiainukegftp2wd44' } })
    const svc: Manifest = { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name: 's' }, spec: { replicas: 1, consistency: { mode: 'eventual' } } }
    await assert.rejects(d.apply([fn('a'), svc]), KindNotSupportedError)
    assert.deepEqual(applied, [], 'nothing applied when one manifest cannot be')
    assert.deepEqual((await d.apply([fn('a'), fn('b')])).map(a => a.name), ['a', 'b'])
    assert.equal(d.roleFor('Function'), 'deploy')
    assert.equal(d.roleFor('HealthCheck'), 'admin')
  })
})
