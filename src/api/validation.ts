/**
 * Request validation: ajv compilers and the one-line error message.
 *
 * Two ajv instances per server: JSON bodies are validated strictly (a "2"
 * is not a number, a scalar is not an array), while path parameters, query
 * strings and headers, which arrive as text, are coerced to the schema's
 * types. Unknown properties are rejected (not silently removed) where a
 * schema says `additionalProperties: false`.
 */
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import type { AnySchema, ValidateFunction } from 'ajv'

export interface ValidationIssue {
  keyword: string
  instancePath: string
  message?: string
  params: Record<string, unknown>
}

/** One message naming the field: `body/constraints/cpu must be number`. */
export function formatValidationError (errors: ValidationIssue[], context: string): Error {
  const first = errors[0]
  if (first == null) {
    return new Error(`${context} is invalid`)
  }
  const path = `${context}${first.instancePath}`
  let message: string
  if (first.keyword === 'required' && typeof first.params.missingProperty === 'string') {
    message = `${path}/${first.params.missingProperty} is required`
  } else if (first.keyword === 'additionalProperties' && typeof first.params.additionalProperty === 'string') {
    message = `${path}/${first.params.additionalProperty} is not an allowed property`
  } else {
    message = `${path} ${first.message ?? 'is invalid'}`
  }
  return new Error(message)
}

function makeAjv (coerceTypes: boolean | 'array', externalSchemas: Record<string, unknown>): Ajv {
  const ajv = new Ajv({
    coerceTypes,
    useDefaults: true,
    removeAdditional: false,
    addUsedSchema: false,
    // one error is enough for the reply, and allErrors lets crafted input make validation slow
    allErrors: false
  })
  addFormats.default(ajv)
  for (const schema of Object.values(externalSchemas)) {
    ajv.addSchema(schema as AnySchema)
  }
  return ajv
}

export interface ValidatorRouteSchema {
  schema: Record<string, unknown>
  httpPart?: string
}

/** fastify `schemaController.compilersFactory.buildValidator` */
export function buildValidator (externalSchemas: Record<string, unknown> = {}): (route: ValidatorRouteSchema) => ValidateFunction {
  const strict = makeAjv(false, externalSchemas)
  const coercing = makeAjv('array', externalSchemas)
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strict : coercing
    if (typeof schema.$id === 'string') {
      const stored = ajv.getSchema(schema.$id)
      if (stored != null) return stored
    }
    return ajv.compile(schema)
  }
}
