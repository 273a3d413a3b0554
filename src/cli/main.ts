#!/usr/bin/env node
/**
 * The `dcis` entry point. It has no static imports, so it parses and runs on
 * any Node: on one older than the project needs it stops at once with one
 * line saying so (instead of a stack from an API that version lacks), else
 * it loads the CLI (program.ts).
 */
const REQUIRED_MAJOR = 22
const major = Number(process.versions.node.split('.')[0])

if (!(major >= REQUIRED_MAJOR)) {
  process.stderr.write(`dcis: needs Node.js ${REQUIRED_MAJOR} or newer, this is ${process.version}; run it with the project's Node (node_modules/.bin/node dist/cli/main.js, or npx dcis)\n`)
  process.exitCode = 1
} else {
  const { main } = await import('./program.js')
  await main()
}
