/**
 * Response serializers compiled on first use (issue 13).
 *
 * fastify compiles a fast-json-stringify serializer for every response
 * schema of every route when the routes are registered: with the error
 * envelopes added to each route that is several hundred serializers and
 * ~0.12 s of a peer's start-up CPU, most of them for replies an idle peer
 * never sends. Here each serializer is compiled the first time its route
 * replies with that status, with fastify's own compiler
 * (@fastify/fast-json-stringify-compiler, required on first use so the
 * module graph of fast-json-stringify is not loaded at start either).
 */
import { createRequire } from 'node:module'
import type { SerializerFactory, SerializerCompiler, RouteDefinition, Serializer } from '@fastify/fast-json-stringify-compiler'

type SerializerSelector = () => SerializerFactory

const require = createRequire(import.meta.url)
let selector: SerializerSelector | undefined

/** fastify `schemaController.compilersFactory.buildSerializer`, compiling lazily */
export function lazyBuildSerializer (): SerializerFactory {
  return (externalSchemas?: unknown, options?: Parameters<SerializerFactory>[1]): SerializerCompiler => {
    let compiler: SerializerCompiler | undefined
    return (route: RouteDefinition): Serializer => {
      let fn: Serializer | undefined
      return (doc: unknown): string => {
        if (fn === undefined) {
          if (compiler === undefined) {
            selector ??= (require('@fastify/fast-json-stringify-compiler') as { SerializerSelector: SerializerSelector }).SerializerSelector
            compiler = selector()(externalSchemas, options)
          }
          fn = compiler(route)
        }
        return fn(doc)
      }
    }
  }
}
