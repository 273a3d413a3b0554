import { Counter, Gauge } from 'prom-client'
import { REJECT_REASONS } from './errors.js'
import type { Registry } from 'prom-client'

export interface RegistryMetrics {
  rejected: Counter<'reason' | 'source'>
  accepted: Counter<'source' | 'result'>
  entries: Gauge
  published: Counter<'channel'>
  credentialsRejected: Counter<'reason'>
  antiEntropyPulls: Counter<'result'>
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
    published: new Counter({
      name: 'dcis_registry_publications_total',
      help: 'Own descriptor publications by channel (gossip, dht, helia)',
      labelNames: ['channel'] as const,
      registers: [registry]
    })
  }
}
