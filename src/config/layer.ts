/**
 * A config layer: the partial config one source supplies (file, env, flags),
 * with a way to name the source of each field. Layers are checked one by
 * one, so an error always names the source that supplied the bad value.
 */
import net from 'node:net'
import path from 'node:path'
import { ConfigError, show } from './errors.js'
import { looksLikeMultiaddr, parseMultiaddr, parsePeerMultiaddr } from './multiaddrs.js'
import { loadRttMatrix, parseRttMatrix } from './rtt-matrix.js'
import { formatPath } from './validate.js'
import type { FieldPath, SchemaChecker, SourceOf } from './validate.js'

export interface ConfigLayer {
  /** 'file', 'env' or 'flags' */
  kind: string
  /** nested partial config */
  values: Record<string, unknown>
  /** who supplied the value at a path */
  sourceOf: SourceOf
  /** relative paths in this layer are resolved against this directory */
  baseDir: string
}

/** Sections merged key by key; everything else (lists, rtt matrix) is replaced whole. */
const SECTIONS = new Set(['api', 'dht', 'gossip', 'simulation', 'resources', 'latency', 'services', 'scheduler', 'telemetry', 'nat'])

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/

/**
 * Schema-checks a layer, then the checks a schema cannot express
 * (multiaddrs, host names, RTT matrix), and normalises paths and the RTT
 * matrix in place (a path becomes the loaded matrix).
 */
export async function checkLayer (layer: ConfigLayer, schema: SchemaChecker): Promise<void> {
  schema.check(layer.values, layer.sourceOf)
  const v = layer.values
  const fail = (p: FieldPath, reason: string): never => {
    throw new ConfigError('CONFIG_INVALID', formatPath(p), reason, layer.sourceOf(p))
  }

  if (typeof v.dataDir === 'string') {
    if (v.dataDir.includes('\0')) fail(['dataDir'], 'must not contain NUL characters')
    v.dataDir = path.resolve(layer.baseDir, v.dataDir)
  }
  for (const key of ['listen', 'announce'] as const) {
    const list = v[key] as string[] | undefined
    list?.forEach((text, i) => {
      const parsed = parseMultiaddr(text)
      if (!parsed.ok) fail([key, i], parsed.reason)
    })
  }
  const bootstrap = v.bootstrap as string[] | undefined
  if (bootstrap != null) {
    v.bootstrap = bootstrap.map((entry, i) => {
      if (looksLikeMultiaddr(entry)) {
        const parsed = parsePeerMultiaddr(entry)
        if (!parsed.ok) fail(['bootstrap', i], parsed.reason)
        return entry
      }
      if (entry.includes('\0')) fail(['bootstrap', i], 'must not contain NUL characters')
      // anything else names a bootstrap JSON file, relative to this layer's directory
      return path.resolve(layer.baseDir, entry)
    })
  }
  const credentials = v.credentials as string[] | undefined
  if (credentials != null) {
    v.credentials = credentials.map((entry, i) => {
      if (entry.includes('\0')) fail(['credentials', i], 'must not contain NUL characters')
      return path.resolve(layer.baseDir, entry)
    })
  }
  if (typeof v.trustAnchors === 'string' && v.trustAnchors !== '') {
    if (v.trustAnchors.includes('\0')) fail(['trustAnchors'], 'must not contain NUL characters')
    v.trustAnchors = path.resolve(layer.baseDir, v.trustAnchors)
  }
  const logExport = (v.telemetry as { logExport?: { file?: unknown } } | undefined)?.logExport
  if (typeof logExport?.file === 'string') {
    if (logExport.file.includes('\0')) fail(['telemetry', 'logExport', 'file'], 'must not contain NUL characters')
    logExport.file = path.resolve(layer.baseDir, logExport.file)
  }
  const api = v.api as Record<string, unknown> | undefined
  if (typeof api?.host === 'string' && net.isIP(api.host) === 0 && !HOSTNAME.test(api.host)) {
    fail(['api', 'host'], `must be an IP address or a host name (got ${show(api.host)})`)
  }
  const simulation = v.simulation as Record<string, unknown> | undefined
  if (typeof simulation?.faultsFile === 'string') {
    if (simulation.faultsFile.includes('\0')) fail(['simulation', 'faultsFile'], 'must not contain NUL characters')
    // the file may not exist yet: a missing file means no faults
    simulation.faultsFile = path.resolve(layer.baseDir, simulation.faultsFile)
  }
  if (simulation?.rtt !== undefined) {
    const field = ['simulation', 'rtt']
    const rtt = simulation.rtt
    if (typeof rtt === 'string') {
      if (rtt === '') fail(field, 'must be an RTT matrix or a file path (got "")')
      simulation.rtt = await loadRttMatrix(path.resolve(layer.baseDir, rtt), { field })
    } else {
      simulation.rtt = parseRttMatrix(rtt, { field, source: layer.sourceOf(field) })
    }
  }
}

export interface MergedConfig {
  values: Record<string, unknown>
  /** formatted field path -> source, for every field a layer supplied */
  provenance: Map<string, string>
}

/** Merges layers in order (later wins), recording who supplied each field. */
export function mergeLayers (base: Record<string, unknown>, layers: ConfigLayer[]): MergedConfig {
  const values: Record<string, unknown> = structuredClone(base)
  const provenance = new Map<string, string>()
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.values)) {
      if (value === undefined) continue
      if (SECTIONS.has(key) && isPlainObject(value)) {
        const section = isPlainObject(values[key]) ? values[key] : {}
        for (const [sub, subValue] of Object.entries(value)) {
          if (subValue === undefined) continue
          section[sub] = subValue
          provenance.set(formatPath([key, sub]), layer.sourceOf([key, sub]))
        }
        values[key] = section
      } else {
        values[key] = value
        provenance.set(formatPath([key]), layer.sourceOf([key]))
      }
    }
  }
  return { values, provenance }
}

/** sourceOf over a merged config: the longest recorded prefix, else 'default'. */
export function provenanceSourceOf (provenance: Map<string, string>): SourceOf {
  return (p: FieldPath) => {
    for (let n = p.length; n > 0; n--) {
      const s = provenance.get(formatPath(p.slice(0, n)))
      if (s != null) return s
    }
    return 'default'
  }
}

export function isPlainObject (v: unknown): v is Record<string, unknown> {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}
