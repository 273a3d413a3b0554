import type { Command } from 'commander'

export interface SimRunOptions { out?: string, network?: string, json?: boolean }
export interface SimComposeOptions { out?: string, image?: string, basePort?: string }

export function registerSim (program: Command): void {
  const sim = program.command('sim')
    .description('simulation lab: run scenarios of real peers with faults, reports, docker compose (simulations/README.md)')
    .argument('[scenario]', 'same as `dcis sim run SCENARIO` (with its defaults)')
    .action(async (scenario: string | undefined) => {
      if (scenario == null) { sim.help(); return }
      const { runSim } = await import('./sim-run.js')
      await runSim(scenario, {})
    })
  sim.command('run')
    .description('run SCENARIO.yaml: every peer a real `dcis start`; writes DIR/report.json and DIR/report.html; exit 1 when a check fails')
    .argument('<scenario>', 'scenario file (YAML)')
    .option('--out <dir>', 'output directory (default sim-out/<name>-<time>)')
    .option('--network <kind>', 'auto|netns|loopback (default: the scenario\'s, else auto)')
    .action(async (scenario: string, opts: SimRunOptions) => {
      const { runSim } = await import('./sim-run.js')
      await runSim(scenario, opts)
    })
  sim.command('validate')
    .description('check a scenario file and print its peers')
    .argument('<scenario>')
    .action(async (scenario: string) => {
      const { runSimValidate } = await import('./sim-run.js')
      runSimValidate(scenario)
    })
  sim.command('report')
    .description('print the summary table of a run directory')
    .argument('<dir>')
    .option('--json', 'print report.json\'s checks and summaries as JSON')
    .action(async (dir: string, opts: SimRunOptions) => {
      const { runSimReport } = await import('./sim-run.js')
      runSimReport(dir, opts)
    })
  sim.command('compose')
    .description('write DIR/docker-compose.yml (docker-compose 1.29 and Compose v2), the peers\' configs, the RTT matrix and DIR/faults.sh (the fault timeline as docker steps) for SCENARIO')
    .argument('<scenario>')
    .option('--out <dir>', 'output directory (default sim-out/<name>-compose)')
    .option('--base-port <port>', 'peer i\'s API on 127.0.0.1:(P+i)', '8080')
    .option('--image <name>', 'image name', 'dcis-mesh:sim')
    .action(async (scenario: string, opts: SimComposeOptions) => {
      const { runSimCompose } = await import('./sim-run.js')
      await runSimCompose(scenario, opts)
    })
  sim.command('clean')
    .description('remove what crashed runs left: peer processes, namespaces, bridges, iptables rules')
    .option('--force', 'also clean runs whose runner still lives')
    .action(async (opts: { force?: boolean }) => {
      const { runSimClean } = await import('./sim-run.js')
      await runSimClean(opts)
    })
}
