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

/**
 * A validator compiled on its first call (ajv compiles ~100 route schemas
 * in a few hundred ms of CPU: most of a peer's start-up) or by
 * `compileAll()`, which the server runs in the background once it listens.
 * It behaves as ajv's own function: `errors` after a call, and `schemaEnv`
 * set so fastify passes the parent object (ajv then coerces and fills
 * defaults in a root value too).
 */
function lazyValidator (compile: () => ValidateFunction, pending: Set<() => void>): ValidateFunction {
  let fn: ValidateFunction | undefined
  const ensure = (): ValidateFunction => {
    if (fn === undefined) {
      // out of the background queue first: a schema that does not compile is tried again only by a request (a 500)
      pending.delete(ensure)
      fn = compile()
    }
    return fn
  }
  const wrapper = ((data: unknown, ctx?: unknown) => {
    const f = ensure()
    const ok = (f as (d: unknown, c?: unknown) => boolean)(data, ctx)
    wrapper.errors = f.errors
    return ok
  }) as ValidateFunction
  ;(wrapper as { schemaEnv?: unknown }).schemaEnv = {}
  pending.add(ensure)
  return wrapper
}

export interface LazyValidatorFactory {
  (externalSchemas?: Record<string, unknown>): (route: ValidatorRouteSchema) => ValidateFunction
  /** compiles every validator not compiled yet (a bad schema throws here) */
  compileAll: () => void
  /** compiles one validator not compiled yet; false when none is left */
  compileNext: () => boolean
  /** how many Ajv pairs were made (one per distinct set of external schemas, on its first compile) */
  builders: () => number
}

/** fastify `schemaController.compilersFactory.buildValidator`, compiling lazily (see lazyValidator) */
export function lazyBuildValidator (): LazyValidatorFactory {
  const pending = new Set<() => void>()
  // fastify asks for a validator builder per encapsulated plugin context,
  // mostly with the same shared schemas: the two Ajv instances (each
  // compiles its meta-schema and ajv-formats: ~0.25 s of a peer's start
  // when built eagerly per context) are made on the first compile and shared
  // by every context with the same external schemas
  const builders: Array<{ schemas: unknown[], build: ReturnType<typeof buildValidator> }> = []
  const builderFor = (externalSchemas: Record<string, unknown>): ReturnType<typeof buildValidator> => {
    const schemas = Object.values(externalSchemas)
    let entry = builders.find(b => b.schemas.length === schemas.length && b.schemas.every((x, i) => x === schemas[i]))
    if (entry === undefined) {
      entry = { schemas, build: buildValidator(externalSchemas) }
      builders.push(entry)
    }
    return entry.build
  }
  const factory = ((externalSchemas: Record<string, unknown> = {}) => {
    let build: ReturnType<typeof buildValidator> | undefined
    return (route: ValidatorRouteSchema) => lazyValidator(() => {
      build ??= builderFor(externalSchemas)
      return build(route)
    }, pending)
  }) as LazyValidatorFactory
  factory.builders = () => builders.length
  factory.compileAll = () => {
    for (const ensure of [...pending]) ensure()
  }
  factory.compileNext = () => {
    const next = pending.values().next()
    if (next.done === true) return false
    next.value()
    return true
  }
  return factory
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
