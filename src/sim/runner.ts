/**
 * `dcis sim run`: builds the lab network, starts every peer as a real
 * `dcis start` process, waits for the mesh, plays the fault timeline while
 * the workload runs and an observer samples every peer, heals, lets the
 * mesh settle, runs the checks, writes report.json + report.html and tears
 * everything down (also on SIGINT/SIGTERM; `dcis sim clean` after a crash).
 */
import { spawnSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { loadOrCreateIdentity } from '../identity/index.js'
import { VERSION } from '../node/version.js'
import { LabClient, ok } from './client.js'
import { LinkState, timeline, writeLinkFaults } from './faults.js'
import { dropState, processStart, saveState } from './labstate.js'
import { LoopbackNetwork } from './loopback.js'
import { NetnsNetwork, netnsProblem } from './netns.js'
import { PeerSet } from './peers.js'
import { buildReport } from './report.js'
import { renderHtml } from './html.js'
import { Workload, counterBounds, sleep } from './workload.js'
import type { LabState } from './labstate.js'
import type { LabNetwork } from './network.js'
import type { SimPeer } from './peers.js'
import type { Scenario } from './scenario.js'
import type { TimedEvent } from './faults.js'
import type { SimReport } from './report.js'

export interface RunOptions {
  outDir: string
  /** the command that runs the CLI: [executable, ...args] */
  command: string[]
  network?: 'auto' | 'netns' | 'loopback'
  log?: (line: string) => void
  /** aborts the run (Ctrl-C); teardown still happens */
  signal?: AbortSignal
}

export interface Observations {
  /** t (ms since t0) when each observer first listed each subject after the subject's latest start */
  endSeen: Array<{ observer: string, subject: string, ms: number }>
  registry: Array<{ t: number, fraction: number, live: number }>
  counters: Array<{ t: number, fraction: number }>
  staleness: number[]
  resources: Array<{ t: number, peer: string, cpuPct: number | null, rssMb: number }>
}

export interface FaultWindow { kind: string, label: string, from: number, to: number | null }

export interface RunRecord {
  scenario: Scenario
  network: LabNetwork
  peers: SimPeer[]
  t0Wall: number
  readyMs: number
  events: Array<{ t: number, action: string, detail: string }>
  windows: FaultWindow[]
  obs: Observations
  workload: Workload
  finalCounters: Array<{ key: string, values: Record<string, number | null> }>
  settledMs: number | null
  emulator: { linkFaults: boolean, rtt: boolean }
  versions: Record<string, string>
  /** GET /v1/nat and /v1/latency of every peer at the end (scenarios with nat or relay sites) */
  nat?: NatSample[]
}

export interface NatSample { peer: string, nat: unknown, latency: unknown }

function emulatorFlags (command: string[]): { site: boolean } {
  const [cmd, ...rest] = command
  const r = spawnSync(cmd, [...rest, 'start', '--help'], { encoding: 'utf8', timeout: 30_000 })
  return { site: (r.stdout ?? '').includes('--link-faults') && (r.stdout ?? '').includes('--site') }
}

export async function runScenario (scenario: Scenario, opts: RunOptions): Promise<SimReport> {
  const log = opts.log ?? ((l: string) => { process.stderr.write(`dcis sim: ${l}\n`) })
  const spec = scenario.spec
  const out = resolve(opts.outDir)
  await mkdir(out, { recursive: true })

  const mode = opts.network ?? spec.network ?? 'auto'
  let network: LabNetwork
  if (mode === 'loopback') {
    network = new LoopbackNetwork('asked for')
  } else {
    const problem = await netnsProblem()
    if (problem == null) network = new NetnsNetwork()
    else if (mode === 'netns') throw new Error(`network namespaces unavailable: ${problem}`)
    else network = new LoopbackNetwork(problem)
  }
  const runId = network instanceof NetnsNetwork ? network.state.runId : `lo${process.pid}`
  const state: LabState = network instanceof NetnsNetwork ? network.state : { runId, runner: process.pid, namespaces: [], pids: [] }
  log(`${spec.name}: ${scenario.peers.length} peers, ${network.kind} network (run ${runId}), output in ${out}`)
  for (const l of network.limits) log(`note: ${l}`)

  const flags = emulatorFlags(opts.command)
  const emulator = { linkFaults: flags.site, rtt: scenario.rttMatrix != null || scenario.perPeerRtt != null }
  if (!flags.site) log('note: this dcis has no --site/--link-faults: latency changes are skipped and (on loopback) cuts cannot be made')

  // emulator inputs: a matrix over peer names (sites), one rule file
  const faultsFile = join(out, 'link-faults.json')
  writeLinkFaults(faultsFile, [])
  let matrixFile: string | undefined
  if (emulator.rtt) {
    matrixFile = join(out, 'rtt-matrix.json')
    // a region matrix as is; a per-peer matrix over the peers' names (each peer is its own region then)
    const matrix = scenario.rttMatrix ?? { regions: scenario.peers.map(p => p.region), rttMs: scenario.perPeerRtt! }
    await writeFile(matrixFile, JSON.stringify({ name: `${spec.name}-rtt`, ...matrix }))
  }
  const extraArgs = (): string[] => {
    const a: string[] = []
    if (matrixFile != null) a.push('--rtt-matrix', matrixFile)
    if (flags.site) a.push('--link-faults', faultsFile)
    return a
  }

  const runner = await loadOrCreateIdentity(join(out, 'runner'))
  const client = new LabClient(runner)
  const started = performance.now()
  let t0 = Infinity
  const now = (): number => performance.now() - started - (Number.isFinite(t0) ? t0 : 0)
  const peers = new PeerSet({
    dir: out,
    network,
    command: opts.command,
    logLevel: spec.logLevel ?? 'warn',
    runnerDid: runner.did,
    extraArgs: (p) => [...extraArgs(), ...(flags.site ? ['--site', p.name] : [])],
    now,
    onSpawn: (pid) => { state.pids.push({ pid, start: processStart(pid) }); saveState(state) }
  })

  let torn = false
  const teardown = async (): Promise<void> => {
    if (torn) return
    torn = true
    await peers.stopAll().catch(() => {})
    await network.teardown().catch((err: Error) => { log(`teardown: ${err.message}`) })
    dropState(runId)
  }
  const onSignal = (sig: string): void => {
    log(`${sig}: tearing down`)
    teardown().then(() => { process.exit(130) }, () => { process.exit(130) })
  }
  const sigint = (): void => { onSignal('SIGINT') }
  const sigterm = (): void => { onSignal('SIGTERM') }
  process.on('SIGINT', sigint)
  process.on('SIGTERM', sigterm)

  const events: RunRecord['events'] = []
  const windows: FaultWindow[] = []
  const obs: Observations = { endSeen: [], registry: [], counters: [], staleness: [], resources: [] }
  const workload = new Workload(scenario, client, () => peers.peers.filter(p => p.up), now)
  try {
    saveState(state)
    await network.setup(scenario.peers)
    await peers.prepare(scenario.peers)
    const observer = new Observer(client, peers, obs, workload, now)
    const initial = peers.peers.filter(p => p.plan.joinAt === 0)
    for (const p of initial) await peers.spawn(p)
    log(`started ${initial.length} peers; waiting for every registry to list all of them`)
    const readyBy = Date.now() + (spec.readyTimeout ?? 120) * 1000
    while (true) {
      checkAbort(opts.signal)
      const t = now()
      const lists = await Promise.all(initial.map(async p => registryOf(client, p)))
      observer.seen(initial, lists, t)
      if (lists.every(l => l != null && initial.every(q => l.has(q.peerId)))) break
      const dead = initial.filter(p => !p.up)
      if (dead.length > 0) throw new Error(`peer ${dead[0].plan.name} exited during startup; see ${dead[0].logFile}`)
      if (Date.now() > readyBy) throw new Error(`the mesh was not connected within ${spec.readyTimeout ?? 120} s (${lists.filter(l => l != null && l.size >= initial.length).length}/${initial.length} peers list everyone)`)
      await sleep(500)
    }
    const readyMs = performance.now() - started
    log(`mesh ready after ${(readyMs / 1000).toFixed(1)} s; workload setup`)
    await workload.setup()
    for (const e of workload.results.setupErrors) log(`workload: ${e}`)
    t0 = performance.now() - started
    for (const p of peers.peers) {
      if (p.startedAt != null) p.startedAt -= t0
      if (p.upAt != null) p.upAt -= t0
    }

    const links = new LinkState()
    const applyLinks = async (): Promise<void> => {
      if (network.enforcesBlocks) await network.setBlocks(links.blocks())
      if (flags.site) writeLinkFaults(faultsFile, links.rules(!network.enforcesBlocks))
    }
    const openWindow = (kind: string, label: string): void => { windows.push({ kind, label, from: now(), to: null }) }
    const closeWindows = (match: (w: FaultWindow) => boolean): void => { for (const w of windows) if (w.to == null && match(w)) w.to = now() }
    const apply = async (ev: TimedEvent): Promise<void> => {
      const names = (ps?: Array<{ name: string }>): string => (ps ?? []).map(p => p.name).join(',')
      const detail = ev.groups != null ? ev.groups.map(g => names(g)).join(' | ') : ev.from != null ? `${names(ev.from)} -> ${names(ev.to)}${ev.delayMs != null ? ` +${ev.delayMs} ms` : ''}` : names(ev.peers)
      events.push({ t: now(), action: ev.action, detail })
      log(`t=${(now() / 1000).toFixed(1)} s ${ev.action} ${detail}`)
      const sim = (ps: Array<{ name: string }>): SimPeer[] => ps.map(p => peers.byName(p.name)!)
      switch (ev.action) {
        case 'kill':
        case 'stop':
          for (const p of sim(ev.peers!)) { openWindow(ev.action, `${ev.action} ${p.plan.name}`); await peers.halt(p, ev.action === 'kill' ? 'SIGKILL' : 'SIGTERM') }
          break
        case 'restart':
        case 'join':
          for (const p of sim(ev.peers!)) { closeWindows(w => w.label.endsWith(` ${p.plan.name}`) && (w.kind === 'kill' || w.kind === 'stop')); await peers.spawn(p) }
          break
        case 'partition': links.partition(ev.groups!); openWindow('partition', `partition ${detail}`); await applyLinks(); break
        case 'loss': links.loss(ev.from!, ev.to!); openWindow('loss', `loss ${detail}`); await applyLinks(); break
        case 'heal': links.heal(); closeWindows(w => w.kind === 'partition' || w.kind === 'loss'); await applyLinks(); break
        case 'latency':
          if (!flags.site) { log('  skipped: no link-fault support in this dcis'); break }
          links.delay(ev.from!, ev.to!, ev.delayMs!); openWindow('latency', `latency ${detail}`); await applyLinks(); break
      }
    }

    const durationMs = spec.duration * 1000
    let sampled = false
    const sampling = observer.run(() => sampled || torn)
    workload.start()
    for (const ev of timeline(scenario)) {
      while (now() < ev.at * 1000) {
        checkAbort(opts.signal)
        await sleep(Math.min(250, ev.at * 1000 - now()))
      }
      await apply(ev)
    }
    while (now() < durationMs) {
      checkAbort(opts.signal)
      await sleep(Math.min(250, durationMs - now()))
    }
    log(`t=${(now() / 1000).toFixed(1)} s workload done; healing every cut and restarting stopped peers`)
    await workload.stop()
    if (links.cut) events.push({ t: now(), action: 'heal', detail: 'end of run' })
    links.clear()
    closeWindows(() => true)
    await applyLinks()
    for (const p of peers.peers) if (!p.up) await peers.spawn(p)

    // settle: every registry lists everyone and every counter agrees on every peer
    const endAt = now()
    const settleBy = endAt + (spec.settle ?? 20) * 1000
    let settledMs: number | null = null
    let finalCounters: RunRecord['finalCounters'] = []
    while (now() < settleBy) {
      const lists = await Promise.all(peers.peers.map(async p => registryOf(client, p)))
      const regOk = lists.every(l => l != null && peers.peers.every(q => l.has(q.peerId)))
      finalCounters = await readCounters(client, peers.peers, workload)
      if (regOk && countersAgree(finalCounters, workload)) { settledMs = now() - endAt; break }
      await sleep(1000)
    }
    log(settledMs != null ? `settled ${(settledMs / 1000).toFixed(1)} s after the end` : 'did not settle within the settle time')
    sampled = true
    await sampling
    const natSites = spec.sites.some(s => s.nat === true || s.relay === true)
    const nat = natSites ? await Promise.all(peers.peers.filter(p => p.up).map(async p => sampleNat(client, p))) : undefined

    const record: RunRecord = {
      scenario, network, peers: peers.peers, t0Wall: Date.now() - now(), readyMs, events, windows, obs, workload, finalCounters, settledMs, emulator, nat,
      versions: { dcis: VERSION, node: spawnSync(opts.command[0], ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? process.version, runnerNode: process.version, platform: `${process.platform} ${process.arch}`, kernel: spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout?.trim() ?? '' }
    }
    const report = buildReport(record)
    await writeFile(join(out, 'report.json'), JSON.stringify(report, null, 1))
    await writeFile(join(out, 'report.html'), renderHtml(report))
    log(`report: ${join(out, 'report.html')}`)
    return report
  } finally {
    await workload.stop().catch(() => {})
    await teardown()
    process.off('SIGINT', sigint)
    process.off('SIGTERM', sigterm)
  }
}

function checkAbort (signal?: AbortSignal): void {
  if (signal?.aborted === true) throw new Error('aborted')
}

async function registryOf (client: LabClient, peer: SimPeer): Promise<Set<string> | null> {
  if (!peer.up) return null
  const r = await client.call(peer, 'GET', '/v1/registry/nodes', undefined, undefined, 5000)
  if (!ok(r)) return null
  return new Set(((r.json as { nodes?: Array<{ peerId: string }> })?.nodes ?? []).map(n => n.peerId))
}

async function sampleNat (client: LabClient, peer: SimPeer): Promise<NatSample> {
  const [n, l] = await Promise.all([client.call(peer, 'GET', '/v1/nat', undefined, undefined, 5000), client.call(peer, 'GET', '/v1/latency', undefined, undefined, 5000)])
  return { peer: peer.plan.name, nat: ok(n) ? n.json : null, latency: ok(l) ? l.json : null }
}

function counterKeys (w: Workload): Array<{ service: string, key: string }> {
  const out: Array<{ service: string, key: string }> = []
  const e = w.results.eventual
  if (e != null) for (const k of e.keys) out.push({ service: e.service, key: k })
  const p = w.results.pipeline
  if (p != null) out.push({ service: p.service, key: p.key })
  return out
}

async function readCounters (client: LabClient, peers: SimPeer[], w: Workload): Promise<RunRecord['finalCounters']> {
  const out: RunRecord['finalCounters'] = []
  for (const { service, key } of counterKeys(w)) {
    const values: Record<string, number | null> = {}
    await Promise.all(peers.map(async p => {
      const r = await client.call(p, 'GET', `/v1/services/${service}/counters/${key}`, undefined, undefined, 5000)
      values[p.plan.name] = ok(r) ? (r.json as { value: number }).value : null
    }))
    out.push({ key: `${service}/${key}`, values })
  }
  return out
}

function countersAgree (cs: RunRecord['finalCounters'], w: Workload): boolean {
  return cs.every(c => {
    const vs = Object.values(c.values)
    if (vs.some(v => v == null)) return false
    const { acked, unknown } = counterBounds(w, c.key)
    return new Set(vs).size === 1 && vs[0]! >= acked && vs[0]! <= acked + unknown
  })
}

/** Samples registries, counters and /proc while the run goes on. */
class Observer {
  private readonly seenSince = new Map<string, number>()
  constructor (private readonly client: LabClient, private readonly peers: PeerSet, private readonly obs: Observations, private readonly workload: Workload, private readonly now: () => number) {}

  /**
   * Notes when each observer first lists each subject after the subject's
   * API came up (END propagation: from the first sample in which the
   * subject answers to the first in which the observer lists it); returns
   * the fraction of live pairs listed.
   */
  seen (observers: SimPeer[], lists: Array<Set<string> | null>, t: number): number {
    const live = this.peers.peers.filter(p => p.up)
    let have = 0
    let want = 0
    observers.forEach((p, i) => { if (lists[i] != null && p.upAt == null) p.upAt = t })
    observers.forEach((p, i) => {
      const l = lists[i]
      for (const q of live) {
        want++
        if (l?.has(q.peerId) !== true) continue
        have++
        const k = `${p.plan.name}>${q.plan.name}@${q.spawns}`
        if (!this.seenSince.has(k) && q !== p && q.upAt != null) {
          this.seenSince.set(k, t)
          this.obs.endSeen.push({ observer: p.plan.name, subject: q.plan.name, ms: Math.max(0, t - q.upAt) })
        }
      }
    })
    return want === 0 ? 0 : have / want
  }

  async run (done: () => boolean): Promise<void> {
    const all = this.peers.peers
    const interval = Math.max(1000, 100 * all.length)
    while (!done()) {
      const t = this.now()
      const live = all.filter(p => p.up)
      const lists = await Promise.all(live.map(async p => registryOf(this.client, p)))
      this.obs.registry.push({ t, fraction: this.seen(live, lists, t), live: live.length })
      // counters: fraction of live peers whose value is at least the acknowledged total; staleness per read
      const keys = counterKeys(this.workload)
      if (keys.length > 0 && live.length > 0) {
        let fresh = 0
        let total = 0
        const writes = [...(this.workload.results.eventual?.writes ?? []), ...(this.workload.results.pipeline?.writes ?? [])]
        await Promise.all(live.flatMap(p => keys.map(async ({ service, key }) => {
          const readAt = this.now()
          const r = await this.client.call(p, 'GET', `/v1/services/${service}/counters/${key}`, undefined, undefined, 3000)
          total++
          if (!ok(r)) return
          const v = (r.json as { value: number }).value
          // the oldest acknowledged write (by ack time) not yet reflected in v
          const acked = writes.filter(w => w.acked && w.key === key && w.ret <= readAt).sort((a, b) => a.ret - b.ret)
          let sum = 0
          let staleSince: number | null = null
          for (const w of acked) { sum += w.delta; if (sum > v && staleSince == null) staleSince = w.ret }
          if (staleSince == null) fresh++
          this.obs.staleness.push(staleSince == null ? 0 : readAt - staleSince)
        })))
        this.obs.counters.push({ t, fraction: total === 0 ? 0 : fresh / total })
      }
      for (const p of live) {
        const s = this.peers.sample(p)
        if (s != null) this.obs.resources.push({ t, peer: p.plan.name, ...s })
      }
      const wait = interval - (this.now() - t)
      if (wait > 0) await sleep(wait)
    }
  }
}
