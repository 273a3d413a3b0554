/**
 * Schema validation, turning the first failure into a ConfigError that
 * names the field path, the reason and the source of the value. The
 * validators are Ajv's, compiled ahead of time (validators.generated.ts,
 * `npm run gen:schemas`): compiling the two config schemas at start cost a
 * peer ~140 ms of CPU.
 */
import type { ErrorObject, ValidateFunction } from 'ajv'
import { ConfigError, show } from './errors.js'
import { full, layer } from './validators.generated.js'

export type PathSegment = string | number
export type FieldPath = PathSegment[]

/** `['api','port']` -> `api.port`; `['listen',1]` -> `listen[1]`. */
export function formatPath (path: FieldPath): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else out += out === '' ? seg : `.${seg}`
  }
  return out
}

/** Resolves which source supplied the value at a path. */
export type SourceOf = (path: FieldPath) => string

export interface SchemaChecker {
  /** throws ConfigError on the first schema violation */
  check: (value: unknown, sourceOf: SourceOf, prefix?: FieldPath) => void
}

/**
 * The checkers of the merged config (`full`) and of one source's layer
 * (`layer`). `validate` must report the first error with Ajv's verbose
 * fields (`data`, `parentSchema`), as the generated validators do.
 */
export const configCheckers: { full: SchemaChecker, layer: SchemaChecker } = {
  full: createSchemaChecker(full as unknown as ValidateFunction),
  layer: createSchemaChecker(layer as unknown as ValidateFunction)
}

function createSchemaChecker (validate: ValidateFunction): SchemaChecker {
  return {
    check (value, sourceOf, prefix = []) {
      if (validate(value)) return
      const err = validate.errors?.[0]
      if (err == null) {
        throw new ConfigError('CONFIG_INVALID', formatPath(prefix), 'is invalid', sourceOf(prefix))
      }
      throw toConfigError(err, sourceOf, prefix)
    }
  }
}

function pointerToPath (pointer: string): FieldPath {
  if (pointer === '') return []
  return pointer.slice(1).split('/').map(s => {
    const seg = s.replace(/~1/g, '/').replace(/~0/g, '~')
    return /^(0|[1-9][0-9]*)$/.test(seg) ? Number(seg) : seg
  })
}

function toConfigError (err: ErrorObject, sourceOf: SourceOf, prefix: FieldPath): ConfigError {
  const path = [...prefix, ...pointerToPath(err.instancePath)]
  const got = ` (got ${show(err.data)})`
  const params = err.params as Record<string, unknown>
  const custom = (err.parentSchema as { errorText?: string } | undefined)?.errorText
  switch (err.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty)
      const known = Object.keys((err.parentSchema as { properties?: Record<string, unknown> })?.properties ?? {})
      const hint = closest(key, known)
      const keyPath = [...path, key]
      return new ConfigError('CONFIG_UNKNOWN_KEY', formatPath(keyPath),
        `unknown key${hint != null ? ` (did you mean "${hint}"?)` : ''}; known keys here: ${known.join(', ')}`,
        sourceOf(keyPath))
    }
    case 'required':
      return new ConfigError('CONFIG_INVALID', formatPath([...path, String(params.missingProperty)]), 'is required', sourceOf(path))
    case 'type': {
      const type = String(params.type)
      const article = /^[aeiou]/.test(type) ? 'an' : 'a'
      const label = type === 'object' ? 'a mapping' : type === 'array' ? 'a list' : `${article} ${type}`
      return new ConfigError('CONFIG_INVALID', formatPath(path), `must be ${label}${got}`, sourceOf(path))
    }
    case 'enum':
      return new ConfigError('CONFIG_INVALID', formatPath(path), `must be one of ${(params.allowedValues as unknown[]).join(', ')}${got}`, sourceOf(path))
    case 'pattern':
      return new ConfigError('CONFIG_INVALID', formatPath(path), `${custom ?? `must match ${String(params.pattern)}`}${got}`, sourceOf(path))
    default:
      return new ConfigError('CONFIG_INVALID', formatPath(path), `${custom ?? err.message ?? 'is invalid'}${got}`, sourceOf(path))
  }
}

/** The known key nearest to a typo (edit distance <= 2), if any. */
export function closest (key: string, known: string[]): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase())
    if (d < bestDistance) {
      best = k
      bestDistance = d
    }
  }
  return best
}

function editDistance (a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = tmp
    }
  }
  return prev[b.length]
}
