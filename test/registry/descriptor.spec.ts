import assert from 'node:assert/strict'
import { buildDescriptor, detectAccelerators, detectResources, detectTee, materiallyChanged, normaliseArch, teeOf } from '../../src/registry/descriptor.js'
import { checkDescriptorSchema } from '../../src/registry/schema.js'

const base = {
  did: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK',
  peerId: '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
  multiaddrs: [],
  region: 'eu-west-1',
  zone: 'a',
  software: { name: 'dcis-mesh', version: '0.1.0' },
  now: 1_800_000_000,
  ttlSeconds: 600
}

describe('END descriptor: honest hardware fields', () => {
  it('normalises arch to OCI/GOARCH names', () => {
    assert.equal(normaliseArch('x64'), 'amd64')
    assert.equal(normaliseArch('aarch64'), 'arm64')
    assert.equal(normaliseArch('riscv64'), 'riscv64')
    assert.equal(normaliseArch('ia32'), '386')
    assert.equal(normaliseArch('X86_64'), 'amd64')
  })

  it('this host: arch is amd64 (or the GOARCH of wherever the test runs) and says how TEE was determined', () => {
    const d = detectResources()
    const end = buildDescriptor({ ...base, detected: d })
    if (process.arch === 'x64') assert.equal(end.arch, 'amd64')
    assert.ok(['detected', 'none'].includes(end.tee.source))
    assert.equal(end.tee.attested, false)
    if (end.tee.source === 'detected') assert.match(String(end.tee.detectedFrom), /^\/dev\//)
    assert.equal(checkDescriptorSchema(end), null)
  })

  it('detects a TEE from its device node, first match wins', () => {
    assert.equal(detectTee(() => false), null)
    assert.deepEqual(detectTee(p => p === '/dev/sev-guest'), { kind: 'sev-snp', path: '/dev/sev-guest' })
    assert.deepEqual(detectTee(p => p === '/dev/tdx-guest' || p === '/dev/nitro_enclaves'), { kind: 'tdx', path: '/dev/tdx-guest' })
    assert.deepEqual(detectTee(p => p === '/dev/sgx/enclave'), { kind: 'sgx', path: '/dev/sgx/enclave' })
    assert.equal(detectTee(() => { throw new Error('EACCES') }), null)
  })

  it('a declared TEE is marked declared, not attested; a detected one names its source', () => {
    assert.deepEqual(teeOf(null, true), { available: true, kind: null, source: 'declared', attested: false, detectedFrom: null })
    assert.deepEqual(teeOf({ kind: 'sgx', path: '/dev/sgx_enclave' }, undefined), { available: true, kind: 'sgx', source: 'detected', attested: false, detectedFrom: '/dev/sgx_enclave' })
    assert.equal(teeOf({ kind: 'sgx', path: '/dev/sgx_enclave' }, false).available, false)
    assert.deepEqual(teeOf(null, undefined), { available: false, kind: null, source: 'none', attested: false, detectedFrom: null })
    const d = { ...detectResources(), tee: null }
    const end = buildDescriptor({ ...base, detected: d, overrides: { tee: true, arch: 'aarch64' } })
    assert.equal(end.tee.source, 'declared')
    assert.equal(end.arch, 'arm64')
    assert.equal(checkDescriptorSchema(end), null)
    assert.notEqual(checkDescriptorSchema({ ...end, tee: { ...end.tee, detectedFrom: '/etc/passwd' } }), null)
    // an older peer's END (source: config) still verifies
    assert.equal(checkDescriptorSchema({ ...end, tee: { available: true, kind: null, source: 'config' } }), null)
  })

  it('finds accelerators beyond NVIDIA: DRM render nodes by vendor, /dev/kfd, /dev/accel', () => {
    const files: Record<string, string[] | string> = {
      '/proc/driver/nvidia/gpus': ['0000:01:00.0'],
      '/dev/dri': ['card0', 'renderD128', 'renderD129', 'renderD130'],
      '/sys/class/drm/renderD128/device/vendor': '0x10de\n',
      '/sys/class/drm/renderD129/device/vendor': '0x1002\n',
      '/dev/kfd': '',
      '/dev/accel': ['accel0']
    }
    const acc = detectAccelerators({
      exists: p => p in files,
      readdir: p => files[p] as string[],
      readFile: p => { if (!(p in files)) throw new Error('ENOENT'); return files[p] as string }
    })
    assert.deepEqual(acc, [
      { kind: 'gpu', model: 'nvidia', count: 1, source: 'detected' },
      { kind: 'gpu', model: 'drm-render:amd', count: 1, source: 'detected' },
      { kind: 'gpu', model: 'drm-render:unknown', count: 1, source: 'detected' },
      { kind: 'gpu', model: 'amd-rocm-kfd', count: 1, source: 'detected' },
      { kind: 'npu', model: 'linux-accel', count: 1, source: 'detected' }
    ])
    assert.deepEqual(detectAccelerators({ exists: () => false, readdir: () => [], readFile: () => '' }), [])
  })

  it('re-signing: the first latency coordinate is a material change, its later movement is not', () => {
    const d = detectResources()
    const without = buildDescriptor({ ...base, detected: d })
    const coord = { v: 1, vec: [1.5, -2, 0.25], height: 0.1, adjustment: 0, error: 0.9, directPeers: 2, heardPeers: 2 }
    const withCoord = buildDescriptor({ ...base, detected: d, latency: coord })
    assert.equal(materiallyChanged(without, without), false)
    assert.equal(materiallyChanged(without, withCoord), true)
    assert.equal(materiallyChanged(withCoord, buildDescriptor({ ...base, detected: d, latency: { ...coord, vec: [9, 9, 9], error: 0.3 } })), false)
    assert.equal(materiallyChanged(withCoord, without), true)
  })
})
