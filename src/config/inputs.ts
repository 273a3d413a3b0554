/**
 * The explicit table of environment variables and command-line flags, and
 * how each becomes a config layer. Kept in one place so the docs
 * (docs/configuration.md) and the code cannot drift apart silently.
 */
import { ConfigError, show } from './errors.js'
import { formatPath } from './validate.js'
import type { FieldPath } from './validate.js'
import type { ConfigLayer } from './layer.js'
import type { ConfigLogLevel } from './schema.js'

/** How a text value is turned into a config value. */
export type InputKind = 'string' | 'list' | 'bool' | 'int' | 'hostport'

export interface InputSpec {
  /** target field */
  path: FieldPath
  kind: InputKind
  /** environment variable, if any */
  env?: string
  /** key in ConfigFlags and the CLI flag, if any */
  flag?: { key: keyof ConfigFlags, name: string }
}

/** Flags as the CLI passes them (mirrors `dcis start` in DESIGN.md). */
export interface ConfigFlags {
  config?: string
  dataDir?: string
  listen?: string[]
  announce?: string[]
  /** host:port */
  api?: string
  bootstrap?: string[]
  region?: string
  zone?: string
  trustLoopback?: boolean
  /** RTT matrix JSON file */
  rttMatrix?: string
  /** site name for link faults */
  site?: string
  /** link faults JSON file */
  linkFaults?: string
  logLevel?: ConfigLogLevel
  federation?: string
  /** credential files (repeatable --credential) */
  credentials?: string[]
  trustAnchors?: string
}

/** The config file: env DCIS_CONFIG or flag --config (not a config field itself). */
export const CONFIG_FILE_ENV = 'DCIS_CONFIG'

export const INPUTS: readonly InputSpec[] = [
  { path: ['dataDir'], kind: 'string', env: 'DCIS_DATA_DIR', flag: { key: 'dataDir', name: '--data-dir' } },
  { path: ['region'], kind: 'string', env: 'DCIS_REGION', flag: { key: 'region', name: '--region' } },
  { path: ['zone'], kind: 'string', env: 'DCIS_ZONE', flag: { key: 'zone', name: '--zone' } },
  { path: ['listen'], kind: 'list', env: 'DCIS_LISTEN', flag: { key: 'listen', name: '--listen' } },
  { path: ['announce'], kind: 'list', env: 'DCIS_ANNOUNCE', flag: { key: 'announce', name: '--announce' } },
  { path: ['api'], kind: 'hostport', env: 'DCIS_API', flag: { key: 'api', name: '--api' } },
  { path: ['api', 'trustLoopback'], kind: 'bool', env: 'DCIS_TRUST_LOOPBACK', flag: { key: 'trustLoopback', name: '--trust-loopback' } },
  { path: ['bootstrap'], kind: 'list', env: 'DCIS_BOOTSTRAP', flag: { key: 'bootstrap', name: '--bootstrap' } },
  { path: ['federation'], kind: 'string', env: 'DCIS_FEDERATION', flag: { key: 'federation', name: '--federation' } },
  { path: ['credentials'], kind: 'list', env: 'DCIS_CREDENTIALS', flag: { key: 'credentials', name: '--credential' } },
  { path: ['trustAnchors'], kind: 'string', env: 'DCIS_TRUST_ANCHORS', flag: { key: 'trustAnchors', name: '--trust-anchors' } },
  { path: ['logLevel'], kind: 'string', env: 'DCIS_LOG_LEVEL', flag: { key: 'logLevel', name: '--log-level' } },
  { path: ['simulation', 'rtt'], kind: 'string', env: 'DCIS_RTT_MATRIX', flag: { key: 'rttMatrix', name: '--rtt-matrix' } },
  { path: ['simulation', 'site'], kind: 'string', env: 'DCIS_SITE', flag: { key: 'site', name: '--site' } },
  { path: ['simulation', 'faultsFile'], kind: 'string', env: 'DCIS_LINK_FAULTS', flag: { key: 'linkFaults', name: '--link-faults' } },
  { path: ['dht', 'clientMode'], kind: 'bool', env: 'DCIS_DHT_CLIENT_MODE' },
  { path: ['gossip', 'endRepublishIntervalMs'], kind: 'int', env: 'DCIS_END_REPUBLISH_MS' },
  { path: ['latency', 'probeIntervalMs'], kind: 'int', env: 'DCIS_LATENCY_PROBE_MS' },
  { path: ['latency', 'gossipIntervalMs'], kind: 'int', env: 'DCIS_LATENCY_GOSSIP_MS' },
  { path: ['services', 'repairGraceMs'], kind: 'int', env: 'DCIS_REPAIR_GRACE_MS' },
  { path: ['scheduler', 'minReserveTrust'], kind: 'int', env: 'DCIS_MIN_RESERVE_TRUST' },
  { path: ['nat', 'reachability'], kind: 'string', env: 'DCIS_NAT_REACHABILITY' },
  { path: ['nat', 'relayServer'], kind: 'bool', env: 'DCIS_RELAY_SERVER' },
  { path: ['nat', 'upnp'], kind: 'bool', env: 'DCIS_UPNP' }
]

const FLAG_KEYS = new Set<string>(['config', ...INPUTS.flatMap(s => s.flag != null ? [s.flag.key] : [])])

/** Builds the env layer. Unset and empty variables are ignored. */
export function envLayer (env: Record<string, string | undefined>, cwd: string): ConfigLayer {
  const values: Record<string, unknown> = {}
  const specs = INPUTS.filter(s => s.env != null)
  for (const spec of specs) {
    const raw = env[spec.env!]
    if (raw == null || raw.trim() === '') continue
    assign(values, spec, convert(raw, spec, `env ${spec.env!}`))
  }
  return { kind: 'env', values, baseDir: cwd, sourceOf: sourceFinder(specs, s => `env ${s.env!}`, 'env') }
}

/** Builds the flags layer. Undefined flags are ignored; unknown flag keys are errors. */
export function flagsLayer (flags: ConfigFlags, cwd: string): ConfigLayer {
  if (flags == null || typeof flags !== 'object' || Array.isArray(flags)) {
    throw new ConfigError('CONFIG_INVALID', '', `flags must be an object (got ${show(flags)})`, 'flags')
  }
  for (const key of Object.keys(flags)) {
    if (!FLAG_KEYS.has(key)) {
      throw new ConfigError('CONFIG_UNKNOWN_KEY', key, `unknown flag; known flags: ${[...FLAG_KEYS].join(', ')}`, 'flags')
    }
  }
  const values: Record<string, unknown> = {}
  const specs = INPUTS.filter(s => s.flag != null)
  for (const spec of specs) {
    const raw = (flags as Record<string, unknown>)[spec.flag!.key]
    if (raw === undefined) continue
    const source = `flag ${spec.flag!.name}`
    let value: unknown = raw
    if (typeof raw === 'string') {
      value = convert(raw, spec, source)
    } else if (spec.kind === 'list' && Array.isArray(raw)) {
      value = raw.flatMap(item => typeof item === 'string' ? splitList(item) : [item])
    } else if (spec.kind === 'hostport') {
      throw new ConfigError('CONFIG_INVALID', formatPath(spec.path), `must be HOST:PORT (got ${show(raw)})`, source)
    }
    assign(values, spec, value)
  }
  return { kind: 'flags', values, baseDir: cwd, sourceOf: sourceFinder(specs, s => `flag ${s.flag!.name}`, 'flags') }
}

function convert (raw: string, spec: InputSpec, source: string): unknown {
  const text = raw.trim()
  switch (spec.kind) {
    case 'string':
      return text
    case 'list':
      return splitList(text)
    case 'int':
      // leave non-digits as text: the schema then reports "must be an integer (got ...)"
      return /^-?\d+$/.test(text) ? Number(text) : text
    case 'bool': {
      const lower = text.toLowerCase()
      if (lower === 'true' || lower === '1') return true
      if (lower === 'false' || lower === '0') return false
      throw new ConfigError('CONFIG_INVALID', formatPath(spec.path), `must be true, false, 1 or 0 (got ${show(raw)})`, source)
    }
    case 'hostport':
      return parseHostPort(text, spec.path, source)
  }
}

function splitList (text: string): string[] {
  return text.split(',').map(s => s.trim()).filter(s => s !== '')
}

/** `host:port` or `[v6]:port` -> `{ host, port }`; a non-numeric port stays text for the schema to report. */
export function parseHostPort (text: string, field: FieldPath, source: string): { host: string, port: number | string } {
  let host: string
  let port: string
  const v6 = /^\[([^\]]+)\]:([^:]*)$/.exec(text)
  if (v6 != null) {
    host = v6[1]
    port = v6[2]
  } else {
    const i = text.lastIndexOf(':')
    if (i < 0) {
      throw new ConfigError('CONFIG_INVALID', formatPath(field), `must be HOST:PORT, e.g. 127.0.0.1:8080 (got ${show(text)})`, source)
    }
    host = text.slice(0, i)
    port = text.slice(i + 1)
    if (host.includes(':')) {
      throw new ConfigError('CONFIG_INVALID', formatPath(field), `an IPv6 host must be in brackets, e.g. [::1]:8080 (got ${show(text)})`, source)
    }
  }
  if (host === '') {
    throw new ConfigError('CONFIG_INVALID', formatPath([...field, 'host']), `must not be empty (got ${show(text)})`, source)
  }
  return { host, port: /^\d+$/.test(port) ? Number(port) : port }
}

function assign (values: Record<string, unknown>, spec: InputSpec, value: unknown): void {
  if (spec.kind === 'hostport') {
    const section = (values[spec.path[0] as string] ??= {}) as Record<string, unknown>
    Object.assign(section, value as object)
    return
  }
  let target = values
  for (const seg of spec.path.slice(0, -1)) {
    target = (target[seg as string] ??= {}) as Record<string, unknown>
  }
  target[spec.path[spec.path.length - 1] as string] = value
}

/** The spec whose path is the longest prefix of the asked path names the source. */
function sourceFinder (specs: readonly InputSpec[], label: (s: InputSpec) => string, fallback: string): (p: FieldPath) => string {
  return (p) => {
    let best: InputSpec | undefined
    for (const spec of specs) {
      const isPrefix = spec.path.length <= p.length && spec.path.every((seg, i) => seg === p[i])
      // hostport feeds api.host and api.port, not api.trustLoopback
      const hostportOk = spec.kind !== 'hostport' || p.length === 1 || p[1] === 'host' || p[1] === 'port'
      if (isPrefix && hostportOk && (best == null || spec.path.length > best.path.length)) best = spec
    }
    return best != null ? label(best) : fallback
  }
}
