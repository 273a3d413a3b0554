/**
 * Writes the Ajv standalone validators of the config schemas
 * (src/config/schema-source.ts -> src/config/validators.generated.ts) and of
 * the END schema (protocols/end/end.schema.json ->
 * src/registry/end-validator.generated.ts); run after changing either:
 *   npm run gen:schemas
 */
import { writeFile } from 'node:fs/promises'
import { GENERATED, renderConfigValidators, renderEndValidator } from './standalone-validators.js'

await writeFile(GENERATED.config, renderConfigValidators())
await writeFile(GENERATED.end, renderEndValidator())
