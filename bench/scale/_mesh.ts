/**
 * Shared helpers of the scale benchmarks: start N real `dcis start`
 * processes on loopback (the `dcis up` layout), read their CPU time and
 * memory from /proc, and read the machine's load (every figure is reported
 * with the load it was measured under: the machine may be shared).
 */
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import { freePortBlock } from '../../test/helpers/ports.js'
import { waitFor } from '../../test/helpers/wait.js'

const dist = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

/**
 * the CLI as the benches run it: `--cli FILE` (another build, e.g. a checkout
 * of main to compare with), else dist/ when built (what users run), else the sources
 */
export function cliCommand (nodeArgs: string[] = []): string[] {
  const other = arg('cli', '')
  if (other !== '') return [process.execPath, ...nodeArgs, resolve(other)]
  return existsSync(dist)
    ? [process.execPath, ...nodeArgs, dist]
    : [process.execPath, ...nodeArgs, '--import', 'tsx', fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))]
}

/** `--name value` and `--name=value` from argv, else the default */
export function arg (name: string, fallback: string): string {
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}` && i + 1 < argv.length) return argv[i + 1]
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3)
  }
  return fallback
}

export function numbers (csv: string): number[] {
  return csv.split(',').filter(s => s !== '').map(Number)
}

const TICKS = 100 // USER_HZ on Linux

/** utime+stime of a process in seconds (/proc/<pid>/stat fields 14 and 15) */
export async function cpuSeconds (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // the command name (field 2) may hold spaces: split after its closing paren
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS
}

export async function rssMiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024
}

export function load (): number[] {
  return loadavg().map(x => Math.round(x * 100) / 100)
}

export function summary (xs: number[]): { mean: number, p50: number, p95: number, min: number, max: number, n: number } {
  const s = [...xs].sort((a, b) => a - b)
  const q = (p: number): number => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]
  const r = (x: number): number => Math.round(x * 1000) / 1000
  return { mean: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)), p50: r(q(0.5)), p95: r(q(0.95)), min: r(s[0]), max: r(s[s.length - 1]), n: s.length }
}

export async function until (what: string, cond: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<void> {
  await waitFor(what, async () => cond().catch(() => false), { timeoutMs, intervalMs })
}

export interface BenchMesh {
  mesh: LocalMesh
  dir: string
  close: () => Promise<void>
}

/**
 * N peers on loopback, started one after another (`stagger` ms apart: a
 * small machine starting 50 peers at once spends minutes at a load of 50+);
 * resolves once spawned
 */
export async function startMesh (nodes: number, opts: { nodeArgs?: string[], extraArgs?: string[], regions?: string[], hold?: number, stagger?: number } = {}): Promise<BenchMesh> {
  const dir = await mkdtemp(join(tmpdir(), 'dcis-scale-'))
  const mesh = new LocalMesh({
    nodes,
    regions: opts.regions ?? ['eu-west', 'us-east', 'ap-south'],
    basePort: await freePortBlock(nodes),
    dataDir: dir,
    logLevel: 'warn',
    command: cliCommand(opts.nodeArgs),
    extraArgs: opts.extraArgs
  })
  await mesh.prepare()
  // the last `hold` peers are prepared (keys, ports) but left for the caller to spawn
  for (const [i, peer] of mesh.peers.slice(0, nodes - (opts.hold ?? 0)).entries()) {
    if (i > 0 && (opts.stagger ?? 0) > 0) await sleep(opts.stagger as number)
    await mesh.spawnPeer(peer)
  }
  return {
    mesh,
    dir,
    close: async () => {
      await mesh.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** every peer answers /readyz 200 */
export async function allReady (mesh: LocalMesh): Promise<boolean> {
  const ok = await Promise.all(mesh.peers.map(async p => (await fetch(`${p.apiUrl}/readyz`, { signal: AbortSignal.timeout(5000) })).ok))
  return ok.every(Boolean)
}

/** every peer's registry holds all N descriptors */
export async function registriesComplete (mesh: LocalMesh): Promise<number> {
  const counts = await Promise.all(mesh.peers.map(async p => {
    const res = await fetch(`${p.apiUrl}/v1/registry/nodes`, { signal: AbortSignal.timeout(5000) })
    if (!res.ok) return 0
    return ((await res.json()) as { nodes: unknown[] }).nodes.length
  }))
  return counts.filter(c => c >= mesh.peers.length).length
}

export const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** a peer's Prometheus text from /metrics, or null when it does not answer within `timeoutMs` */
export async function metricsText (apiUrl: string, timeoutMs = 5000): Promise<string | null> {
  try {
    return await (await fetch(`${apiUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) })).text()
  } catch {
    return null
  }
}

/**
 * Gossip health of every peer, scraped from /metrics: the END topic's mesh
 * size and subscribed neighbours, and neighbours below gossipsub's graylist
 * / publish thresholds (summed over peers). Where it cannot be read, null.
 */
export async function gossipHealth (mesh: LocalMesh, topic = 'dcis/end/1'): Promise<{ meshPeers: ReturnType<typeof summary>, topicPeers: ReturnType<typeof summary>, belowPublish: number, belowGraylist: number } | null> {
  const per = await Promise.all(mesh.peers.map(async p => {
    const text = await metricsText(p.apiUrl)
    if (text == null) return null
    const g = (name: string, label: string): number => Number(new RegExp(`^${name}\\{${label}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
    return {
      mesh: g('dcis_gossip_mesh_peers', `topic="${topic}"`),
      topic: g('dcis_gossip_topic_peers', `topic="${topic}"`),
      publish: g('dcis_gossip_peers_below_threshold', 'threshold="publish"'),
      graylist: g('dcis_gossip_peers_below_threshold', 'threshold="graylist"')
    }
  }))
  const ok = per.filter((x): x is NonNullable<typeof x> => x != null && !Number.isNaN(x.mesh))
  if (ok.length === 0) return null
  return {
    meshPeers: summary(ok.map(x => x.mesh)),
    topicPeers: summary(ok.map(x => x.topic)),
    belowPublish: ok.reduce((a, x) => a + x.publish, 0),
    belowGraylist: ok.reduce((a, x) => a + x.graylist, 0)
  }
}
