/**
 * Kubernetes-style conditions of a service (pure): why a service is short of
 * its desired replicas, which listed zones it does not serve, whether it can
 * serve at all. Each condition is {type, status, reason, message}.
 */
import type { ServiceCondition } from './types.js'

export interface ConditionInput {
  mode: 'eventual' | 'strong'
  desired: number
  /** placed replicas (the catalogue entry or the Raft configuration) */
  placed: number
  live: number
  /** placed replicas whose peers are gone past the grace period */
  gone: string[]
  /** placed replicas whose peers are unreachable but still within the grace period */
  down: string[]
  /** listed zones no placed replica serves */
  unservedZones: string[]
  /** listed zones with no eligible peer in the registry at all */
  emptyZones: string[]
  /** strong: a leader is known */
  leader?: string | null
  /** strong: voters live / voters */
  votersLive?: number
  voters?: number
  /** a repair is under way */
  repairing?: boolean
}

export function serviceConditions (i: ConditionInput): ServiceCondition[] {
  const out: ServiceCondition[] = []
  // Available: the service can answer
  if (i.mode === 'strong') {
    const quorum = Math.floor((i.voters ?? 0) / 2) + 1
    const ok = (i.votersLive ?? 0) >= quorum && i.leader != null
    out.push(ok
      ? { type: 'Available', status: 'True', reason: 'QuorumAvailable', message: `${i.votersLive ?? 0} of ${i.voters ?? 0} voters live, leader ${i.leader ?? ''}` }
      : { type: 'Available', status: 'False', reason: (i.votersLive ?? 0) < quorum ? 'NoQuorum' : 'NoLeader', message: `${i.votersLive ?? 0} of ${i.voters ?? 0} voters live (quorum ${quorum})${i.leader == null ? ', no leader known' : ''}` })
  } else {
    out.push(i.live > 0
      ? { type: 'Available', status: 'True', reason: 'ReplicaAvailable', message: `${i.live} replica(s) live` }
      : { type: 'Available', status: 'False', reason: 'NoReplicaLive', message: 'no replica is reachable' })
  }
  // FullyReplicated: desired == live, else the first reason that explains it
  if (i.live >= i.desired) {
    out.push({ type: 'FullyReplicated', status: 'True', reason: 'AllReplicasLive', message: `${i.live} of ${i.desired} replicas live` })
  } else {
    let reason: string
    let message: string
    if (i.emptyZones.length > 0 && i.placed < i.desired) {
      reason = 'ZoneUnserved'
      message = `no eligible peer in zone(s) ${i.emptyZones.join(', ')}: ${i.placed} of ${i.desired} replicas placed`
    } else if (i.placed < i.desired) {
      reason = 'InsufficientPeers'
      message = `only ${i.placed} eligible peer(s) for ${i.desired} replicas`
    } else if (i.repairing === true) {
      reason = 'Repairing'
      message = `replacing ${i.gone.join(', ')}`
    } else if (i.gone.length > 0) {
      reason = 'ReplicaGone'
      message = `peer(s) ${i.gone.join(', ')} gone past the grace period; waiting for a replacement peer`
    } else {
      reason = 'ReplicaUnreachable'
      message = `peer(s) ${i.down.join(', ')} unreachable (within the grace period)`
    }
    out.push({ type: 'FullyReplicated', status: 'False', reason, message: `${i.live} of ${i.desired} replicas live; ${message}` })
  }
  // ZonesServed: every listed zone holds a replica
  if (i.unservedZones.length === 0) {
    out.push({ type: 'ZonesServed', status: 'True', reason: 'AllZonesServed', message: 'every listed zone holds a replica (or none are listed)' })
  } else {
    const empty = i.unservedZones.filter(z => i.emptyZones.includes(z))
    out.push({ type: 'ZonesServed', status: 'False', reason: empty.length > 0 ? 'ZoneUnserved' : 'ZoneWithoutReplica', message: `no replica in zone(s) ${i.unservedZones.join(', ')}${empty.length > 0 ? ` (no eligible peer in ${empty.join(', ')})` : ''}` })
  }
  return out
}
