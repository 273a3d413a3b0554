/**
 * Raft group descriptors (a trust boundary: announced by peers): epochs,
 * tombstones, the bootstrap configuration, and which of two versions wins.
 */
import assert from 'node:assert/strict'
import { bootstrapOf, groupIdOf, InvalidDescriptorError, isNewer, validateDescriptor } from '../../src/raft/service/descriptor.js'
import type { GroupDescriptor } from '../../src/raft/service/descriptor.js'

const A = '12D3KooWGBjw8wVqz99S51AX9HDUzwzToJ8aqCF9V3nmvPFbSLB8'
const B = '12D3KooWJ9YqS8S591WMfmVSLjnfcz2VnnSfZM5sfXyyYAig5c1t'
const C = '12D3KooWKuhu7M5KazaNtV3RvtmqFHTyxdfhPkoPgAdF6WbUyyPZ'
const D = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

function base (): GroupDescriptor {
  const createdAt = '2026-12-07T00:00:00.000Z'
  return {
    v: 1,
    name: 'ledger',
    group: groupIdOf('ledger', A, createdAt),
    spec: { name: 'ledger', replicas: 3, runtime: 'wasi', mode: 'strong', crdtEngine: 'delta-crdts', zones: [], maxStalenessMs: 1000, latencyRadiusMs: 20 },
    voters: [A, B, C],
    learners: [],
    priorities: { [A]: 4, [B]: 1, [C]: 1 },
    createdBy: A,
    createdAt,
    epoch: 0,
    bootstrap: { voters: [A, B, C], learners: [] }
  }
}

describe('raft group descriptors', function () {
  it('accepts later epochs with another membership, tombstones, and fewer members than replicas (a short service)', function () {
    const d = base()
    assert.deepEqual(validateDescriptor(d), d)
    const moved = { ...d, voters: [A, B, D], priorities: { [A]: 4, [B]: 1, [D]: 1 }, epoch: 2, updatedBy: B, updatedAt: '2026-12-07T00:01:00.000Z' }
    assert.deepEqual(validateDescriptor(moved), moved)
    assert.deepEqual(bootstrapOf(moved).voters, [A, B, C], 'the bootstrap configuration stays: D joins, it does not bootstrap')
    assert.deepEqual(validateDescriptor({ ...d, deleted: true, epoch: 1 }).deleted, true)
    assert.deepEqual(validateDescriptor({ ...d, voters: [A], priorities: { [A]: 1 } }).voters, [A])
  })

  it('refuses bad epochs, tombstones, updaters and bootstrap lists naming the field', function () {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ epoch: -1 }, 'epoch'],
      [{ epoch: 1.5 }, 'epoch'],
      [{ epoch: '2' }, 'epoch'],
      [{ deleted: 'yes' }, 'deleted'],
      [{ updatedBy: 'someone' }, 'updatedBy'],
      [{ updatedAt: 'yesterday' }, 'updatedAt'],
      [{ bootstrap: [] }, 'bootstrap'],
      [{ bootstrap: { voters: [], learners: [] } }, 'bootstrap.voters'],
      [{ bootstrap: { voters: [A, A], learners: [] } }, 'bootstrap.voters']
    ]
    for (const [patch, field] of cases) {
      assert.throws(() => validateDescriptor({ ...base(), ...patch }), (err: unknown) => err instanceof InvalidDescriptorError && err.field === field, JSON.stringify(patch))
    }
  })

  it('the greater (epoch, updatedAt, updatedBy) wins', function () {
    const d = base()
    const e1 = { ...d, epoch: 1, updatedBy: B, updatedAt: '2026-12-07T00:01:00.000Z' }
    const e1later = { ...e1, updatedAt: '2026-12-07T00:02:00.000Z' }
    assert.equal(isNewer(e1, d), true)
    assert.equal(isNewer(d, e1), false)
    assert.equal(isNewer(e1later, e1), true)
    assert.equal(isNewer(e1, e1), false)
    assert.equal(isNewer({ ...d, epoch: 2 }, e1later), true)
  })
})
