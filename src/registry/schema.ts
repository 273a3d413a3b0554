import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { EdgeNodeDescriptor } from './descriptor.js'
import type { ErrorObject, ValidateFunction } from 'ajv'

// ajv-formats is CommonJS; its default export is the plugin function
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

/** The END JSON Schema, read from protocols/end/ (the wire contract). */
export const END_SCHEMA: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('../../protocols/end/end.schema.json', import.meta.url), 'utf8')
)

let compiled: ValidateFunction<EdgeNodeDescriptor> | undefined

function validator (): ValidateFunction<EdgeNodeDescriptor> {
  if (compiled == null) {
    const ajv = new Ajv({ allErrors: false, strict: true })
    addFormats(ajv)
    compiled = ajv.compile<EdgeNodeDescriptor>(END_SCHEMA)
  }
  return compiled
}

function describe (err: ErrorObject | undefined): string {
  if (err == null) return 'invalid'
  return `${err.instancePath === '' ? '(root)' : err.instancePath} ${err.message ?? 'is invalid'}`
}

/** Returns null when valid, else a one-line reason naming the field. */
export function checkDescriptorSchema (value: unknown): string | null {
  const validate = validator()
  return validate(value) ? null : describe(validate.errors?.[0])
}
