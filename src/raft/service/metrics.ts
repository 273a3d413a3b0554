import { Counter, Gauge, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'

export interface KvMetrics {
  requests: Counter<'op' | 'path' | 'result'>
  latency: Histogram<'op'>
  replicas: Gauge<'role'>
}

function once<T> (registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}

/** The strong KV backend's metrics (registered once per registry). */
export function createKvMetrics (registry: Registry, replicasByRole: () => Record<string, number>): KvMetrics {
  return {
    requests: once(registry, 'dcis_raft_kv_requests_total', () => new Counter({ name: 'dcis_raft_kv_requests_total', help: 'strong KV requests by op (get, put, del), path (local, forwarded, served) and result', labelNames: ['op', 'path', 'result'], registers: [registry] })),
    latency: once(registry, 'dcis_raft_kv_local_seconds', () => new Histogram({ name: 'dcis_raft_kv_local_seconds', help: 'latency of KV operations served by a local replica (commit+apply or ReadIndex)', labelNames: ['op'], buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] })),
    replicas: once(registry, 'dcis_raft_replicas', () => new Gauge({
      name: 'dcis_raft_replicas',
      help: 'local Raft replicas by role (leader, follower, candidate, learner)',
      labelNames: ['role'],
      registers: [registry],
      collect () {
        this.reset()
        for (const [role, n] of Object.entries(replicasByRole())) this.set({ role }, n)
      }
    }))
  }
}
