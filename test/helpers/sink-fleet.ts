/**
 * The fleet of the sink tests and benches (test/e2e/sink-kill.spec.ts,
 * test/sinks/sink.spec.ts, bench/iot/sink-kill.ts): an eventual service with
 * one replica in eu-west-a and one in us-east-a, an alerts log shipped by a
 * Sink, and the kill of the shipper in the middle of a burst of writes.
 */
import type { LocalMesh, LocalPeer } from '../../src/cli/local-mesh.js'
import { tryHttp } from './http.js'
import { waitFor } from './wait.js'

export const FLEET_MANIFEST = `apiVersion: edge/v1
kind: EdgeStatefulService
metadata: { name: fleet }
spec:
  replicas: 2
  dataSharding: { strategy: geographic, zones: [eu-west-a, us-east-a] }
  consistency: { mode: eventual, maxStalenessMs: 100 }
`

/** a Sink `core` shipping the fleet's alerts log to `url` (`counters` as the manifest's field: left out, the default) */
export function alertsSinkManifest (url: string, opts: { intervalMs: number, maxRecords: number, counters?: boolean }): string {
  return `apiVersion: edge/v1
kind: Sink
metadata: { name: core }
spec:
  source: { service: fleet${opts.counters != null ? `, counters: ${String(opts.counters)}` : ''}, logs: [alerts] }
  intervalMs: ${opts.intervalMs}
  destination: { http: { url: "${url}", gzip: true } }
  batch: { maxRecords: ${opts.maxRecords} }
  region: eu-west
`
}

async function postYaml (peer: LocalPeer, yaml: string): Promise<{ status: number, json: unknown }> {
  return tryHttp(peer.apiUrl, 'POST', '/v1/manifests', yaml, 'application/yaml')
}

/** applies the fleet through peer 0 of a 3-region LocalMesh; resolves once its two replicas (peers 0 and 1) serve it */
export async function placeFleet (mesh: LocalMesh): Promise<LocalPeer[]> {
  const [first] = mesh.peers
  await waitFor('fleet placed on its two zones', async () => {
    await postYaml(first, FLEET_MANIFEST)
    const s = await tryHttp(first.apiUrl, 'GET', '/v1/services/fleet')
    return s.status === 200 && (s.json.replicas as unknown[]).length === 2
  }, { timeoutMs: 60_000, intervalMs: 1000 })
  const replicas = mesh.peers.slice(0, 2)
  await waitFor('the replicas serving fleet', async () => {
    for (const p of replicas) if ((await tryHttp(p.apiUrl, 'GET', '/v1/services/fleet')).json?.local !== true) return false
    return true
  }, { timeoutMs: 30_000 })
  return replicas
}

/** applies a Sink manifest through `peer` */
export async function applySink (peer: LocalPeer, yaml: string): Promise<void> {
  const r = await postYaml(peer, yaml)
  if (r.status >= 300) throw new Error(`sink manifest: ${r.status} ${JSON.stringify(r.json)}`)
}

/**
 * Sends `n` alerts (`burst-0`…) to the shipper at once and SIGKILLs it the
 * moment the first is acknowledged, so some acknowledged alerts are on its
 * disk only; `onAcked` sees each acknowledged value. Resolves once it exited.
 */
export async function burstThenKill (shipper: LocalPeer, n: number, onAcked: (value: string) => void): Promise<void> {
  const exited = new Promise<void>(resolve => shipper.process?.once('exit', () => { resolve() }))
  let killed = false
  const kill = (): void => {
    if (!killed) shipper.process?.kill('SIGKILL')
    killed = true
  }
  await Promise.all(Array.from({ length: n }, async (_, j) => {
    const value = `burst-${j}`
    const r = await tryHttp(shipper.apiUrl, 'POST', '/v1/services/fleet/logs/alerts', JSON.stringify({ entries: [value] }))
    if (r.status >= 200 && r.status < 300) {
      onAcked(value)
      kill()
    }
  }))
  kill()
  await exited
}
