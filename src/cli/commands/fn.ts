import type { Command } from 'commander'

export interface FnCommonOptions { api?: string, token?: string, json?: boolean }
export interface FnRolloutFlags {
  canary?: string
  canaryShare?: string
  minHealthyTime?: string
  healthyDeadline?: string
  maxParallel?: string
  stagger?: string
  autoPromote?: boolean
  autoRevert?: boolean
  latencyP95?: string
  errorRate?: string
  relativeLatency?: string
  relativeErrorRate?: string
  minSamples?: string
}
export interface FnDeployOptions extends FnCommonOptions, FnRolloutFlags { name: string, abi?: string, memoryMb?: string, timeoutMs?: string, warmPoolSize?: string }
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
    .option('--canary <regions>', 'roll out as a canary in these regions (comma-separated) instead of making it current everywhere (docs/rollouts.md)')
    .option('--canary-share <0..1>', 'share of the peers of each canary region that serve the canary (default 1)')
    .option('--min-healthy-time <duration>', 'the canary must be healthy this long before promotion, e.g. 30s (default 30s)')
    .option('--healthy-deadline <duration>', 'no verdict by then: revert (default 5m)')
    .option('--max-parallel <n>', 'regions added per promotion step, 0 = all at once (default 1)')
    .option('--stagger <duration>', 'time between promotion steps (default 30s)')
    .option('--no-auto-promote', 'wait for `dcis rollout promote` once healthy')
    .option('--no-auto-revert', 'on an SLA breach mark the rollout failed instead of reverting')
    .option('--latency-p95 <ms>', 'SLA: canary p95 latency at most this many ms')
    .option('--error-rate <0..1>', 'SLA: canary error rate at most this')
    .option('--relative-latency <factor>', 'SLA: canary p95 at most FACTOR x the current version\'s in the same window')
    .option('--relative-error-rate <delta>', 'SLA: canary error rate at most the current version\'s + DELTA')
    .option('--min-samples <n>', 'canary invocations needed before a verdict (default 20)')
    .option('--json', 'print {"id", "name", "version"[, "rollout"]}'))
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
