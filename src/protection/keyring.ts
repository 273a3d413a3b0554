/**
 * The local keyring: `<dataDir>/keys/keyring.json`, mode 0600, in a 0700
 * directory, written atomically (temp file, fsync, rename, fsync of the
 * directory). It holds data keys by id, each wrapped by a KeyProvider; one
 * is active (new records), the others are retired (opening old records).
 *
 *   { "v": 1, "provider": "identity", "salt": "<b64, passphrase only>",
 *     "active": "k2", "keys": [ { "id": "k1", "created": "...", "wrapped": "..." }, ... ] }
 *
 * Rotation (`dcis keys rotate`, or `rotate()` online) adds a key and makes it
 * active; retired keys stay until no record needs them.
 */
import { randomBytes } from 'node:crypto'
import { promises as fs, constants as fsConstants } from 'node:fs'
import path from 'node:path'
import { KeyringError, WrongKeyError } from './errors.js'
import type { KeyProvider } from './providers.js'
import type { SealingKeys } from './sealer.js'

export const KEYRING_DIR = 'keys'
export const KEYRING_FILE = 'keyring.json'
const MAX_KEYRING_BYTES = 1024 * 1024
const MAX_KEYS = 1000
/** key ids are fixed-width (k000001): every sealed record has the same overhead */
const ID = /^k[0-9]{6}$/
const keyId = (n: number): string => `k${String(n).padStart(6, '0')}`

export interface KeyringFileKey {
  id: string
  created: string
  wrapped: string
}

export interface KeyringFile {
  v: 1
  provider: string
  salt?: string
  active: string
  keys: KeyringFileKey[]
  /**
   * Set when the keyring was created for a data dir that already held data
   * written in clear by an older dcis (or with encryption off): clear records
   * are accepted only while it is set; the migration pass re-seals them and
   * clears it. A keyring created for an empty data dir never has it.
   */
  legacyClear?: LegacyClear
}

export interface LegacyClear {
  /** when the keyring was created (records in clear predate it) */
  since: string
  /** Raft WAL segments and snapshots (relative to the data dir) that existed then, possibly in clear */
  raftFiles: string[]
}

export interface KeyringStatus {
  file: string
  provider: string
  active: string
  keys: Array<{ id: string, created: string, state: 'active' | 'retired' }>
  /** present while records written in clear before the keyring may remain (raftFiles: how many legacy Raft files remain listed) */
  legacyClear?: { since: string, raftFiles: number }
}

export function keyringPath (dataDir: string): string {
  return path.join(dataDir, KEYRING_DIR, KEYRING_FILE)
}

/** Reads and validates the keyring file; undefined when there is none. */
export async function readKeyringFile (file: string): Promise<KeyringFile | undefined> {
  let text: string
  try {
    const st = await fs.stat(file)
    if (!st.isFile()) throw new KeyringError(`${file} is not a regular file`)
    if ((st.mode & 0o077) !== 0) throw new KeyringError(`${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`)
    if (st.size > MAX_KEYRING_BYTES) throw new KeyringError(`${file} is ${st.size} bytes, too large for a keyring`)
    text = await fs.readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  let v: unknown
  try { v = JSON.parse(text) } catch { throw new KeyringError(`${file} is not JSON`) }
  const o = v as Partial<KeyringFile> | null
  if (o == null || typeof o !== 'object' || o.v !== 1) throw new KeyringError(`${file}: v must be 1`)
  if (typeof o.provider !== 'string') throw new KeyringError(`${file}: provider must be a string`)
  if (o.salt !== undefined && typeof o.salt !== 'string') throw new KeyringError(`${file}: salt must be base64`)
  if (!Array.isArray(o.keys) || o.keys.length === 0 || o.keys.length > MAX_KEYS) throw new KeyringError(`${file}: keys must be a list of 1..${MAX_KEYS}`)
  const ids = new Set<string>()
  for (const k of o.keys) {
    if (k == null || typeof k !== 'object' || typeof k.id !== 'string' || !ID.test(k.id) || typeof k.created !== 'string' || typeof k.wrapped !== 'string') {
      throw new KeyringError(`${file}: every key needs id (k000001...), created and wrapped`)
    }
    if (ids.has(k.id)) throw new KeyringError(`${file}: key ${k.id} appears twice`)
    ids.add(k.id)
  }
  if (typeof o.active !== 'string' || !ids.has(o.active)) throw new KeyringError(`${file}: active must name one of its keys`)
  if (o.legacyClear !== undefined) {
    const l = o.legacyClear as Partial<LegacyClear> | null
    if (l == null || typeof l !== 'object' || typeof l.since !== 'string' || Number.isNaN(Date.parse(l.since)) ||
      !Array.isArray(l.raftFiles) || l.raftFiles.length > 1_000_000 || !l.raftFiles.every(f => typeof f === 'string' && f.length > 0 && f.length < 4096 && !f.startsWith('/') && !f.split('/').includes('..'))) {
      throw new KeyringError(`${file}: legacyClear must be {since: ISO time, raftFiles: [relative paths]}`)
    }
  }
  return o as KeyringFile
}

async function writeAtomic (file: string, text: string): Promise<void> {
  const dir = path.dirname(file)
  await fs.mkdir(dir, { recursive: true, mode: 0o700 })
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const h = await fs.open(tmp, 'wx', 0o600)
    try {
      await h.chmod(0o600)
      await h.writeFile(text)
      await h.sync()
    } finally {
      await h.close()
    }
    await fs.rename(tmp, file)
    const d = await fs.open(dir, fsConstants.O_RDONLY)
    try { await d.sync() } finally { await d.close() }
  } finally {
    await fs.rm(tmp, { force: true }).catch(() => {})
  }
}

/** The unwrapped keys of a data dir, with online rotation. */
export class Keyring implements SealingKeys {
  private readonly keys = new Map<string, Uint8Array>()
  private constructor (
    readonly file: string,
    private doc: KeyringFile,
    private readonly provider: KeyProvider
  ) {}

  get activeId (): string {
    return this.doc.active
  }

  key (id: string): Uint8Array | undefined {
    return this.keys.get(id)
  }

  /** the passphrase salt of this keyring (created on first use) */
  static async salt (dataDir: string): Promise<Uint8Array> {
    const doc = await readKeyringFile(keyringPath(dataDir))
    if (doc?.salt !== undefined) return new Uint8Array(Buffer.from(doc.salt, 'base64'))
    return new Uint8Array(randomBytes(16))
  }

  /**
   * Opens the keyring of `dataDir`, creating it (one fresh key) when absent.
   * Every key must unwrap: a wrong provider key throws WrongKeyError.
   */
  static async open (dataDir: string, provider: KeyProvider, options: { salt?: Uint8Array, create?: boolean, legacy?: { raftFiles: string[] } } = {}): Promise<Keyring> {
    const file = keyringPath(dataDir)
    let doc = await readKeyringFile(file)
    if (doc === undefined) {
      if (options.create === false) throw new KeyringError(`no keyring at ${file}`)
      const key = new Uint8Array(randomBytes(32))
      doc = {
        v: 1,
        provider: provider.kind,
        ...(options.salt !== undefined ? { salt: Buffer.from(options.salt).toString('base64') } : {}),
        active: keyId(1),
        keys: [{ id: keyId(1), created: new Date().toISOString(), wrapped: await provider.wrap(key, keyId(1)) }],
        ...(options.legacy !== undefined ? { legacyClear: { since: new Date().toISOString(), raftFiles: [...options.legacy.raftFiles].sort() } } : {})
      }
      await writeAtomic(file, JSON.stringify(doc, null, 2) + '\n')
    }
    if (doc.provider !== provider.kind) throw new WrongKeyError(`the keyring ${file} is wrapped by the ${doc.provider} provider, but this peer is configured for ${provider.kind}`)
    const ring = new Keyring(file, doc, provider)
    for (const k of doc.keys) {
      const raw = await provider.unwrap(k.wrapped, k.id)
      if (raw.byteLength !== 32) throw new WrongKeyError(`key ${k.id} unwraps to ${raw.byteLength} bytes, not 32`)
      ring.keys.set(k.id, raw)
    }
    return ring
  }

  /** Adds a fresh key and makes it active; the previous keys stay for opening. Durable before it returns. */
  async rotate (): Promise<string> {
    const next = keyId(Math.max(...this.doc.keys.map(k => Number(k.id.slice(1)))) + 1)
    const key = new Uint8Array(randomBytes(32))
    const doc: KeyringFile = { ...this.doc, active: next, keys: [...this.doc.keys, { id: next, created: new Date().toISOString(), wrapped: await this.provider.wrap(key, next) }] }
    await writeAtomic(this.file, JSON.stringify(doc, null, 2) + '\n')
    this.keys.set(next, key)
    this.doc = doc
    return next
  }

  /** the legacy-clear state (records written in clear before this keyring) or undefined */
  get legacyClear (): LegacyClear | undefined {
    return this.doc.legacyClear
  }

  /** once the datastore and catalogue are re-sealed (this process), only Raft records may still be clear */
  private onlyRaftClear = false

  /**
   * Clear records are accepted (read as they are) only while the legacy flag
   * is set, and after the start-up pass only for Raft WAL entries and
   * snapshots (record identities `wal/...`, `snap/...`).
   */
  acceptsClear (context: string | Uint8Array): boolean {
    if (this.doc.legacyClear === undefined) return false
    if (!this.onlyRaftClear) return true
    return typeof context === 'string' && (context.startsWith('wal/') || context.startsWith('snap/'))
  }

  /** the datastore and catalogue are re-sealed: from now on only Raft records may be clear */
  narrowLegacyToRaft (): void {
    this.onlyRaftClear = true
  }

  /** Clears the legacy flag (every record is sealed now); durable before it returns. From then on a clear record is tampering. */
  async endLegacy (): Promise<void> {
    if (this.doc.legacyClear === undefined) return
    const { legacyClear: _, ...doc } = this.doc
    await writeAtomic(this.file, JSON.stringify(doc, null, 2) + '\n')
    this.doc = doc
  }

  status (): KeyringStatus {
    return {
      file: this.file,
      provider: this.doc.provider,
      active: this.doc.active,
      keys: this.doc.keys.map(k => ({ id: k.id, created: k.created, state: k.id === this.doc.active ? 'active' : 'retired' })),
      ...(this.doc.legacyClear !== undefined ? { legacyClear: { since: this.doc.legacyClear.since, raftFiles: this.doc.legacyClear.raftFiles.length } } : {})
    }
  }
}
