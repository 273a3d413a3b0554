/**
 * The peers of a run as real `dcis start` processes: identities made up
 * front (so every peer id is known before any process starts), one config
 * file per peer (region, zone, declared resources, the runner's DID as
 * admin), spawn / SIGKILL / SIGTERM / restart, and CPU + RSS from /proc.
 */
import { spawn } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import { loadOrCreateIdentity } from '../identity/index.js'
import { processStart } from './labstate.js'
import type { LabNetwork, PeerEndpoint } from './network.js'
import type { PeerPlan } from './scenario.js'
import type { ChildProcess } from 'node:child_process'

export interface SimPeer {
  plan: PeerPlan
  peerId: string
  did: string
  dataDir: string
  logFile: string
  endpoint: PeerEndpoint
  process?: ChildProcess
  /** pid of the running process, or undefined */
  pid?: number
  up: boolean
  /** ms (run clock) of the last spawn */
  startedAt?: number
  /** ms (run clock) when the API of the latest spawn first answered */
  upAt?: number
  /** how many times it was spawned */
  spawns: number
  /** previous /proc sample for CPU deltas */
  cpuTicks?: { ticks: number, at: number }
}

export interface PeerSetInit {
  dir: string
  network: LabNetwork
  command: string[]
  logLevel: string
  runnerDid: string
  /** extra arguments for every `dcis start` (emulator flags) */
  extraArgs: (peer: PeerPlan) => string[]
  now: () => number
  onSpawn?: (pid: number) => void
}

const TICKS_PER_S = 100

export class PeerSet {
  readonly peers: SimPeer[] = []
  private readonly init: PeerSetInit

  constructor (init: PeerSetInit) {
    this.init = init
  }

  async prepare (plans: PeerPlan[]): Promise<void> {
    for (const plan of plans) {
      const dataDir = join(this.init.dir, 'peers', plan.name)
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      const id = await loadOrCreateIdentity(dataDir)
      const config: Record<string, unknown> = {
        region: plan.region,
        zone: plan.zone,
        logLevel: this.init.logLevel,
        api: { policy: [{ did: this.init.runnerDid, roles: ['admin'] }] }
      }
      if (plan.site.resources != null) config.resources = plan.site.resources
      // NAT traversal (docs/nat.md): NAT'd peers reserve on relays; the
      // others are directly dialable (the lab's 10.x addresses are private
      // ones, which AutoNAT does not test, so the runner says so)
      config.nat = plan.site.nat === true
        ? { reachability: 'private', reservations: plan.site.reservations ?? 2 }
        : { reachability: 'public', relayServer: plan.site.relay === true }
      if (this.init.network.endpoint(plan).noListen === true) config.listen = []
      await writeFile(join(dataDir, 'config.yaml'), toYaml(config))
      this.peers.push({ plan, peerId: id.peerId.toString(), did: id.did, dataDir, logFile: join(dataDir, 'node.log'), endpoint: this.init.network.endpoint(plan), up: false, spawns: 0 })
    }
  }

  byName (name: string): SimPeer | undefined {
    return this.peers.find(p => p.plan.name === name)
  }

  /** bootstrap: the first two dialable peers that are not this one */
  private bootstrapFor (peer: SimPeer): string[] {
    return this.peers.filter(p => p !== peer && p.endpoint.dialAddr != null).slice(0, 2).map(p => `${p.endpoint.dialAddr!}/p2p/${p.peerId}`)
  }

  async spawn (peer: SimPeer): Promise<void> {
    if (peer.up) return
    const e = peer.endpoint
    const args = [
      'start',
      '--config', join(peer.dataDir, 'config.yaml'),
      '--data-dir', peer.dataDir,
      ...(e.noListen === true ? [] : ['--listen', `/ip4/${e.bindHost}/tcp/${e.libp2pPort}`]),
      '--api', `${e.bindHost}:${e.apiPort}`,
      ...this.bootstrapFor(peer).flatMap(b => ['--bootstrap', b]),
      ...this.init.extraArgs(peer.plan)
    ]
    const log = createWriteStream(peer.logFile, { flags: 'a' })
    await new Promise<void>((resolve, reject) => { log.once('open', () => { resolve() }); log.once('error', reject) })
    const [cmd, ...rest] = [...this.init.network.wrap(peer.plan), ...this.init.command]
    const child = spawn(cmd, [...rest, ...args], { stdio: ['ignore', log, log], env: { ...process.env, DCIS_LOG_PRETTY: '0' } })
    child.once('error', () => { /* reported by 'exit' */ })
    peer.process = child
    peer.pid = child.pid
    peer.up = true
    peer.startedAt = this.init.now()
    peer.upAt = undefined
    peer.spawns++
    peer.cpuTicks = undefined
    if (child.pid != null) this.init.onSpawn?.(child.pid)
    child.once('exit', () => {
      log.end()
      if (peer.process === child) { peer.up = false; peer.pid = undefined }
    })
  }

  /** SIGKILL (kill -9) or SIGTERM with a SIGKILL after graceMs; resolves once the process is gone */
  async halt (peer: SimPeer, signal: 'SIGKILL' | 'SIGTERM', graceMs = 15_000): Promise<void> {
    const child = peer.process
    if (child == null || child.exitCode != null || child.signalCode != null) { peer.up = false; return }
    const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
    child.kill(signal)
    const timer = signal === 'SIGTERM' ? setTimeout(() => { child.kill('SIGKILL') }, graceMs) : undefined
    await exited
    if (timer != null) clearTimeout(timer)
    peer.up = false
    peer.pid = undefined
  }

  async stopAll (): Promise<void> {
    await Promise.all(this.peers.map(async p => this.halt(p, 'SIGTERM', 10_000)))
  }

  /** CPU (% of one core since the last sample) and RSS (MiB) of a running peer, from /proc */
  sample (peer: SimPeer): { cpuPct: number | null, rssMb: number } | null {
    if (peer.pid == null) return null
    try {
      const stat = readFileSync(`/proc/${peer.pid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const ticks = Number(f[11]) + Number(f[12]) // utime + stime
      const rssPages = Number(f[21])
      const at = this.init.now()
      let cpuPct: number | null = null
      if (peer.cpuTicks != null && at > peer.cpuTicks.at) cpuPct = ((ticks - peer.cpuTicks.ticks) / TICKS_PER_S) / ((at - peer.cpuTicks.at) / 1000) * 100
      peer.cpuTicks = { ticks, at }
      return { cpuPct, rssMb: rssPages * 4096 / 1048576 }
    } catch {
      return null
    }
  }
}

export { processStart }
