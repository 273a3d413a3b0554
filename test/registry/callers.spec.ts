import assert from 'node:assert/strict'
import { memberOrLearnt } from '../../src/registry/callers.js'

describe('registry: members-only handlers give an unknown caller one chance (memberOrLearnt)', () => {
  it('a member passes without a pull; an unknown caller is pulled once and passes only if its descriptor came', async () => {
    const members = new Set(['a'])
    const asked: string[] = []
    const registry = {
      learn: async (peerId: string) => {
        asked.push(peerId)
        if (peerId === 'b') members.add('b')
        return members.has(peerId) ? { peerId } : undefined
      }
    }
    assert.equal(await memberOrLearnt(registry, 'a', () => members.has('a')), true)
    assert.deepEqual(asked, [], 'a member is not looked up')
    assert.equal(await memberOrLearnt(registry, 'b', () => members.has('b')), true)
    assert.equal(await memberOrLearnt(registry, 'c', () => members.has('c')), false)
    assert.deepEqual(asked, ['b', 'c'])
  })

  it('a descriptor that arrives but does not make the caller a member (e.g. trust too low) still refuses; no learn means no second chance', async () => {
    assert.equal(await memberOrLearnt({ learn: async () => ({}) }, 'd', () => false), false)
    assert.equal(await memberOrLearnt({}, 'd', () => false), false)
  })
})
