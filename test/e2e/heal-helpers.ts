/**
 * Shared by the self-healing e2e tests and bench/services/heal.ts: a mesh of
 * real `dcis start` processes (LocalMesh) with a short repair grace period,
 * HTTP helpers, and the wait for a service to be whole again after a kill.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'
import { cliCommand } from '../helpers/cli.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'
import { partitionRules, writeLinkFaults } from '../helpers/link-faults.js'
import { tryHttp } from '../helpers/http.js'
import type { Json } from '../helpers/http.js'

export interface HealMesh { mesh: LocalMesh, dir: string, stop: () => Promise<void> }

/** starts `nodes` peers with the given repair grace period (DCIS_REPAIR_GRACE_MS) and waits until they are connected */
export async function startHealMesh (nodes: number, graceMs: number, regions: string[] = ['eu-west'], opts: { linkFaults?: (dir: string) => string } = {}): Promise<HealMesh> {
  const dir = await mkdtemp(join(tmpdir(), 'dcis-heal-'))
  const prev = process.env.DCIS_REPAIR_GRACE_MS
  process.env.DCIS_REPAIR_GRACE_MS = String(graceMs)
  const linkFaults = opts.linkFaults?.(dir)
  const mesh = new LocalMesh({ nodes, regions, basePort: await freePortBlock(nodes), dataDir: dir, logLevel: 'warn', command: cliCommand(), ...(linkFaults !== undefined ? { linkFaults } : {}) })
  try {
    await mesh.start()
  } finally {
    if (prev === undefined) delete process.env.DCIS_REPAIR_GRACE_MS
    else process.env.DCIS_REPAIR_GRACE_MS = prev
  }
  const stop = async (): Promise<void> => {
    await mesh.stop()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await waitFor('a connected mesh', async () => LocalMesh.fullyConnected(await mesh.snapshots()), { timeoutMs: 180_000 })
    // every peer lists every other in its registry before placement
    await waitFor('registries complete', async () => {
      for (const p of mesh.peers) {
        const r = await http(p, 'GET', '/v1/registry/nodes')
        if (r.status !== 200 || r.json.nodes.length < nodes) return false
      }
      return true
    }, { timeoutMs: 90_000 })
  } catch (err) {
    await stop()
    throw err
  }
  return { mesh, dir, stop }
}

/** cuts `groups` of peers (by index: site `peer-i`) from each other through the link-faults file; [] heals */
/** Cuts the groups of peer indexes from each other (`[]` heals); with `peers`, returns once they all apply the rules. */
export async function partition (file: string, groups: number[][], peers: LocalPeer[] = []): Promise<void> {
  await writeLinkFaults(file, partitionRules(groups.map(g => g.map(i => `peer-${i}`))), peers)
}

export async function http (peer: LocalPeer, method: string, path: string, body?: string, contentType?: string): Promise<{ status: number, json: Json }> {
  return tryHttp(peer.apiUrl, method, path, body, contentType ?? (path.includes('/kv/') ? 'text/plain' : 'application/json'))
}

export async function apply (peer: LocalPeer, manifest: object): Promise<Json> {
  return waitFor('manifest applied', async () => {
    const r = await http(peer, 'POST', '/v1/manifests', JSON.stringify(manifest))
    return r.status === 201 ? r.json : undefined
  }, { timeoutMs: 30_000 })
}

export async function status (peer: LocalPeer, name: string): Promise<Json | undefined> {
  const r = await http(peer, 'GET', `/v1/services/${name}`)
  return r.status === 200 ? r.json : undefined
}

export function byId (mesh: LocalMesh, peerId: string): LocalPeer {
  const p = mesh.peers.find(x => x.peerId === peerId)
  if (p === undefined) throw new Error(`no peer ${peerId}`)
  return p
}

export async function killHard (peer: LocalPeer): Promise<void> {
  const exited = new Promise<void>(resolve => peer.process!.once('exit', () => { resolve() }))
  peer.process!.kill('SIGKILL')
  await exited
}

/**
 * Waits until `observer` reports the service whole again without `victim`:
 * `want` placed replicas, all live, FullyReplicated True. Returns the status
 * and the ms since `t0`.
 */
export async function waitHealed (observer: LocalPeer, name: string, victim: string, want: number, t0: number, timeoutMs = 60_000): Promise<{ st: Json, ms: number }> {
  const st = await waitFor('the service healed', async () => {
    const s = await status(observer, name)
    if (s === undefined) return undefined
    const ids: string[] = s.replicas.map((r: Json) => r.peerId)
    const full = s.conditions.find((c: Json) => c.type === 'FullyReplicated')?.status === 'True'
    return !ids.includes(victim) && ids.length === want && s.liveReplicas.length === want && full ? s : undefined
  }, { timeoutMs, intervalMs: 100 })
  return { st, ms: performance.now() - t0 }
}
