import type { UpOptions } from './up-run.js'
import type { Command } from 'commander'

export function registerUp (program: Command): void {
  program.command('up')
    .description('run a local mesh of peers on loopback, each its own process, with a live table (Ctrl-C stops all)')
    .option('--nodes <n>', 'number of peers', '5')
    .option('--regions <list>', 'comma-separated regions, assigned round-robin', 'eu-west,us-east,ap-south')
    .option('--base-port <port>', 'peer i: API on 127.0.0.1:(P+i), libp2p on tcp/(P+100+i)', '8080')
    .option('--rtt-matrix <file>', 'emulate RTTs between regions (JSON: {"regions": [...], "rttMs": [[...]]})')
    .option('--link-faults <file>', 'every peer follows link fault rules from this JSON file (peer i is site peer-i); see docs/link-faults.md')
    .option('--data-dir <dir>', 'where the peers keep their data', '.dcis/up')
    .option('--log-level <level>', 'log level of the peers (logs in <data-dir>/peer-N/node.log)', 'info')
    .option('--json', 'print one JSON line per change instead of a table')
    .option('--exit-when-connected', 'stop all peers and exit 0 once the mesh is fully connected (for scripts)')
    .action(async (opts: UpOptions) => {
      const { runUp } = await import('./up-run.js')
      await runUp(opts)
    })
}
