import assert from 'node:assert/strict'
import { crc32c, crc32cUpdate } from '../../../src/raft/storage/crc32c.js'
import { prng } from './helpers.js'

/** bit-at-a-time reference, obviously right and slow */
function slowCrc32c (data: Uint8Array): number {
  let c = 0xffffffff
  for (const b of data) {
    c ^= b
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? (c >>> 1) ^ 0x82F63B78 : c >>> 1
  }
  return (c ^ 0xffffffff) >>> 0
}

describe('raft/storage crc32c', function () {
  it('matches the published check value and the RFC 3720 (iSCSI) vectors', function () {
    assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xE3069283)
    assert.equal(crc32c(new Uint8Array(32)), 0x8A9136AA)
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62A8AB43)
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46DD794E)
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113FDB5C)
    assert.equal(crc32c(new Uint8Array(0)), 0)
  })

  it('agrees with a bitwise reference on random inputs, and incremental == one-shot', function () {
    const seed = 42
    const rnd = prng(seed)
    for (let n = 0; n < 200; n++) {
      const len = Math.floor(rnd() * 300)
      const data = Uint8Array.from({ length: len }, () => Math.floor(rnd() * 256))
      const want = slowCrc32c(data)
      assert.equal(crc32c(data), want, `seed ${seed} case ${n}`)
      const cut = Math.floor(rnd() * (len + 1))
      assert.equal(crc32cUpdate(crc32cUpdate(0, data, 0, cut), data, cut), want, `seed ${seed} case ${n} split at ${cut}`)
      assert.equal(crc32c(data, 1, len), len > 0 ? slowCrc32c(data.subarray(1)) : 0)
    }
  })
})
