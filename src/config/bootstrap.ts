/**
 * Bootstrap peers: entries are multiaddrs ending in /p2p/<peerId>, or paths
 * of JSON files `{"federation": "local", "peers": ["/ip4/.../p2p/12D3Koo..."]}`.
 */
import path from 'node:path'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ConfigError, show } from './errors.js'
import { readBoundedTextFile } from './read-file.js'
import { looksLikeMultiaddr, parsePeerMultiaddr } from './multiaddrs.js'
import { isPlainObject } from './layer.js'
import { NAME_PATTERN } from './schema.js'

const MAX_BOOTSTRAP_FILE_BYTES = 1024 * 1024
const MAX_PEERS_PER_FILE = 1024
const FILE_KEYS = ['federation', 'peers', 'note', 'description']

export interface BootstrapFile {
  federation?: string
  peers: string[]
  note?: string
}

export interface ResolveBootstrapOptions {
  /** relative file paths are resolved against this directory */
  cwd: string
  /** if set, a file naming another federation is refused */
  federation?: string
  signal?: AbortSignal
}

/**
 * Reads bootstrap files and checks every multiaddr; returns the distinct
 * peer multiaddrs in the order given. Throws ConfigError naming the entry.
 */
export async function resolveBootstrap (entries: string[], options: ResolveBootstrapOptions): Promise<Multiaddr[]> {
  if (!Array.isArray(entries)) {
    throw new ConfigError('CONFIG_INVALID', 'bootstrap', `must be a list (got ${show(entries)})`, 'caller')
  }
  const out: Multiaddr[] = []
  const seen = new Set<string>()
  const add = (ma: Multiaddr): void => {
    const key = ma.toString()
    if (!seen.has(key)) {
      seen.add(key)
      out.push(ma)
    }
  }
  for (let i = 0; i < entries.length; i++) {
    options.signal?.throwIfAborted()
    const entry = entries[i]
    const field = `bootstrap[${i}]`
    if (typeof entry !== 'string' || entry === '') {
      throw new ConfigError('CONFIG_INVALID', field, `must be a multiaddr or a file path (got ${show(entry)})`, 'bootstrap list')
    }
    if (looksLikeMultiaddr(entry)) {
      const parsed = parsePeerMultiaddr(entry)
      if (!parsed.ok) throw new ConfigError('CONFIG_INVALID', field, parsed.reason, 'bootstrap list')
      add(parsed.value)
      continue
    }
    const file = path.resolve(options.cwd, entry)
    const doc = await readBootstrapFile(file, field, options)
    for (const ma of doc) add(ma)
  }
  return out
}

/** Reads and validates one bootstrap JSON file. */
export async function readBootstrapFile (file: string, field: string, options: { federation?: string, signal?: AbortSignal } = {}): Promise<Multiaddr[]> {
  const source = `file ${file}`
  let text: string
  try {
    text = await readBoundedTextFile(file, MAX_BOOTSTRAP_FILE_BYTES, options.signal)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err)
    throw new ConfigError('CONFIG_FILE_UNREADABLE', field, `cannot read bootstrap file: ${why}`, source, { cause: err })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ConfigError('CONFIG_FILE_MALFORMED', field, `bootstrap file is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, source, { cause: err })
  }
  if (!isPlainObject(value)) {
    throw new ConfigError('CONFIG_INVALID', field, `bootstrap file must hold {"federation", "peers": [...]} (got ${show(value)})`, source)
  }
  for (const key of Object.keys(value)) {
    if (!FILE_KEYS.includes(key)) {
      throw new ConfigError('CONFIG_UNKNOWN_KEY', `${field}.${key}`, `unknown key in bootstrap file; known keys: ${FILE_KEYS.join(', ')}`, source)
    }
  }
  const { federation, peers } = value
  if (federation !== undefined && (typeof federation !== 'string' || !new RegExp(NAME_PATTERN).test(federation))) {
    throw new ConfigError('CONFIG_INVALID', `${field}.federation`, `must be 1-63 characters of a-z, 0-9 and '-' (got ${show(federation)})`, source)
  }
  if (options.federation != null && federation !== undefined && federation !== options.federation) {
    throw new ConfigError('CONFIG_INVALID', `${field}.federation`, `is ${show(federation)} but this peer is in federation ${show(options.federation)}`, source)
  }
  if (!Array.isArray(peers)) {
    throw new ConfigError('CONFIG_INVALID', `${field}.peers`, `must be a list of multiaddrs (got ${show(peers)})`, source)
  }
  if (peers.length > MAX_PEERS_PER_FILE) {
    throw new ConfigError('CONFIG_INVALID', `${field}.peers`, `must have at most ${MAX_PEERS_PER_FILE} entries (got ${peers.length})`, source)
  }
  return peers.map((p: unknown, j: number) => {
    if (typeof p !== 'string') {
      throw new ConfigError('CONFIG_INVALID', `${field}.peers[${j}]`, `must be a multiaddr string (got ${show(p)})`, source)
    }
    const parsed = parsePeerMultiaddr(p)
    if (!parsed.ok) throw new ConfigError('CONFIG_INVALID', `${field}.peers[${j}]`, parsed.reason, source)
    return parsed.value
  })
}
