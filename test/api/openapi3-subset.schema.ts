/**
 * A hand-written JSON Schema (draft-07) for the parts of OpenAPI 3.0.x this
 * API uses, written from the OpenAPI 3.0.3 specification text. It is a
 * subset, not the official meta-schema: it checks the document structure
 * (root, info, paths, operations, parameters, request bodies, responses,
 * media types, components, tags) and the Schema Object's 3.0 dialect (one
 * `type` string, `nullable` instead of a "null" type, no JSON-Schema-only
 * keywords such as `$id` or `const`). Objects not listed here (callbacks,
 * links, security schemes) are accepted only if absent.
 */
const ext = { '^x-': {} }

const reference = {
  type: 'object',
  required: ['$ref'],
  additionalProperties: false,
  properties: { $ref: { type: 'string', pattern: '^#/components/' } }
}

const schemaKeywords = {
  title: { type: 'string' },
  multipleOf: { type: 'number', exclusiveMinimum: 0 },
  maximum: { type: 'number' },
  exclusiveMaximum: { type: 'boolean' },
  minimum: { type: 'number' },
  exclusiveMinimum: { type: 'boolean' },
  maxLength: { type: 'integer', minimum: 0 },
  minLength: { type: 'integer', minimum: 0 },
  pattern: { type: 'string', format: 'regex' },
  maxItems: { type: 'integer', minimum: 0 },
  minItems: { type: 'integer', minimum: 0 },
  uniqueItems: { type: 'boolean' },
  maxProperties: { type: 'integer', minimum: 0 },
  minProperties: { type: 'integer', minimum: 0 },
  required: { type: 'array', items: { type: 'string' }, minItems: 1, uniqueItems: true },
  enum: { type: 'array', minItems: 1 },
  type: { type: 'string', enum: ['array', 'boolean', 'integer', 'number', 'object', 'string'] },
  not: { $ref: '#/definitions/schemaOrRef' },
  allOf: { type: 'array', items: { $ref: '#/definitions/schemaOrRef' } },
  oneOf: { type: 'array', items: { $ref: '#/definitions/schemaOrRef' } },
  anyOf: { type: 'array', items: { $ref: '#/definitions/schemaOrRef' } },
  items: { $ref: '#/definitions/schemaOrRef' },
  properties: { type: 'object', additionalProperties: { $ref: '#/definitions/schemaOrRef' } },
  additionalProperties: { oneOf: [{ type: 'boolean' }, { $ref: '#/definitions/schemaOrRef' }] },
  description: { type: 'string' },
  format: { type: 'string' },
  default: {},
  nullable: { type: 'boolean' },
  discriminator: { type: 'object', required: ['propertyName'] },
  readOnly: { type: 'boolean' },
  writeOnly: { type: 'boolean' },
  example: {},
  externalDocs: { type: 'object', required: ['url'] },
  deprecated: { type: 'boolean' },
  xml: { type: 'object' }
}

export const openapi30SubsetSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  required: ['openapi', 'info', 'paths'],
  additionalProperties: false,
  patternProperties: ext,
  properties: {
    openapi: { type: 'string', pattern: '^3\\.0\\.\\d+(-.+)?$' },
    info: {
      type: 'object',
      required: ['title', 'version'],
      additionalProperties: false,
      patternProperties: ext,
      properties: {
        title: { type: 'string' },
        description: { type: 'string' },
        termsOfService: { type: 'string' },
        contact: { type: 'object' },
        license: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          patternProperties: ext,
          properties: { name: { type: 'string' }, url: { type: 'string' } }
        },
        version: { type: 'string' }
      }
    },
    servers: { type: 'array', items: { type: 'object', required: ['url'] } },
    paths: {
      type: 'object',
      propertyNames: { pattern: '^(/|x-)' },
      additionalProperties: { $ref: '#/definitions/pathItem' }
    },
    components: {
      type: 'object',
      additionalProperties: false,
      patternProperties: ext,
      properties: {
        schemas: { $ref: '#/definitions/componentMap/schemas' },
        responses: { type: 'object', propertyNames: { pattern: '^[a-zA-Z0-9.\\-_]+$' }, additionalProperties: { oneOf: [{ $ref: '#/definitions/reference' }, { $ref: '#/definitions/response' }] } },
        parameters: { type: 'object', propertyNames: { pattern: '^[a-zA-Z0-9.\\-_]+$' }, additionalProperties: { oneOf: [{ $ref: '#/definitions/reference' }, { $ref: '#/definitions/parameter' }] } },
        requestBodies: { type: 'object', propertyNames: { pattern: '^[a-zA-Z0-9.\\-_]+$' }, additionalProperties: { oneOf: [{ $ref: '#/definitions/reference' }, { $ref: '#/definitions/requestBody' }] } },
        securitySchemes: { type: 'object' }
      }
    },
    security: { type: 'array', items: { type: 'object' } },
    tags: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        additionalProperties: false,
        patternProperties: ext,
        properties: { name: { type: 'string' }, description: { type: 'string' }, externalDocs: { type: 'object' } }
      }
    },
    externalDocs: { type: 'object', required: ['url'] }
  },
  definitions: {
    reference,
    componentMap: {
      schemas: { type: 'object', propertyNames: { pattern: '^[a-zA-Z0-9.\\-_]+$' }, additionalProperties: { $ref: '#/definitions/schemaOrRef' } }
    },
    schema: {
      type: 'object',
      additionalProperties: false,
      patternProperties: ext,
      properties: schemaKeywords,
      // an array schema must say what its items are
      if: { properties: { type: { const: 'array' } }, required: ['type'] },
      then: { required: ['items'] }
    },
    schemaOrRef: { oneOf: [{ $ref: '#/definitions/reference' }, { $ref: '#/definitions/schema' }] },
    mediaType: {
      type: 'object',
      additionalProperties: false,
      patternProperties: ext,
      properties: {
        schema: { $ref: '#/definitions/schemaOrRef' },
        example: {},
        examples: { type: 'object' },
        encoding: { type: 'object' }
      }
    },
    content: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[a-z*]+/[a-z0-9.+*-]+' },
      additionalProperties: { $ref: '#/definitions/mediaType' }
    },
    parameter: {
      type: 'object',
      required: ['name', 'in'],
      additionalProperties: false,
      patternProperties: ext,
      properties: {
        name: { type: 'string' },
        in: { type: 'string', enum: ['query', 'header', 'path', 'cookie'] },
        description: { type: 'string' },
        required: { type: 'boolean' },
        deprecated: { type: 'boolean' },
        allowEmptyValue: { type: 'boolean' },
        style: { type: 'string' },
        explode: { type: 'boolean' },
        allowReserved: { type: 'boolean' },
        schema: { $ref: '#/definitions/schemaOrRef' },
        content: { $ref: '#/definitions/content' },
        example: {},
        examples: { type: 'object' }
      },
      // "If the parameter location is "path", this property is REQUIRED and its value MUST be true."
      if: { properties: { in: { const: 'path' } } },
      then: { required: ['required'], properties: { required: { const: true } } },
      // a parameter has a schema or a content map, not both
      oneOf: [{ required: ['schema'] }, { required: ['content'] }]
    },
    requestBody: {
      type: 'object',
      required: ['content'],
      additionalProperties: false,
      patternProperties: ext,
      properties: {
        description: { type: 'string' },
        content: { $ref: '#/definitions/content' },
        required: { type: 'boolean' }
      }
    },
    response: {
      type: 'object',
      required: ['description'],
      additionalProperties: false,
      patternProperties: ext,
      properties: {
        description: { type: 'string' },
        headers: { type: 'object' },
        content: { $ref: '#/definitions/content' },
        links: { type: 'object' }
      }
    },
    responses: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^([1-5](\\d\\d|XX)|default|x-.*)$' },
      additionalProperties: { oneOf: [{ $ref: '#/definitions/reference' }, { $ref: '#/definitions/response' }] }
    },
    operation: {
      type: 'object',
      required: ['responses'],
      additionalProperties: false,
      patternProperties: ext,
      properties: {
        tags: { type: 'array', items: { type: 'string' } },
        summary: { type: 'string' },
        description: { type: 'string' },
        externalDocs: { type: 'object' },
        operationId: { type: 'string' },
        parameters: { type: 'array', items: { oneOf: [{ $ref: '#/definitions/reference' }, { $ref: '#/definitions/parameter' }] } },
        requestBody: { oneOf: [{ $ref: '#/definitions/reference' }, { $ref: '#/definitions/requestBody' }] },
        responses: { $ref: '#/definitions/responses' },
        deprecated: { type: 'boolean' },
        security: { type: 'array' },
        servers: { type: 'array' }
      }
    },
    pathItem: {
      type: 'object',
      additionalProperties: false,
      patternProperties: ext,
      properties: {
        summary: { type: 'string' },
        description: { type: 'string' },
        get: { $ref: '#/definitions/operation' },
        put: { $ref: '#/definitions/operation' },
        post: { $ref: '#/definitions/operation' },
        delete: { $ref: '#/definitions/operation' },
        options: { $ref: '#/definitions/operation' },
        head: { $ref: '#/definitions/operation' },
        patch: { $ref: '#/definitions/operation' },
        trace: { $ref: '#/definitions/operation' },
        servers: { type: 'array' },
        parameters: { type: 'array', items: { oneOf: [{ $ref: '#/definitions/reference' }, { $ref: '#/definitions/parameter' }] } }
      }
    }
  }
} as const
