/**
 * The END JSON Schema check (protocols/end/end.schema.json, the wire
 * contract). The validator is Ajv's with ajv-formats, compiled ahead of time
 * into end-validator.generated.ts (`npm run gen:schemas`), so a peer does
 * not compile the schema (~30 ms of CPU) when it verifies its first END.
 */
import { end } from './end-validator.generated.js'
import type { EdgeNodeDescriptor } from './descriptor.js'
import type { ErrorObject, ValidateFunction } from 'ajv'

const validate = end as unknown as ValidateFunction<EdgeNodeDescriptor>

function describe (err: ErrorObject | undefined): string {
  if (err == null) return 'invalid'
  return `${err.instancePath === '' ? '(root)' : err.instancePath} ${err.message ?? 'is invalid'}`
}

/** Returns null when valid, else a one-line reason naming the field. */
export function checkDescriptorSchema (value: unknown): string | null {
  return validate(value) ? null : describe(validate.errors?.[0])
}
