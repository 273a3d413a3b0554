import { Counter, Gauge } from 'prom-client'
import { defaultPeerScoreThresholds } from '@libp2p/gossipsub/score'
import { REJECT_REASONS } from './errors.js'
import type { Registry } from 'prom-client'

export interface RegistryMetrics {
  rejected: Counter<'reason' | 'source'>
  accepted: Counter<'source' | 'result'>
  entries: Gauge
  published: Counter<'channel'>
  credentialsRejected: Counter<'reason'>
  antiEntropyPulls: Counter<'result'>
  connectPulls: Counter<'result'>
}

export function createRegistryMetrics (registry: Registry): RegistryMetrics {
  const rejected = new Counter({
    name: 'dcis_registry_descriptors_rejected_total',
    help: 'Descriptors refused, by reason and by the path they arrived on',
    labelNames: ['reason', 'source'] as const,
    registers: [registry]
  })
  // make every reason visible at 0 so dashboards see the series
  for (const reason of REJECT_REASONS) rejected.inc({ reason, source: 'gossip' }, 0)
  return {
    rejected,
    accepted: new Counter({
      name: 'dcis_registry_descriptors_accepted_total',
      help: 'Verified descriptors offered to the registry cache, by path and outcome',
      labelNames: ['source', 'result'] as const,
      registers: [registry]
    }),
    entries: new Gauge({
      name: 'dcis_registry_entries',
      help: 'Verified, unexpired descriptors held',
      registers: [registry]
    }),
    credentialsRejected: new Counter({
      name: 'dcis_registry_credentials_rejected_total',
      help: 'Federation credentials and revocation lists not believed, by reason',
      labelNames: ['reason'] as const,
      registers: [registry]
    }),
    antiEntropyPulls: new Counter({
      name: 'dcis_registry_anti_entropy_pulls_total',
      help: 'Registry pulls from a random neighbour (anti-entropy), by whether they brought news',
      labelNames: ['result'] as const,
      registers: [registry]
    }),
    connectPulls: new Counter({
      name: 'dcis_registry_connect_pulls_total',
      help: 'New connections: registry pulled (a newcomer on either side) or skipped (both already knew each other)',
      labelNames: ['result'] as const,
      registers: [registry]
    }),
    published: new Counter({
      name: 'dcis_registry_publications_total',
      help: 'Own descriptor publications by channel (gossip, dht, helia)',
      labelNames: ['channel'] as const,
      registers: [registry]
    })
  }
}

/** what the gossip metrics read from gossipsub (its public API) */
export interface GossipView {
  getTopics: () => string[]
  getMeshPeers: (topic: string) => string[]
  getSubscribers: (topic: string) => unknown[]
  getPeers: () => Array<{ toString: () => string }>
  getScore: (peerId: string) => number
}

/** gossipsub's default score thresholds (below them a peer gets no gossip / no publications / nothing is accepted from it) */
export const SCORE_THRESHOLDS = {
  gossip: defaultPeerScoreThresholds.gossipThreshold,
  publish: defaultPeerScoreThresholds.publishThreshold,
  graylist: defaultPeerScoreThresholds.graylistThreshold
} as const

/**
 * Gossip health, read at scrape time: per topic the mesh size and the
 * subscribed neighbours, and how many neighbours score below each of
 * gossipsub's thresholds. A mesh of 0 with subscribers, or neighbours under
 * the graylist threshold, means messages are not forwarded.
 */
export function createGossipMetrics (registry: Registry, view: () => GossipView | undefined): void {
  const perTopic = (name: string, help: string, count: (v: GossipView, topic: string) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['topic'] as const,
      registers: [registry],
      collect () {
        this.reset()
        const v = view()
        if (v == null) return
        for (const topic of v.getTopics()) this.set({ topic }, count(v, topic))
      }
    })
  }
  perTopic('dcis_gossip_mesh_peers', 'Peers in this peer\'s gossipsub mesh, by topic', (v, t) => v.getMeshPeers(t).length)
  perTopic('dcis_gossip_topic_peers', 'Connected peers subscribed to a topic, by topic', (v, t) => v.getSubscribers(t).length)
  new Gauge({
    name: 'dcis_gossip_peers_below_threshold',
    help: 'Gossip neighbours whose score is below gossipsub\'s gossip, publish or graylist threshold (0 = all healthy)',
    labelNames: ['threshold'] as const,
    registers: [registry],
    collect () {
      const v = view()
      const below = { gossip: 0, publish: 0, graylist: 0 }
      if (v != null) {
        for (const p of v.getPeers()) {
          const s = v.getScore(p.toString())
          for (const k of Object.keys(below) as Array<keyof typeof below>) if (s < SCORE_THRESHOLDS[k]) below[k]++
        }
      }
      for (const [threshold, n] of Object.entries(below)) this.set({ threshold }, n)
    }
  })
}
