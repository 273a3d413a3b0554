/**
 * The YAML config file layer. Relative paths inside the file (dataDir,
 * bootstrap files, simulation.rtt) are resolved against the file's directory.
 */
import path from 'node:path'
import { LineCounter, parseDocument } from 'yaml'
import { ConfigError } from './errors.js'
import { readBoundedTextFile } from './read-file.js'
import { isPlainObject } from './layer.js'
import type { ConfigLayer } from './layer.js'
import type { FieldPath } from './validate.js'

const MAX_CONFIG_FILE_BYTES = 1024 * 1024

/**
 * Reads `file` (resolved against `cwd`). `origin` says who named the file
 * (e.g. `flag --config`) for errors about the file itself.
 */
export async function fileLayer (file: string, cwd: string, origin: string, signal?: AbortSignal): Promise<ConfigLayer> {
  const abs = path.resolve(cwd, file)
  const label = `file ${abs}`
  let text: string
  try {
    text = await readBoundedTextFile(abs, MAX_CONFIG_FILE_BYTES, signal)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err)
    throw new ConfigError('CONFIG_FILE_UNREADABLE', '', `cannot read config file ${abs}: ${why}`, origin, { cause: err })
  }

  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    const pos = e.linePos?.[0] ?? (e.pos != null ? lineCounter.linePos(e.pos[0]) : undefined)
    const where = pos != null ? ` line ${pos.line} column ${pos.col}` : ''
    throw new ConfigError('CONFIG_FILE_MALFORMED', '', `not valid YAML: ${e.message}`, `${label}${where}`, { cause: e })
  }
  let values: unknown
  try {
    values = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    throw new ConfigError('CONFIG_FILE_MALFORMED', '', `not valid YAML: ${err instanceof Error ? err.message : String(err)}`, label, { cause: err })
  }
  if (values == null) values = {}
  if (!isPlainObject(values)) {
    throw new ConfigError('CONFIG_INVALID', '', 'the top level must be a mapping of config keys', label)
  }

  const sourceOf = (p: FieldPath): string => {
    for (let n = p.length; n > 0; n--) {
      const node = doc.getIn(p.slice(0, n), true) as { range?: [number, number, number] } | undefined
      if (node?.range != null) {
        return `${label} line ${lineCounter.linePos(node.range[0]).line}`
      }
    }
    return label
  }
  return { kind: 'file', values, sourceOf, baseDir: path.dirname(abs) }
}
