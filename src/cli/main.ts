#!/usr/bin/env node
/**
 * The `dcis` entry point. It has no static imports, so it parses and runs on
 * any Node: on one older than the project needs it stops at once with one
 * line saying so (instead of a stack from an API that version lacks), else
 * it loads the CLI (program.ts).
 *
 * `dcis start` (a long-running peer) first replaces itself (execve: same
 * process, same pid, no wrapper left behind) with Node started with a small
 * young generation and 2 malloc arenas (src/cli/reexec.ts says why).
 * DCIS_NO_REEXEC=1 turns this off.
 *
 * Commands other than `start` run with Node's on-disk compile cache.
 */
const REQUIRED_MAJOR = 22
const major = Number(process.versions.node.split('.')[0])

if (!(major >= REQUIRED_MAJOR)) {
  process.stderr.write(`dcis: needs Node.js ${REQUIRED_MAJOR} or newer, this is ${process.version}; run it with the project's Node (node_modules/.bin/node dist/cli/main.js, or npx dcis)\n`)
  process.exitCode = 1
} else {
  const { reexecPlan } = await import('./reexec.js')
  const execve = (process as unknown as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve
  const plan = reexecPlan({ argv: process.argv, execArgv: process.execArgv, env: process.env, platform: process.platform, canExecve: typeof execve === 'function' })
  if (plan != null && execve != null) {
    try {
      execve(process.execPath, [process.execPath, ...plan.args], plan.env)
    } catch {
      // not possible here (e.g. a sandbox): run as we are
    }
  }
  // short-lived commands use V8's on-disk compile cache (os.tmpdir()/node-compile-cache;
  // NODE_COMPILE_CACHE moves it, NODE_DISABLE_COMPILE_CACHE=1 turns it off):
  // ~20 % less CPU loading their modules. Not `dcis start`: the cache
  // materialises the bytecode of every function the last run compiled, and a
  // long-running peer kept ~15 MiB more resident for a ~0.2 s faster start
  if (process.argv[2] !== 'start') {
    const { enableCompileCache } = await import('node:module')
    try {
      enableCompileCache?.()
    } catch {
      // a read-only or missing temporary directory: run without the cache
    }
  }
  const { main } = await import('./program.js')
  await main()
}
