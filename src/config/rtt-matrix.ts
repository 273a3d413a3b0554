/**
 * RTT matrices for link emulation and offline latency evaluation.
 *
 * Two JSON shapes are accepted:
 *   {"regions": ["eu-west","us-east"], "rttMs": [[1, 80], [80, 1]]}
 *   {"nodes": [...names] | N, "rtt": [[...]], "unit": "ms"}   (shared/data/latency/*.json)
 * Rules: square, names unique, entries finite numbers >= 0 or null (unknown).
 * A matrix for link emulation (`simulation.rtt`) also has no entry above
 * MAX_EMULATED_RTT_MS; a measured matrix read for offline evaluation
 * (`loadMeasuredRttMatrix`) has no such cap.
 */
import path from 'node:path'
import { ConfigError, show } from './errors.js'
import { readBoundedTextFile } from './read-file.js'
import { formatPath } from './validate.js'
import type { FieldPath } from './validate.js'
import type { MeasuredRttMatrix, RttMatrix } from './schema.js'

/** Rows/columns beyond this are refused (a 4096² matrix is already ~130 MB of JSON). */
export const MAX_RTT_MATRIX_SIZE = 4096
/** Above a minute is a unit mistake (seconds given as ms), not a link to emulate. */
export const MAX_EMULATED_RTT_MS = 60_000
const MAX_RTT_FILE_BYTES = 256 * 1024 * 1024

const NATIVE_KEYS = ['regions', 'rttMs', 'unit', 'name', 'description']
const MEASURED_KEYS = ['nodes', 'rtt', 'unit', 'name', 'source', 'license', 'description']

export interface RttMatrixContext {
  /** field path prefix for messages, e.g. ['simulation', 'rtt'] */
  field?: FieldPath
  /** where the value came from, e.g. `file /x/rtt.json` */
  source: string
}

/** Validates a parsed value as a matrix for link emulation: entries <= 60 s or null. */
export function parseRttMatrix (value: unknown, ctx: RttMatrixContext): RttMatrix {
  const m = parseMeasuredRttMatrix(value, ctx)
  const key = isMeasuredShape(value) ? 'rtt' : 'rttMs'
  m.rttMs.forEach((row, i) => row.forEach((v, j) => {
    const where = formatPath([...(ctx.field ?? []), key, i, j])
    if (v !== null && v > MAX_EMULATED_RTT_MS) {
      throw new ConfigError('CONFIG_INVALID', where, `must be <= ${MAX_EMULATED_RTT_MS} ms (got ${v}); were seconds given as ms?`, ctx.source)
    }
  }))
  return m
}

function isMeasuredShape (value: unknown): boolean {
  const obj = value as Record<string, unknown>
  return !('regions' in obj) && !('rttMs' in obj) && ('nodes' in obj || 'rtt' in obj)
}

/** Validates a parsed value as a measured matrix: null entries (unmeasured) allowed. */
export function parseMeasuredRttMatrix (value: unknown, ctx: RttMatrixContext): MeasuredRttMatrix {
  const base = ctx.field ?? []
  const fail = (sub: FieldPath, reason: string, code: 'CONFIG_INVALID' | 'CONFIG_UNKNOWN_KEY' = 'CONFIG_INVALID'): never => {
    throw new ConfigError(code, formatPath([...base, ...sub]), reason, ctx.source)
  }

  if (value == null || typeof value !== 'object' || Array.isArray(value)) {
    return fail([], `must be a mapping {regions, rttMs} or {nodes, rtt} (got ${show(value)})`)
  }
  const obj = value as Record<string, unknown>
  const measured = isMeasuredShape(obj)
  const allowed = measured ? MEASURED_KEYS : NATIVE_KEYS
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) fail([key], `unknown key; expected ${allowed.join(', ')}`, 'CONFIG_UNKNOWN_KEY')
  }
  if (obj.unit !== undefined && obj.unit !== 'ms') {
    fail(['unit'], `must be "ms" (got ${show(obj.unit)})`)
  }

  const namesKey = measured ? 'nodes' : 'regions'
  const matrixKey = measured ? 'rtt' : 'rttMs'
  let names: string[]
  const rawNames = obj[namesKey]
  if (measured && typeof rawNames === 'number') {
    if (!Number.isSafeInteger(rawNames) || rawNames < 1 || rawNames > MAX_RTT_MATRIX_SIZE) {
      fail([namesKey], `must be a list of names or a count 1..${MAX_RTT_MATRIX_SIZE} (got ${show(rawNames)})`)
    }
    names = Array.from({ length: rawNames }, (_, i) => `node-${i}`)
  } else {
    if (!Array.isArray(rawNames)) {
      return fail([namesKey], `must be a list of names (got ${show(rawNames)})`)
    }
    if (rawNames.length < 1 || rawNames.length > MAX_RTT_MATRIX_SIZE) {
      fail([namesKey], `must have 1..${MAX_RTT_MATRIX_SIZE} names (got ${rawNames.length})`)
    }
    const seen = new Set<string>()
    names = rawNames.map((n, i) => {
      if (typeof n !== 'string' || n.length === 0 || n.length > 253) {
        fail([namesKey, i], `must be a non-empty string of at most 253 characters (got ${show(n)})`)
      }
      if (seen.has(n as string)) fail([namesKey, i], `duplicate name ${show(n)}`)
      seen.add(n as string)
      return n as string
    })
  }

  const rows = obj[matrixKey]
  if (!Array.isArray(rows)) {
    return fail([matrixKey], `must be a list of rows (got ${show(rows)})`)
  }
  const n = names.length
  if (rows.length !== n) {
    fail([matrixKey], `must have ${n} rows, one per name in ${namesKey} (got ${rows.length}); the matrix must be square`)
  }
  const rttMs = rows.map((row: unknown, i: number) => {
    if (!Array.isArray(row)) {
      return fail([matrixKey, i], `must be a list of ${n} numbers (got ${show(row)})`)
    }
    if (row.length !== n) {
      fail([matrixKey, i], `must have ${n} entries, one per name in ${namesKey} (got ${row.length}); the matrix must be square`)
    }
    return row.map((v: unknown, j: number) => {
      if (v === null) return null
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        return fail([matrixKey, i, j], `must be a finite number >= 0 (ms) or null for unknown (got ${show(v)})`)
      }
      return v
    })
  })
  return { regions: names, rttMs }
}

export interface LoadRttMatrixOptions {
  /** field path prefix for messages; default ['simulation', 'rtt'] */
  field?: FieldPath
  signal?: AbortSignal
}

/** Reads and validates an RTT matrix JSON file for link emulation (entries <= 60 s or null). */
export async function loadRttMatrix (file: string, options: LoadRttMatrixOptions = {}): Promise<RttMatrix> {
  const { value, field, source } = await readMatrixJson(file, options)
  return parseRttMatrix(value, { field, source })
}

/** Reads and validates a measured RTT matrix JSON file (null = unmeasured, no upper cap). */
export async function loadMeasuredRttMatrix (file: string, options: LoadRttMatrixOptions = {}): Promise<MeasuredRttMatrix> {
  const { value, field, source } = await readMatrixJson(file, { ...options, field: options.field ?? ['matrix'] })
  return parseMeasuredRttMatrix(value, { field, source })
}

async function readMatrixJson (file: string, options: LoadRttMatrixOptions): Promise<{ value: unknown, field: FieldPath, source: string }> {
  const abs = path.resolve(file)
  const source = `file ${abs}`
  const field = options.field ?? ['simulation', 'rtt']
  let text: string
  try {
    text = await readBoundedTextFile(abs, MAX_RTT_FILE_BYTES, options.signal)
  } catch (err) {
    throw new ConfigError('CONFIG_FILE_UNREADABLE', formatPath(field), `cannot read RTT matrix: ${errText(err)}`, source, { cause: err })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ConfigError('CONFIG_FILE_MALFORMED', formatPath(field), `RTT matrix is not valid JSON: ${errText(err)}`, source, { cause: err })
  }
  return { value, field, source }
}

function errText (err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code
    return code != null && !err.message.startsWith(code) ? `${code}: ${err.message}` : err.message
  }
  return String(err)
}
