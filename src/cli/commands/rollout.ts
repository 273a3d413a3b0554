import type { Command } from 'commander'

export interface RolloutOptions { api?: string, token?: string, json?: boolean }

const common = (cmd: Command): Command => cmd
  .option('--api <url>', 'peer API URL (default $DCIS_API_URL or http://127.0.0.1:8080)')
  .option('--token <jwt>', 'bearer token (default $DCIS_TOKEN; promote/abort need the deploy role)')
  .option('--json', 'print the rollout as JSON')

export function registerRollout (program: Command): void {
  const r = program.command('rollout').description('canary rollouts of functions: status, promote, abort (docs/rollouts.md)')
  common(r.command('status [name]')
    .description('the rollout of NAME (state, canary version, cohort regions, figures); without NAME every function\'s'))
    .action(async (name: string | undefined, opts: RolloutOptions) => {
      const { runRolloutStatus } = await import('./rollout-run.js')
      await runRolloutStatus(name, opts)
    })
  common(r.command('promote <name>')
    .description('promote the canary now: it becomes current everywhere (one decision for the federation)'))
    .action(async (name: string, opts: RolloutOptions) => {
      const { runRolloutAction } = await import('./rollout-run.js')
      await runRolloutAction('promote', name, opts)
    })
  common(r.command('abort <name>')
    .description('abort the rollout: the canary is withdrawn everywhere, the current version stays'))
    .action(async (name: string, opts: RolloutOptions) => {
      const { runRolloutAction } = await import('./rollout-run.js')
      await runRolloutAction('abort', name, opts)
    })
}
