/**
 * The scenario format: YAML validated against protocols/sim/scenario.schema.json
 * (ajv), then checked for what a schema cannot say (names that must exist,
 * unique names, files that must be readable). The first problem is reported
 * as one ScenarioError naming the field.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { Ajv } from 'ajv'
import { parse as parseYaml } from 'yaml'
import { ScenarioError } from './errors.js'
import type { ErrorObject, ValidateFunction } from 'ajv'

export type FaultAction = 'kill' | 'stop' | 'restart' | 'partition' | 'heal' | 'loss' | 'latency' | 'churn'

export interface SiteSpec {
  name: string
  region: string
  zone?: string
  nat?: boolean
  /** nat sites: the router's port mapping (default preserving) */
  natMapping?: 'preserving' | 'random'
  /** peers serve as circuit relays (nat.relayServer) */
  relay?: boolean
  /** nat sites: relays each peer reserves a slot on */
  reservations?: number
  peers: number
  joinAt?: number
  bandwidth?: string
  resources?: { cpu?: number, memoryMb?: number, arch?: string, tee?: boolean, accelerators?: string[] }
}

export interface FaultSpec {
  at: number
  action: FaultAction
  peers?: string[]
  groups?: string[][]
  from?: string[]
  to?: string[]
  delayMs?: number
  for?: number
  ratePerMin?: number
  down?: number
}

export interface RttMatrixSpec { regions: string[], rttMs: Array<Array<number | null>> }

export interface WorkloadSpec {
  allocations?: { ratePerS: number, cpu?: number, memory?: string, region?: string, replicas?: number }
  functions?: { wasm: string, abi?: 'wasi' | 'reactor', ratePerS: number, data?: string }
  strong?: { service?: string, replicas?: number, ratePerS: number, keys?: number, readRatio?: number }
  eventual?: { service?: string, replicas?: number, ratePerS: number, keys?: number }
  pipeline?: { wasm: string, ratePerS: number, threshold?: number, service?: string }
}

export interface ScenarioSpec {
  name: string
  description?: string
  seed: number
  duration: number
  settle?: number
  network?: 'auto' | 'netns' | 'loopback'
  logLevel?: string
  readyTimeout?: number
  sites: SiteSpec[]
  rtt?: { matrix?: string | RttMatrixSpec, perPeer?: string }
  faults?: FaultSpec[]
  workload?: WorkloadSpec
}

/** One peer of the scenario, expanded from its site. */
export interface PeerPlan {
  /** <site>-<i> */
  name: string
  /** index over all peers (0..n-1), the order of the scenario */
  index: number
  site: SiteSpec
  region: string
  zone: string
  joinAt: number
}

export interface Scenario {
  spec: ScenarioSpec
  /** the file it came from (absolute) */
  file: string
  /** the raw text, kept for the report */
  text: string
  peers: PeerPlan[]
  /** region matrix (resolved from a file or inline), if any */
  rttMatrix?: RttMatrixSpec
  /** per-peer matrix: rows/columns are the peers by index */
  perPeerRtt?: Array<Array<number | null>>
  /** absolute paths of the wasm files of the workload */
  files: { functions?: string, pipeline?: string }
}

let validator: ValidateFunction | undefined

function compiled (): ValidateFunction {
  if (validator == null) {
    const schema = JSON.parse(readFileSync(new URL('../../protocols/sim/scenario.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>
    validator = new Ajv({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true }).compile(schema)
  }
  return validator
}

function fieldOf (path: string): string {
  // /faults/3/groups/0 -> faults[3].groups[0]
  return path.split('/').filter(s => s !== '').map((s, i) => /^\d+$/.test(s) ? `[${s}]` : (i === 0 ? s : `.${s}`)).join('')
}

/** The most useful of ajv's errors, as [field, reason]. */
function reason (errors: ErrorObject[] | null | undefined): [string, string] {
  // a failed oneOf also lists each branch's failure: the oneOf says it better
  const err = errors?.find(e => e.keyword === 'oneOf') ?? errors?.[0]
  if (err == null) return ['', 'is invalid']
  const at = fieldOf(err.instancePath)
  const join = (f: string, k: string): string => at === '' ? k : `${f}.${k}`
  switch (err.keyword) {
    case 'additionalProperties': return [join(at, (err.params as { additionalProperty: string }).additionalProperty), 'unknown field']
    case 'required': return [join(at, (err.params as { missingProperty: string }).missingProperty), 'is required']
    case 'enum': return [at, `must be one of ${(err.params as { allowedValues: unknown[] }).allowedValues.map(v => JSON.stringify(v)).join(', ')}`]
    case 'pattern': return [at, `must match ${(err.params as { pattern: string }).pattern}`]
    case 'oneOf': return [at, at === 'rtt' ? 'give exactly one of matrix, perPeer' : 'must be a file path or an inline matrix {regions, rttMs}']
    default: return [at, err.message ?? 'is invalid']
  }
}

/** Parses and validates scenario text; `file` names it in errors and anchors relative paths. */
export function parseScenario (text: string, file: string): Scenario {
  const label = file
  let doc: unknown
  try {
    doc = parseYaml(text, { maxAliasCount: 100 })
  } catch (err) {
    throw new ScenarioError(label, '', `not valid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
  const validate = compiled()
  if (!validate(doc)) {
    const [field, why] = reason(validate.errors)
    throw new ScenarioError(label, field, why)
  }
  const spec = doc as ScenarioSpec
  const base = dirname(resolve(file))

  // names: sites unique; peer names derived
  const siteNames = new Set<string>()
  spec.sites.forEach((s, i) => {
    if (siteNames.has(s.name)) throw new ScenarioError(label, `sites[${i}].name`, `duplicate site ${JSON.stringify(s.name)}`)
    siteNames.add(s.name)
  })
  const peers: PeerPlan[] = []
  for (const site of spec.sites) {
    for (let i = 0; i < site.peers; i++) {
      peers.push({ name: `${site.name}-${i}`, index: peers.length, site, region: site.region, zone: site.zone ?? `${site.region}-a`, joinAt: site.joinAt ?? 0 })
    }
  }
  const peerNames = new Set(peers.map(p => p.name))
  for (const p of peers) {
    if (siteNames.has(p.name)) throw new ScenarioError(label, 'sites', `peer name ${p.name} is also a site name`)
  }
  if (peers.length > 500) throw new ScenarioError(label, 'sites', `at most 500 peers (got ${peers.length})`)
  if (peers.every(p => p.joinAt > 0)) throw new ScenarioError(label, 'sites', 'at least one site must start at t = 0 (no joinAt)')

  const checkTargets = (field: string, names: string[] | undefined): void => {
    names?.forEach((n, i) => {
      if (!siteNames.has(n) && !peerNames.has(n)) throw new ScenarioError(label, `${field}[${i}]`, `no site or peer named ${JSON.stringify(n)}`)
    })
  }
  spec.faults?.forEach((f, i) => {
    const at = `faults[${i}]`
    if (f.at > spec.duration) throw new ScenarioError(label, `${at}.at`, `is after the end of the run (duration ${spec.duration} s)`)
    checkTargets(`${at}.peers`, f.peers)
    checkTargets(`${at}.from`, f.from)
    checkTargets(`${at}.to`, f.to)
    f.groups?.forEach((g, j) => { checkTargets(`${at}.groups[${j}]`, g) })
    if (f.action === 'partition') {
      const seen = new Map<string, number>()
      f.groups!.forEach((g, j) => {
        for (const p of expandTargets(peers, g)) {
          if (seen.has(p.name) && seen.get(p.name) !== j) throw new ScenarioError(label, `${at}.groups[${j}]`, `peer ${p.name} is in two groups`)
          seen.set(p.name, j)
        }
      })
    }
  })

  let rttMatrix: RttMatrixSpec | undefined
  let perPeerRtt: Array<Array<number | null>> | undefined
  if (spec.rtt?.matrix !== undefined) {
    const m = typeof spec.rtt.matrix === 'string' ? readJson(label, 'rtt.matrix', resolve(base, spec.rtt.matrix)) : spec.rtt.matrix
    rttMatrix = checkRegionMatrix(label, m)
    for (const s of spec.sites) {
      if (!rttMatrix.regions.includes(s.region)) throw new ScenarioError(label, 'rtt.matrix.regions', `has no region ${JSON.stringify(s.region)} (site ${s.name})`)
    }
  }
  if (spec.rtt?.perPeer !== undefined) {
    const m = readJson(label, 'rtt.perPeer', resolve(base, spec.rtt.perPeer)) as { rtt?: unknown }
    if (!Array.isArray(m.rtt)) throw new ScenarioError(label, 'rtt.perPeer', 'file has no "rtt" array of rows')
    const rows = m.rtt as unknown[]
    if (rows.length < peers.length) throw new ScenarioError(label, 'rtt.perPeer', `file has ${rows.length} nodes, the scenario ${peers.length} peers`)
    // the emulator delays by region: with a per-peer matrix every peer is its own region
    for (const p of peers) p.region = p.name
    perPeerRtt = peers.map((_, i) => {
      const row = rows[i]
      if (!Array.isArray(row) || row.length < peers.length) throw new ScenarioError(label, 'rtt.perPeer', `row ${i} is not an array of at least ${peers.length} entries`)
      return peers.map((__, j) => {
        const v = (row as unknown[])[j]
        if (v === null) return null
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 60_000) throw new ScenarioError(label, 'rtt.perPeer', `rtt[${i}][${j}] must be null or 0..60000 ms`)
        return i === j ? 0 : v
      })
    })
  }

  const files: Scenario['files'] = {}
  if (spec.workload?.functions != null) files.functions = readable(label, 'workload.functions.wasm', resolve(base, spec.workload.functions.wasm))
  if (spec.workload?.pipeline != null) files.pipeline = readable(label, 'workload.pipeline.wasm', resolve(base, spec.workload.pipeline.wasm))
  return { spec, file: resolve(file), text, peers, rttMatrix, perPeerRtt, files }
}

export function loadScenario (file: string): Scenario {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ScenarioError(file, '', `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  return parseScenario(text, file)
}

/** Site names expand to their peers; peer names to themselves (order kept, no duplicates). */
export function expandTargets (peers: PeerPlan[], names: string[]): PeerPlan[] {
  const out: PeerPlan[] = []
  for (const n of names) {
    for (const p of peers) {
      if ((p.name === n || p.site.name === n) && !out.includes(p)) out.push(p)
    }
  }
  return out
}

function readJson (label: string, field: string, path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new ScenarioError(label, field, `cannot read JSON from ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message.split('\n')[0]}`)
  }
}

function readable (label: string, field: string, path: string): string {
  try {
    readFileSync(path)
  } catch (err) {
    throw new ScenarioError(label, field, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  return path
}

function checkRegionMatrix (label: string, m: unknown): RttMatrixSpec {
  const o = m as { regions?: unknown, rttMs?: unknown }
  if (!Array.isArray(o?.regions) || !o.regions.every(r => typeof r === 'string')) throw new ScenarioError(label, 'rtt.matrix.regions', 'must be an array of region names')
  const n = o.regions.length
  if (!Array.isArray(o.rttMs) || o.rttMs.length !== n) throw new ScenarioError(label, 'rtt.matrix.rttMs', `must have ${n} rows`)
  o.rttMs.forEach((row: unknown, i: number) => {
    if (!Array.isArray(row) || row.length !== n || !row.every(v => v === null || (typeof v === 'number' && v >= 0 && v <= 60_000))) {
      throw new ScenarioError(label, `rtt.matrix.rttMs[${i}]`, `must be ${n} numbers of milliseconds (or null)`)
    }
  })
  return { regions: o.regions as string[], rttMs: o.rttMs as Array<Array<number | null>> }
}
