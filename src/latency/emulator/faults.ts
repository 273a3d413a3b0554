/**
 * Link faults: partitions, one-way loss and extra delay between named sites,
 * changed at run time, for simulations and fault tests of real processes.
 *
 * A site names a peer or a group of peers (`--site`, default the region); it
 * travels in the link preamble (preamble.ts, version 2). A rule is one-way:
 * it applies to bytes SENT from a site in `from` to a site in `to`, and each
 * side enforces the rules for what it sends, so every peer of the mesh reads
 * the same rules (the same file):
 *
 *   {"rules": [
 *     {"from": ["peer-0", "peer-1"], "to": ["peer-2"], "action": "block"},
 *     {"from": ["peer-2"], "to": ["peer-0", "peer-1"], "action": "block"},
 *     {"from": ["peer-0"], "to": ["peer-1"], "action": "delay", "delayMs": 80}
 *   ]}
 *
 * - "block" is a silent partition, as a pulled cable looks to TCP: the bytes
 *   are held, nothing is delivered and nothing is reported; when the rule goes
 *   away the held bytes flow again in order (TCP retransmission). A block that
 *   holds more than the link's byte budget, or lasts longer than
 *   `resetAfterMs` (default 60 s), resets the connection, as TCP gives up.
 *   A partition is two block rules; one-way loss is one.
 * - "delay" adds `delayMs` to the one-way delay of the matrix (the sum of all
 *   matching delay rules).
 *
 * `LinkFaults` holds the rules in force and tells open links when they
 * change; `LinkFaultsFile` keeps it in step with a JSON file (polled; a bad
 * file is logged and the previous rules stay). Pure apart from the file
 * watcher: no clock inside the rules.
 */
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { LinkEmulatorConfigError } from './errors.js'
import { regionProblem } from './preamble.js'
import type { EmulatorLog } from './log.js'

export type LinkFaultAction = 'block' | 'delay'

export interface LinkFaultRule {
  /** sites whose outbound bytes the rule applies to */
  from: string[]
  /** remote sites the rule applies to */
  to: string[]
  action: LinkFaultAction
  /** with "delay": milliseconds added to the one-way delay */
  delayMs?: number
  /** with "block": reset a connection held this long (default DEFAULT_RESET_AFTER_MS) */
  resetAfterMs?: number
}

export interface LinkFaultSet {
  rules: LinkFaultRule[]
}

export const DEFAULT_RESET_AFTER_MS = 60_000
export const MAX_FAULT_RULES = 1024
export const MAX_FAULT_SITES = 4096
export const MAX_FAULT_DELAY_MS = 60_000
export const MAX_FAULTS_FILE_BYTES = 1024 * 1024

const RULE_KEYS = new Set(['from', 'to', 'action', 'delayMs', 'resetAfterMs'])

function sites (value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_FAULT_SITES) {
    throw new LinkEmulatorConfigError(field, `must be a non-empty array of at most ${MAX_FAULT_SITES} site names`)
  }
  return value.map((v, i) => {
    if (typeof v !== 'string') throw new LinkEmulatorConfigError(`${field}[${i}]`, 'must be a string')
    const problem = regionProblem(v)
    if (problem != null) throw new LinkEmulatorConfigError(`${field}[${i}]`, `site ${JSON.stringify(v)} ${problem}`)
    return v
  })
}

function millis (value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new LinkEmulatorConfigError(field, `must be a number of milliseconds in ${min}..${max}`)
  }
  return value
}

/** Validates a fault set; throws LinkEmulatorConfigError naming the field. */
export function parseLinkFaults (value: unknown, field = 'faults'): LinkFaultSet {
  if (value == null || typeof value !== 'object' || Array.isArray(value)) {
    throw new LinkEmulatorConfigError(field, 'must be an object {"rules": [...]}')
  }
  for (const key of Object.keys(value)) {
    if (key !== 'rules') throw new LinkEmulatorConfigError(`${field}.${key}`, 'unknown key (allowed: rules)')
  }
  const rules = (value as { rules?: unknown }).rules
  if (!Array.isArray(rules) || rules.length > MAX_FAULT_RULES) {
    throw new LinkEmulatorConfigError(`${field}.rules`, `must be an array of at most ${MAX_FAULT_RULES} rules`)
  }
  return {
    rules: rules.map((r: unknown, i): LinkFaultRule => {
      const f = `${field}.rules[${i}]`
      if (r == null || typeof r !== 'object' || Array.isArray(r)) throw new LinkEmulatorConfigError(f, 'must be an object {from, to, action}')
      const rule = r as Record<string, unknown>
      for (const key of Object.keys(rule)) {
        if (!RULE_KEYS.has(key)) throw new LinkEmulatorConfigError(`${f}.${key}`, `unknown key (allowed: ${[...RULE_KEYS].join(', ')})`)
      }
      const out: LinkFaultRule = { from: sites(rule.from, `${f}.from`), to: sites(rule.to, `${f}.to`), action: 'block' }
      if (rule.action === 'block') {
        if (rule.delayMs !== undefined) throw new LinkEmulatorConfigError(`${f}.delayMs`, 'only a "delay" rule takes delayMs')
        if (rule.resetAfterMs !== undefined) out.resetAfterMs = millis(rule.resetAfterMs, `${f}.resetAfterMs`, 1, 86_400_000)
      } else if (rule.action === 'delay') {
        if (rule.resetAfterMs !== undefined) throw new LinkEmulatorConfigError(`${f}.resetAfterMs`, 'only a "block" rule takes resetAfterMs')
        out.action = 'delay'
        out.delayMs = millis(rule.delayMs, `${f}.delayMs`, 0, MAX_FAULT_DELAY_MS)
      } else {
        throw new LinkEmulatorConfigError(`${f}.action`, `must be "block" or "delay" (got ${JSON.stringify(rule.action)})`)
      }
      return out
    })
  }
}

/**
 * A short digest of a fault set as validated (16 hex chars of SHA-256 over
 * its JSON): peers report the digest of the rules in force
 * (`dcis_link_faults_rules{digest}`), so a test or the simulation lab can
 * wait until every peer applies a new file instead of sleeping.
 */
export function linkFaultsDigest (set: LinkFaultSet): string {
  return createHash('sha256').update(JSON.stringify(parseLinkFaults(set).rules)).digest('hex').slice(0, 16)
}

/** What the rules say for bytes sent from one site to another. */
export interface LinkFaultState {
  blocked: boolean
  /** with `blocked`: reset the connection after this long */
  resetAfterMs: number
  extraDelayMs: number
}

const NO_FAULT: LinkFaultState = Object.freeze({ blocked: false, resetAfterMs: DEFAULT_RESET_AFTER_MS, extraDelayMs: 0 })

/** The rules in force; links subscribe to hear about changes. */
export class LinkFaults {
  private rules: LinkFaultRule[] = []
  private rulesDigest = ''
  private readonly listeners = new Set<() => void>()

  constructor (set: LinkFaultSet = { rules: [] }) {
    this.rules = parseLinkFaults(set).rules
    this.rulesDigest = linkFaultsDigest({ rules: this.rules })
  }

  /** Replaces the rules (validated) and tells every subscriber. */
  set (set: LinkFaultSet): void {
    this.rules = parseLinkFaults(set).rules
    this.rulesDigest = linkFaultsDigest({ rules: this.rules })
    for (const listener of [...this.listeners]) listener()
  }

  /** linkFaultsDigest of the rules in force */
  get digest (): string {
    return this.rulesDigest
  }

  /** how many rules are in force */
  get size (): number {
    return this.rules.length
  }

  get (): LinkFaultSet {
    return { rules: this.rules.map(r => ({ ...r, from: [...r.from], to: [...r.to] })) }
  }

  /** The state for bytes sent from site `from` to site `to`. */
  state (from: string, to: string): LinkFaultState {
    let blocked = false
    let resetAfterMs = Infinity
    let extraDelayMs = 0
    for (const r of this.rules) {
      if (!r.from.includes(from) || !r.to.includes(to)) continue
      if (r.action === 'block') {
        blocked = true
        resetAfterMs = Math.min(resetAfterMs, r.resetAfterMs ?? DEFAULT_RESET_AFTER_MS)
      } else {
        extraDelayMs += r.delayMs ?? 0
      }
    }
    if (!blocked && extraDelayMs === 0) return NO_FAULT
    return { blocked, resetAfterMs: blocked ? resetAfterMs : DEFAULT_RESET_AFTER_MS, extraDelayMs }
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe (listener: () => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  get subscribers (): number {
    return this.listeners.size
  }
}

export interface LinkFaultsFileInit {
  /** the JSON file; missing = no faults */
  path: string
  faults: LinkFaults
  log: EmulatorLog
  /** how often the file is checked (default 200 ms) */
  pollMs?: number
}

/**
 * Keeps `faults` equal to the file's rules: checks size and mtime every
 * `pollMs` and re-reads on change. Write the file atomically (temp + rename).
 */
export class LinkFaultsFile {
  private readonly init: LinkFaultsFileInit
  private timer?: ReturnType<typeof setInterval>
  private lastSeen = ''
  private checking?: Promise<void>

  constructor (init: LinkFaultsFileInit) {
    this.init = init
  }

  /** Reads the file once (so the first connections see its rules), then polls. */
  async start (): Promise<void> {
    if (this.timer != null) return
    await this.check()
    this.timer = setInterval(() => {
      // one check at a time; check() never rejects
      this.checking ??= this.check().finally(() => { this.checking = undefined })
    }, this.init.pollMs ?? 200)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    if (this.timer != null) clearInterval(this.timer)
    this.timer = undefined
    await this.checking
  }

  /** Re-reads the file if it changed. Never throws: problems are logged and the rules kept. */
  async check (): Promise<void> {
    const { path, faults, log } = this.init
    let seen: string
    try {
      const st = await stat(path)
      seen = `${st.ino}:${st.size}:${st.mtimeMs}`
      if (seen === this.lastSeen) return
      if (st.size > MAX_FAULTS_FILE_BYTES) {
        this.lastSeen = seen
        log.warn({ path, bytes: st.size, max: MAX_FAULTS_FILE_BYTES }, 'link faults file too large: previous rules kept')
        return
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        log.warn({ path, error: (err as Error).message }, 'link faults file unreadable: previous rules kept')
        return
      }
      if (this.lastSeen === 'missing') return
      this.lastSeen = 'missing'
      if (faults.get().rules.length > 0) log.warn({ path }, 'link faults file removed: no faults')
      faults.set({ rules: [] })
      return
    }
    this.lastSeen = seen
    try {
      const text = await readFile(path, 'utf8')
      const set = parseLinkFaults(JSON.parse(text) as unknown, 'faults')
      faults.set(set)
      log.warn({ path, rules: set.rules.length }, 'link faults applied')
    } catch (err) {
      log.warn({ path, error: (err as Error).message }, 'link faults file invalid: previous rules kept')
    }
  }
}
