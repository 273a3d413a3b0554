/** The `info` block of the OpenAPI document: the version is the HTTP API's, not the package's. */
export const OPENAPI_INFO = Object.freeze({
  title: 'dcis-mesh node API',
  description: 'The HTTP API every dcis-mesh peer serves. Errors are always {"error": {"code", "message"}}.',
  version: '1.0.0',
  license: { name: 'Apache-2.0' }
})
