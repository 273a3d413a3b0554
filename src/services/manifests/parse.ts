import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import { parseAllDocuments } from 'yaml'
import { ManifestError } from './errors.js'
import type { ErrorObject, ValidateFunction } from 'ajv'

export type ManifestKind = 'EdgeStatefulService' | 'Function' | 'HealthCheck' | 'Sink' | 'EdgeCache'

export interface Manifest<S = Record<string, unknown>> {
  apiVersion: 'edge/v1'
  kind: ManifestKind
  metadata: { name: string, labels?: Record<string, string> }
  spec: S
}

export const MAX_MANIFEST_BYTES = 256 * 1024
export const MAX_DOCUMENTS = 16

const SCHEMA_FILES: Record<ManifestKind | 'envelope', string> = {
  envelope: 'manifest.schema.json',
  EdgeStatefulService: 'edge-stateful-service.schema.json',
  Function: 'function.schema.json',
  HealthCheck: 'health-check.schema.json',
  Sink: 'sink.schema.json',
  EdgeCache: 'edge-cache.schema.json'
}

let validators: Record<string, ValidateFunction> | undefined

function compiled (): Record<string, ValidateFunction> {
  if (validators == null) {
    const ajv = new Ajv({ allErrors: false, strict: true })
    validators = {}
    for (const [kind, file] of Object.entries(SCHEMA_FILES)) {
      const schema = JSON.parse(readFileSync(new URL(`../../../protocols/manifests/${file}`, import.meta.url), 'utf8')) as Record<string, unknown>
      validators[kind] = ajv.compile(schema)
    }
  }
  return validators
}

function reason (err: ErrorObject | undefined, prefix: string): [string, string] {
  if (err == null) return [prefix, 'is invalid']
  const path = (prefix + err.instancePath).replace(/^\//, '').replace(/\//g, '.')
  if (err.keyword === 'additionalProperties') {
    const extra = (err.params as { additionalProperty: string }).additionalProperty
    return [path === '' ? extra : `${path}.${extra}`, 'unknown field']
  }
  if (err.keyword === 'enum') return [path, `must be one of ${(err.params as { allowedValues: unknown[] }).allowedValues.map(v => JSON.stringify(v)).join(', ')}`]
  if (err.keyword === 'const') return [path, `must be ${JSON.stringify((err.params as { allowedValue: unknown }).allowedValue)}`]
  if (err.keyword === 'required') return [path === '' ? (err.params as { missingProperty: string }).missingProperty : `${path}.${(err.params as { missingProperty: string }).missingProperty}`, 'is required']
  return [path, err.message ?? 'is invalid']
}

/** Validates one decoded manifest document; throws ManifestError naming the field. */
export function validateManifest (doc: unknown, index?: number): Manifest {
  const v = compiled()
  if (!v.envelope(doc)) {
    const [field, why] = reason(v.envelope.errors?.[0], '')
    throw new ManifestError(field, why, index)
  }
  const m = doc as Manifest
  const check = v[m.kind]
  if (!check(m.spec)) {
    const [field, why] = reason(check.errors?.[0], '/spec')
    throw new ManifestError(field, why, index)
  }
  return m
}

/**
 * Decodes a request body of YAML (one or more `---` documents) or JSON (an
 * object or an array of objects) and validates every document.
 */
export function parseManifests (body: string | Buffer, contentType = 'application/yaml'): Manifest[] {
  const text = typeof body === 'string' ? body : body.toString('utf8')
  if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES) throw new ManifestError('', `larger than ${MAX_MANIFEST_BYTES} bytes`)
  let docs: unknown[]
  if (contentType.includes('json')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      throw new ManifestError('', `not JSON: ${(err as Error).message}`)
    }
    docs = Array.isArray(parsed) ? parsed : [parsed]
  } else {
    const all = parseAllDocuments(text, { uniqueKeys: true })
    const list = Array.isArray(all) ? all : [all]
    docs = []
    for (const [i, d] of list.entries()) {
      if (d.errors.length > 0) throw new ManifestError('', `YAML: ${d.errors[0].message.split('\n')[0]}`, i)
      const value = d.toJS({ maxAliasCount: 16 }) as unknown
      if (value != null) docs.push(value)
    }
  }
  if (docs.length === 0) throw new ManifestError('', 'no manifest in the body')
  if (docs.length > MAX_DOCUMENTS) throw new ManifestError('', `at most ${MAX_DOCUMENTS} manifests per request`)
  return docs.map((d, i) => validateManifest(d, docs.length > 1 ? i : undefined))
}
