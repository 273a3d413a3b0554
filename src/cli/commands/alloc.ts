import type { AllocOptions } from './alloc-run.js'
import type { Command } from 'commander'

export function registerAlloc (program: Command): void {
  program.command('alloc')
    .description('place an allocation on peers that satisfy the constraints (POST /v1/allocations) and print it')
    .option('--cpu <cores>', 'free cores needed on each node')
    .option('--memory <quantity>', 'free memory needed on each node: 256Mi, 1Gi, 512M or bytes')
    .option('--latency-ms <ms>', 'hard limit on the RTT from --from (default: the peer asked)')
    .option('--region <region>', 'only nodes in this region')
    .option('--tee', 'only nodes with a trusted execution environment')
    .option('--trust <level>', 'minimum trust level')
    .option('--arch <arch>', 'only nodes of this architecture (x64, arm64, ...)')
    .option('--runtime <runtime>', 'wasi|reactor')
    .option('--from <peerOrRegion>', 'peer id or region latency is measured from')
    .option('--replicas <n>', 'number of nodes, spread across zones (1..16)')
    .option('--lease-ms <ms>', 'lease of the reservation (renewable)')
    .option('--explain', 'print how many candidates each constraint removed')
    .option('--token <jwt>', 'bearer token for the API (default $DCIS_TOKEN; not needed with --trust-loopback peers)')
    .option('--api <url>', 'peer API URL (default $DCIS_API_URL or http://127.0.0.1:8080)')
    .option('--json', 'print JSON')
    .action(async (opts: AllocOptions) => {
      const { runAlloc } = await import('./alloc-run.js')
      await runAlloc(opts)
    })
}
