import type { Command } from 'commander'

export interface FnCommonOptions { api?: string, token?: string, json?: boolean }
export interface FnDeployOptions extends FnCommonOptions { name: string, abi?: string, memoryMb?: string, timeoutMs?: string, warmPoolSize?: string }
export interface FnInvokeOptions extends FnCommonOptions { data?: string }
export type FnLsOptions = FnCommonOptions

const common = (cmd: Command): Command => cmd
  .option('--api <url>', 'peer API URL (default $DCIS_API_URL or http://127.0.0.1:8080)')
  .option('--token <jwt>', 'bearer token (default $DCIS_TOKEN; see dcis token issue --role deploy)')

export function registerFn (program: Command): void {
  const fn = program.command('fn').description('Wasm functions: deploy, invoke, list')
  common(fn.command('deploy <file>')
    .description('deploy FILE.wasm as the current version of --name; prints the function id (its CID)')
    .requiredOption('--name <name>', 'function name (a-z, 0-9, -)')
    .option('--abi <abi>', 'wasi | reactor', 'wasi')
    .option('--memory-mb <n>', 'memory limit of one instance, MiB')
    .option('--timeout-ms <n>', 'wall-clock limit of one invocation, ms')
    .option('--warm-pool-size <n>', 'warm instances kept per worker')
    .option('--json', 'print {"id", "name", "version"}'))
    .action(async (file: string, opts: FnDeployOptions) => {
      const { runFnDeploy } = await import('./fn-run.js')
      await runFnDeploy(file, opts)
    })
  common(fn.command('invoke <id>')
    .description('invoke a function (name or CID) on a peer and print its output')
    .option('--data <string|@file>', 'request body: a string, or @FILE to read it from a file (- for stdin: @-)')
    .option('--json', 'print {"ranOn", "durationMs", "coldStart", "body"}'))
    .action(async (id: string, opts: FnInvokeOptions) => {
      const { runFnInvoke } = await import('./fn-run.js')
      await runFnInvoke(id, opts)
    })
  common(fn.command('ls')
    .description('functions known to a peer')
    .option('--json', 'print {"functions": [...]}'))
    .action(async (opts: FnLsOptions) => {
      const { runFnLs } = await import('./fn-run.js')
      await runFnLs(opts)
    })
}
