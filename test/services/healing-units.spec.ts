/**
 * Pure parts of self-healing: the residency rule, service conditions and the
 * liveness grace period (fake network and clock).
 */
import assert from 'node:assert/strict'
import { eligible, emptyZones, inEntry, unservedZones } from '../../src/services/residency.js'
import { serviceConditions } from '../../src/services/conditions.js'
import type { ConditionInput } from '../../src/services/conditions.js'
import { PeerLiveness } from '../../src/services/liveness.js'
import type { LivenessNetwork } from '../../src/services/liveness.js'

const us = { region: 'us-east', zone: 'us-east-a' }
const eu = { region: 'eu-west', zone: 'eu-west-b' }

describe('services: residency', function () {
  it('an entry matches a region or a zone; an empty list allows every peer', function () {
    assert.equal(inEntry(us, 'us-east'), true)
    assert.equal(inEntry(us, 'us-east-a'), true)
    assert.equal(inEntry(us, 'us-east-b'), false)
    assert.equal(inEntry({ region: null, zone: null }, 'us-east'), false)
    assert.equal(eligible(eu, []), true)
    assert.equal(eligible(eu, ['us-east', 'ap-south']), false)
    assert.equal(eligible(eu, ['us-east', 'eu-west-b']), true)
    assert.deepEqual(unservedZones(['us-east', 'eu-west', 'sa-east'], [us, eu]), ['sa-east'])
    assert.deepEqual(emptyZones(['us-east-a', 'sa-east'], [us, eu]), ['sa-east'])
  })
})

describe('services: conditions', function () {
  const base: ConditionInput = { mode: 'eventual', desired: 3, placed: 3, live: 3, gone: [], down: [], unservedZones: [], emptyZones: [] }
  const get = (i: ConditionInput, type: string): { status: string, reason: string, message: string } => serviceConditions(i).find(c => c.type === type)!

  it('all True when whole', function () {
    for (const c of serviceConditions(base)) assert.equal(c.status, 'True', JSON.stringify(c))
  })

  it('names the reason a service is short, most fundamental first', function () {
    const zone = get({ ...base, placed: 2, live: 2, unservedZones: ['sa-east'], emptyZones: ['sa-east'] }, 'FullyReplicated')
    assert.deepEqual([zone.status, zone.reason], ['False', 'ZoneUnserved'])
    assert.match(zone.message, /sa-east/)
    assert.equal(get({ ...base, placed: 2, live: 2 }, 'FullyReplicated').reason, 'InsufficientPeers')
    assert.equal(get({ ...base, live: 2, down: ['p3'] }, 'FullyReplicated').reason, 'ReplicaUnreachable')
    assert.equal(get({ ...base, live: 2, gone: ['p3'] }, 'FullyReplicated').reason, 'ReplicaGone')
    assert.equal(get({ ...base, live: 2, gone: ['p3'], repairing: true }, 'FullyReplicated').reason, 'Repairing')
    const zs = get({ ...base, unservedZones: ['ap-south'] }, 'ZonesServed')
    assert.deepEqual([zs.status, zs.reason], ['False', 'ZoneWithoutReplica'])
    assert.equal(get({ ...base, live: 0 }, 'Available').reason, 'NoReplicaLive')
  })

  it('strong: available with a live quorum and a leader', function () {
    const s: ConditionInput = { ...base, mode: 'strong', voters: 3, votersLive: 2, live: 2, down: ['p3'], leader: 'p1' }
    assert.equal(get(s, 'Available').status, 'True')
    assert.equal(get({ ...s, votersLive: 1 }, 'Available').reason, 'NoQuorum')
    assert.equal(get({ ...s, leader: null }, 'Available').reason, 'NoLeader')
  })
})

describe('services: liveness with a grace period', function () {
  class FakeNet {
    connected = new Set<string>()
    private readonly listeners = new Map<string, Array<(e: CustomEvent) => void>>()
    readonly peerId = { toString: () => 'self' }
    getPeers (): Array<{ toString: () => string }> { return [...this.connected].map(id => ({ toString: () => id })) }
    addEventListener (type: string, fn: (e: CustomEvent) => void): void { this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]) }
    removeEventListener (type: string, fn: (e: CustomEvent) => void): void { this.listeners.set(type, (this.listeners.get(type) ?? []).filter(f => f !== fn)) }
    emit (type: string, id: string): void { for (const f of this.listeners.get(type) ?? []) f(new CustomEvent(type, { detail: { toString: () => id } })) }
  }

  it('a peer is gone only after the grace period without a connection; a blip does not count; self is always live', function () {
    let now = 1000
    const net = new FakeNet()
    const l = new PeerLiveness(net as unknown as LivenessNetwork, 5000, () => now)
    l.start()
    net.connected.add('a')
    net.emit('peer:connect', 'a')
    assert.equal(l.isLive('a'), true)
    assert.equal(l.isLive('self'), true)
    // never seen: timed from start
    now += 4000
    assert.equal(l.isGone('b'), false)
    now += 2000
    assert.equal(l.isGone('b'), true)
    // a disconnects; 3 s later it reconnects (a blip), then drops for good
    net.connected.delete('a')
    net.emit('peer:disconnect', 'a')
    now += 3000
    assert.equal(l.isGone('a'), false)
    assert.equal(l.goneForMs('a'), 3000)
    net.connected.add('a')
    assert.equal(l.isLive('a'), true)
    now += 1000
    net.connected.delete('a')
    net.emit('peer:disconnect', 'a')
    now += 4999
    assert.equal(l.isGone('a'), false)
    now += 2
    assert.equal(l.isGone('a'), true)
    l.stop()
  })
})
