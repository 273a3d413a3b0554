/**
 * Writes src/config/schema.generated.ts from the TypeBox schemas in
 * src/config/schema-source.ts (run after changing them):
 *   npm run gen:config-schema
 */
import { writeFile } from 'node:fs/promises'
import { renderGeneratedSchema } from '../src/config/schema-source.js'

await writeFile(new URL('../src/config/schema.generated.ts', import.meta.url), renderGeneratedSchema())
