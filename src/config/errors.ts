/**
 * The one error type of config loading. Its message is a single line:
 *
 *   config: api.port: must be <= 65535 (got 70000) [from env DCIS_API]
 *
 * naming the field path, the reason and the source that supplied the value.
 */

export type ConfigErrorCode =
  /** a value has the wrong type, range or shape */
  | 'CONFIG_INVALID'
  /** a key in a config file (or data file) is not known: usually a typo */
  | 'CONFIG_UNKNOWN_KEY'
  /** a file named by the config cannot be read */
  | 'CONFIG_FILE_UNREADABLE'
  /** a file is not valid YAML/JSON */
  | 'CONFIG_FILE_MALFORMED'

export class ConfigError extends Error {
  readonly code: ConfigErrorCode
  /** field path, e.g. `api.port`, `listen[1]`, `simulation.rtt.rttMs[0][2]`; '' for the file as a whole */
  readonly field: string
  /** what is wrong, e.g. `must be <= 65535 (got 70000)` */
  readonly reason: string
  /** who supplied the value, e.g. `env DCIS_API`, `flag --api`, `file /etc/dcis.yaml line 4`, `default` */
  readonly source: string

  constructor (code: ConfigErrorCode, field: string, reason: string, source: string, options?: { cause?: unknown }) {
    const f = oneLine(field)
    const r = oneLine(reason)
    const s = oneLine(source)
    super(`config: ${f === '' ? '' : `${f}: `}${r} [from ${s}]`, options)
    this.name = 'ConfigError'
    this.code = code
    this.field = f
    this.reason = r
    this.source = s
  }
}

/** Collapses any line breaks so a message is always one line. */
export function oneLine (s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim()
}

/** A short, single-line rendering of a bad value for `(got …)`. */
export function show (value: unknown): string {
  let s: string
  if (typeof value === 'number') {
    s = Number.isNaN(value) ? 'NaN' : String(value)
  } else if (value === undefined) {
    s = 'nothing'
  } else {
    try {
      s = JSON.stringify(value) ?? String(value)
    } catch {
      s = String(value)
    }
  }
  return s.length > 80 ? s.slice(0, 77) + '...' : s
}
