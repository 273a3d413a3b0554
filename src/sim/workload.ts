/**
 * The workload of a scenario, driven through the peers' HTTP APIs at seeded
 * Poisson rates: strong KV puts/gets (history kept for the linearizability
 * check), eventual counter increments (acknowledged totals kept for the
 * exact-convergence check), function invocations, allocations, and the
 * article's sensor pipeline (readings -> sensor-filter -> counter).
 */
import { readFile } from 'node:fs/promises'
import { createPrng } from '../latency/prng.js'
import { ok } from './client.js'
import type { Prng } from '../latency/prng.js'
import type { LabClient, Reply } from './client.js'
import type { HistOp } from './history.js'
import type { SimPeer } from './peers.js'
import type { Scenario } from './scenario.js'

export interface OpRecord { t: number, ms: number, ok: boolean, status: number, error?: string }

export interface CounterWrite { key: string, delta: number, call: number, ret: number, acked: boolean }

export interface WorkloadResults {
  strong?: { service: string, history: HistOp[], ops: OpRecord[] }
  eventual?: { service: string, writes: CounterWrite[], keys: string[] }
  functions?: { id: string, invocations: OpRecord[] }
  allocations?: { requests: OpRecord[] }
  pipeline?: { service: string, functionId: string, invocations: OpRecord[], writes: CounterWrite[], mismatches: number, key: string }
  setupErrors: string[]
}

const STRONG = 'sim-strong'
const EVENTUAL = 'sim-eventual'
const PIPELINE = 'sim-pipeline'

export class Workload {
  readonly results: WorkloadResults = { setupErrors: [] }
  private readonly inflight = new Set<Promise<void>>()
  private stopped = false
  private readonly prng: Prng
  private valueSeq = 0

  constructor (
    private readonly scenario: Scenario,
    private readonly client: LabClient,
    private readonly livePeers: () => SimPeer[],
    /** the run clock (ms since t0) */
    private readonly now: () => number
  ) {
    this.prng = createPrng(scenario.spec.seed ^ 0x5eed)
  }

  private pick (prng: Prng): SimPeer | undefined {
    const live = this.livePeers()
    return live.length === 0 ? undefined : live[prng.int(live.length)]
  }

  private async applyManifest (doc: Record<string, unknown>): Promise<boolean> {
    for (let attempt = 0; attempt < 30 && !this.stopped; attempt++) {
      const peer = this.pick(this.prng)
      if (peer != null) {
        const r = await this.client.call(peer, 'POST', '/v1/manifests', JSON.stringify(doc))
        if (ok(r)) return true
        if (r.status >= 400 && r.status < 500 && r.status !== 404 && r.status !== 409) {
          this.results.setupErrors.push(`manifest ${JSON.stringify((doc.metadata as { name: string }).name)}: ${r.status} ${r.text.slice(0, 200)}`)
          return false
        }
      }
      await sleep(1000)
    }
    this.results.setupErrors.push(`manifest ${JSON.stringify((doc.metadata as { name: string }).name)}: not applied after 30 attempts`)
    return false
  }

  private async waitService (name: string, strong: boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline && !this.stopped) {
      const peer = this.pick(this.prng)
      if (peer != null) {
        const r = await this.client.call(peer, 'GET', `/v1/services/${name}`)
        if (ok(r) && (!strong || (r.json as { leader?: string | null }).leader != null)) return
      }
      await sleep(500)
    }
    this.results.setupErrors.push(`service ${name}: not ready (${strong ? 'no Raft leader' : 'unknown'}) within ${timeoutMs / 1000} s`)
  }

  private async deploy (file: string, name: string, abi: string): Promise<string | undefined> {
    const wasm = await readFile(file)
    for (let attempt = 0; attempt < 20 && !this.stopped; attempt++) {
      const peer = this.pick(this.prng)
      if (peer != null) {
        const r = await this.client.call(peer, 'POST', `/v1/functions?name=${encodeURIComponent(name)}&abi=${abi}`, new Uint8Array(wasm), 'application/wasm', 30_000)
        if (ok(r)) return (r.json as { id: string }).id
        if (r.status >= 400 && r.status < 500) { this.results.setupErrors.push(`deploy ${name}: ${r.status} ${r.text.slice(0, 200)}`); return undefined }
      }
      await sleep(1000)
    }
    this.results.setupErrors.push(`deploy ${name}: failed after 20 attempts`)
    return undefined
  }

  /** manifests and function deploys; before t = 0 of the workload */
  async setup (): Promise<void> {
    const w = this.scenario.spec.workload ?? {}
    if (w.strong != null) {
      const name = w.strong.service ?? STRONG
      if (await this.applyManifest(serviceManifest(name, 'strong', w.strong.replicas ?? 3))) await this.waitService(name, true)
      this.results.strong = { service: name, history: [], ops: [] }
    }
    if (w.eventual != null) {
      const name = w.eventual.service ?? EVENTUAL
      if (await this.applyManifest(serviceManifest(name, 'eventual', w.eventual.replicas ?? 3))) await this.waitService(name, false)
      this.results.eventual = { service: name, writes: [], keys: [...Array(w.eventual.keys ?? 2).keys()].map(i => `c${i}`) }
    }
    if (w.functions != null) {
      const id = await this.deploy(this.scenario.files.functions!, 'sim-fn', w.functions.abi ?? 'wasi')
      if (id != null) this.results.functions = { id, invocations: [] }
    }
    if (w.allocations != null) this.results.allocations = { requests: [] }
    if (w.pipeline != null) {
      const name = w.pipeline.service ?? PIPELINE
      if (await this.applyManifest(serviceManifest(name, 'eventual', 3))) await this.waitService(name, false)
      const id = await this.deploy(this.scenario.files.pipeline!, 'sim-sensor-filter', 'wasi')
      if (id != null) this.results.pipeline = { service: name, functionId: id, invocations: [], writes: [], mismatches: 0, key: 'accepted' }
    }
  }

  /** starts every stream; they run until stop() */
  start (): void {
    const w = this.scenario.spec.workload ?? {}
    if (w.strong != null && this.results.strong != null) this.stream('strong', w.strong.ratePerS, async (prng) => { await this.strongOp(prng, w.strong!.keys ?? 4, w.strong!.readRatio ?? 0.5) })
    if (w.eventual != null && this.results.eventual != null) this.stream('eventual', w.eventual.ratePerS, async (prng) => { await this.counterOp(prng) })
    if (w.functions != null && this.results.functions != null) this.stream('functions', w.functions.ratePerS, async (prng) => { await this.invokeOp(prng, w.functions!.data ?? 'hello') })
    if (w.allocations != null) this.stream('allocations', w.allocations.ratePerS, async (prng) => { await this.allocOp(prng) })
    if (w.pipeline != null && this.results.pipeline != null) this.stream('pipeline', w.pipeline.ratePerS, async (prng) => { await this.pipelineOp(prng) })
  }

  async stop (): Promise<void> {
    this.stopped = true
    while (this.inflight.size > 0) await Promise.all([...this.inflight])
  }

  private stream (name: string, ratePerS: number, op: (prng: Prng) => Promise<void>): void {
    const prng = createPrng((this.scenario.spec.seed + hash(name)) >>> 0)
    const loop = async (): Promise<void> => {
      while (!this.stopped) {
        await sleep(-Math.log(1 - prng.next()) / ratePerS * 1000)
        if (this.stopped) break
        const p: Promise<void> = op(prng).catch(() => { /* ops record their own failures */ }).finally(() => { this.inflight.delete(p) })
        this.inflight.add(p)
      }
    }
    const l: Promise<void> = loop().catch(() => {}).finally(() => { this.inflight.delete(l) })
    this.inflight.add(l)
  }

  private record (list: OpRecord[], call: number, r: Reply, succeeded = ok(r)): void {
    const rec: OpRecord = { t: call, ms: r.ms, ok: succeeded, status: r.status }
    if (!rec.ok) rec.error = r.status === 0 ? 'unreachable or timed out' : `${r.status} ${((r.json as { error?: { code?: string } } | null)?.error?.code) ?? r.text.slice(0, 120)}`
    list.push(rec)
  }

  private async strongOp (prng: Prng, keys: number, readRatio: number): Promise<void> {
    const s = this.results.strong!
    const peer = this.pick(prng)
    if (peer == null) return
    const key = `k${prng.int(keys)}`
    const path = `/v1/services/${s.service}/kv/${key}`
    const client = prng.int(1 << 30)
    if (prng.next() < readRatio) {
      const call = this.now()
      const r = await this.client.call(peer, 'GET', path)
      const ret = this.now()
      // a missing key is an answer (revision 0: before every write), not a failure
      const missing = r.status === 404 && (r.json as { error?: { code?: string } } | null)?.error?.code === 'KEY_NOT_FOUND'
      this.record(s.ops, call, r, ok(r) || missing)
      if (ok(r)) {
        const b = r.json as { value: string, revision: number }
        s.history.push({ kind: 'get', client, key, call, ret, value: b.value, rev: b.revision })
      } else if (missing) {
        s.history.push({ kind: 'get', client, key, call, ret, value: null, rev: 0 })
      }
    } else {
      const value = `v${this.valueSeq++}`
      const call = this.now()
      const r = await this.client.call(peer, 'PUT', path, value, 'text/plain')
      const ret = this.now()
      this.record(s.ops, call, r)
      // a write that failed may still have committed: unknown outcome
      s.history.push(ok(r) ? { kind: 'put', client, key, value, call, ret, rev: (r.json as { revision: number }).revision } : { kind: 'put', client, key, value, call, ret: Infinity })
    }
  }

  private async counterOp (prng: Prng): Promise<void> {
    const e = this.results.eventual!
    const peer = this.pick(prng)
    if (peer == null) return
    const key = e.keys[prng.int(e.keys.length)]
    const delta = 1 + prng.int(5)
    const call = this.now()
    const r = await this.client.call(peer, 'POST', `/v1/services/${e.service}/counters/${key}`, JSON.stringify({ delta }))
    e.writes.push({ key, delta, call, ret: this.now(), acked: ok(r) })
  }

  private async invokeOp (prng: Prng, data: string): Promise<void> {
    const f = this.results.functions!
    const peer = this.pick(prng)
    if (peer == null) return
    const call = this.now()
    this.record(f.invocations, call, await this.client.call(peer, 'POST', `/v1/functions/${f.id}`, data, 'application/octet-stream', 10_000))
  }

  private async allocOp (prng: Prng): Promise<void> {
    const a = this.scenario.spec.workload!.allocations!
    const peer = this.pick(prng)
    if (peer == null) return
    const body: Record<string, unknown> = { runtime: 'wasi', constraints: { cpu: a.cpu ?? 0.5, memory: a.memory ?? '64Mi', ...(a.region != null ? { region: a.region } : {}) }, replicas: a.replicas ?? 1 }
    const call = this.now()
    this.record(this.results.allocations!.requests, call, await this.client.call(peer, 'POST', '/v1/allocations', JSON.stringify(body), 'application/json', 10_000))
  }

  private async pipelineOp (prng: Prng): Promise<void> {
    const p = this.results.pipeline!
    const threshold = this.scenario.spec.workload!.pipeline!.threshold
    const peer = this.pick(prng)
    if (peer == null) return
    // ten readings of two sensors; the filter drops those outside [-40, 85] (or [-40, threshold])
    const max = threshold ?? 85
    const events = [...Array(10).keys()].map(i => ({ sensor: `t${i % 2}`, value: Math.round((prng.next() * 160 - 60) * 10) / 10 }))
    const expected = events.filter(e => e.value >= -40 && e.value <= max).length
    const call = this.now()
    const r = await this.client.call(peer, 'POST', `/v1/functions/${p.functionId}`, JSON.stringify({ min: -40, max, events }), 'application/json', 10_000)
    this.record(p.invocations, call, r)
    if (!ok(r)) return
    let accepted: number
    try { accepted = (JSON.parse(r.text) as { accepted: number }).accepted } catch { p.mismatches++; return }
    if (accepted !== expected) p.mismatches++
    if (accepted === 0) return
    const c2 = this.now()
    const w = await this.client.call(peer, 'POST', `/v1/services/${p.service}/counters/${p.key}`, JSON.stringify({ delta: accepted }))
    p.writes.push({ key: p.key, delta: accepted, call: c2, ret: this.now(), acked: ok(w) })
  }
}

function serviceManifest (name: string, mode: 'strong' | 'eventual', replicas: number): Record<string, unknown> {
  const spec: Record<string, unknown> = { replicas, runtime: 'wasi', consistency: mode === 'strong' ? { mode } : { mode, maxStalenessMs: 1000 } }
  if (mode === 'eventual') spec.crdtEngine = 'delta-crdts'
  return { apiVersion: 'edge/v1', kind: 'EdgeStatefulService', metadata: { name }, spec }
}

function hash (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** the acknowledged total and the unknown-outcome total of one counter */
export function counterBounds (w: Workload, fullKey: string): { acked: number, unknown: number } {
  const writes = [...(w.results.eventual?.writes.map(x => ({ ...x, full: `${w.results.eventual!.service}/${x.key}` })) ?? []), ...(w.results.pipeline?.writes.map(x => ({ ...x, full: `${w.results.pipeline!.service}/${x.key}` })) ?? [])]
  let acked = 0
  let unknown = 0
  for (const x of writes) if (x.full === fullKey) { if (x.acked) acked += x.delta; else unknown += x.delta }
  return { acked, unknown }
}
