/**
 * Writes the generated schema files (run after changing
 * src/config/schema-source.ts or protocols/end/end.schema.json):
 *   npm run gen:schemas
 * - src/config/schema.generated.ts: the TypeBox config schemas as plain JSON Schema
 * - src/config/validators.generated.ts and src/registry/end-validator.generated.ts:
 *   Ajv standalone validators of the config and END schemas
 * The validators are rendered from the schema file written first, so one run does both.
 */
import { writeFile } from 'node:fs/promises'
import { renderGeneratedSchema } from '../src/config/schema-source.js'

await writeFile(new URL('../src/config/schema.generated.ts', import.meta.url), renderGeneratedSchema())
const { GENERATED, renderConfigValidators, renderEndValidator } = await import('./standalone-validators.js')
await writeFile(GENERATED.config, renderConfigValidators())
await writeFile(GENERATED.end, renderEndValidator())
