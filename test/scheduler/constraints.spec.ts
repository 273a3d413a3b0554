import assert from 'node:assert/strict'
import { InvalidConstraintsError, parseAllocationRequest, parseConstraints, parseMemory, publicConstraints } from '../../src/scheduler/index.js'

function rejects (fn: () => unknown, field: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidConstraintsError, `expected InvalidConstraintsError, got ${String(err)}`)
    assert.equal(err.name, 'InvalidConstraintsError')
    assert.equal(err.code, 'INVALID_CONSTRAINTS')
    assert.equal(err.field, field)
    assert.ok(err.message.startsWith(field), `message names the field: ${err.message}`)
    return true
  })
}

describe('scheduler constraints', () => {
  it('parses memory quantities in binary and decimal units and bytes', () => {
    assert.equal(parseMemory('256Mi'), 256 * 2 ** 20)
    assert.equal(parseMemory('1Gi'), 2 ** 30)
    assert.equal(parseMemory('1.5Gi'), 1.5 * 2 ** 30)
    assert.equal(parseMemory('512M'), 512e6)
    assert.equal(parseMemory('2Ki'), 2048)
    assert.equal(parseMemory('3K'), 3000)
    assert.equal(parseMemory('1Ti'), 2 ** 40)
    assert.equal(parseMemory('2G'), 2e9)
    assert.equal(parseMemory('1T'), 1e12)
    assert.equal(parseMemory('1048576'), 1048576)
    assert.equal(parseMemory(4096), 4096)
  })

  it('rejects bad memory: unknown units, negatives, zero, fractions of bytes, junk', () => {
    for (const bad of ['256MB', '1gi', '12 Mi', '-1Mi', 'Mi', '', '1e3', '0', '0Mi', '1.2.3Mi', '2Pi']) {
      rejects(() => parseConstraints({ memory: bad }), 'constraints.memory')
    }
    for (const bad of [-1, 0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 51]) {
      rejects(() => parseConstraints({ memory: bad }), 'constraints.memory')
    }
    rejects(() => parseConstraints({ memory: null }), 'constraints.memory')
    rejects(() => parseConstraints({ memory: true }), 'constraints.memory')
  })

  it('normalizes memory to MiB (rounded up) and echoes the caller\'s form', () => {
    const c = parseConstraints({ memory: '1G' })
    assert.equal(c.memoryBytes, 1e9)
    assert.equal(c.memoryMb, Math.ceil(1e9 / 2 ** 20))
    assert.deepEqual(publicConstraints(c), { memory: '1G' })
  })

  it('accepts every known field', () => {
    const c = parseConstraints({ runtime: 'wasi', cpu: 0.5, memory: '256Mi', latencyMs: 20, region: 'eu-west', tee: true, trust: 2, arch: 'ARM64', from: 'us-east' })
    assert.deepEqual(publicConstraints(c), { runtime: 'wasi', cpu: 0.5, memory: '256Mi', latencyMs: 20, region: 'eu-west', tee: true, trust: 2, arch: 'arm64', from: 'us-east' })
    assert.equal(c.memoryMb, 256)
    assert.deepEqual(parseConstraints(undefined), {})
  })

  it('names the field of each bad constraint', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ cpu: -1 }, 'constraints.cpu'],
      [{ cpu: 0 }, 'constraints.cpu'],
      [{ cpu: Number.NaN }, 'constraints.cpu'],
      [{ cpu: '2 cores' }, 'constraints.cpu'],
      [{ cpu: '0m' }, 'constraints.cpu'],
      [{ cpu: '-1' }, 'constraints.cpu'],
      [{ cpu: '2Gi' }, 'constraints.cpu'],
      [{ cpu: true }, 'constraints.cpu'],
      [{ cpu: 1e9 }, 'constraints.cpu'],
      [{ latencyMs: -5 }, 'constraints.latencyMs'],
      [{ latencyMs: 0 }, 'constraints.latencyMs'],
      [{ latencyMs: Number.NaN }, 'constraints.latencyMs'],
      [{ latencyMs: Number.POSITIVE_INFINITY }, 'constraints.latencyMs'],
      [{ runtime: 'docker' }, 'constraints.runtime'],
      [{ region: '' }, 'constraints.region'],
      [{ region: 'eu west' }, 'constraints.region'],
      [{ region: 7 }, 'constraints.region'],
      [{ tee: 'yes' }, 'constraints.tee'],
      [{ trust: -1 }, 'constraints.trust'],
      [{ trust: Number.NaN }, 'constraints.trust'],
      [{ arch: 'x'.repeat(65) }, 'constraints.arch'],
      [{ from: '../etc' }, 'constraints.from'],
      [{ gpu: 1 }, 'constraints.gpu'],
      [{ __proto__x: 1 }, 'constraints.__proto__x']
    ]
    for (const [input, field] of cases) rejects(() => parseConstraints(input), field)
    rejects(() => parseConstraints([]), 'constraints')
    rejects(() => parseConstraints('cpu=1'), 'constraints')
  })

  it('accepts the article\'s allocation request verbatim: runtime wasm, cpu "2", memory 256Mi, tee, region', () => {
    const r = parseAllocationRequest({ runtime: 'wasm', constraints: { cpu: '2', memory: '256Mi', tee: true, region: 'us-east' } })
    assert.deepEqual(publicConstraints(r.constraints), { runtime: 'wasi', cpu: 2, memory: '256Mi', tee: true, region: 'us-east' })
    assert.equal(r.constraints.memoryMb, 256)
    assert.equal(parseConstraints({ cpu: '500m' }).cpu, 0.5)
    assert.equal(parseConstraints({ cpu: '0.25' }).cpu, 0.25)
    assert.equal(parseConstraints({ runtime: 'wasm' }).runtime, 'wasi')
  })

  it('parses allocation requests: replicas, leaseMs, top-level runtime', () => {
    assert.deepEqual(parseAllocationRequest({}), { constraints: {}, replicas: 1 })
    const r = parseAllocationRequest({ runtime: 'reactor', constraints: { cpu: 1 }, replicas: 3, leaseMs: 60_000 })
    assert.equal(r.constraints.runtime, 'reactor')
    assert.equal(r.replicas, 3)
    assert.equal(r.leaseMs, 60_000)
    rejects(() => parseAllocationRequest({ replicas: 0 }), 'replicas')
    rejects(() => parseAllocationRequest({ replicas: 17 }), 'replicas')
    rejects(() => parseAllocationRequest({ replicas: 1.5 }), 'replicas')
    rejects(() => parseAllocationRequest({ replicas: '2' }), 'replicas')
    rejects(() => parseAllocationRequest({ leaseMs: 10 }), 'leaseMs')
    rejects(() => parseAllocationRequest({ leaseMs: Number.NaN }), 'leaseMs')
    rejects(() => parseAllocationRequest({ runtime: 'jvm' }), 'runtime')
    rejects(() => parseAllocationRequest({ runtime: 'wasi', constraints: { runtime: 'reactor' } }), 'runtime')
    rejects(() => parseAllocationRequest({ nodes: 3 }), 'nodes')
    rejects(() => parseAllocationRequest(null), 'body')
    rejects(() => parseAllocationRequest({ constraints: { memory: '1XB' } }), 'constraints.memory')
  })
})
