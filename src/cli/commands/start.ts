import type { StartOptions } from './start-run.js'
import type { Command } from 'commander'

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

export function registerStart (program: Command): void {
  program.command('start')
    .description('run one peer (Ctrl-C or SIGTERM stops it cleanly)')
    .option('--config <file>', 'YAML config file')
    .option('--data-dir <dir>', 'data directory (default ./.dcis)')
    .option('--listen <multiaddr>', 'libp2p listen address (repeatable)', collect)
    .option('--announce <multiaddr>', 'address to announce to other peers (repeatable)', collect)
    .option('--api <host:port>', 'HTTP API address (default 127.0.0.1:8080)')
    .option('--bootstrap <file|multiaddr>', 'bootstrap list file or multiaddr with /p2p/<peerId> (repeatable)', collect)
    .option('--region <region>', 'region of this peer')
    .option('--zone <zone>', 'zone of this peer')
    .option('--federation <name>', 'federation name (selects bootstrap/<name>.json)')
    .option('--trust-loopback', 'let loopback API clients act without a token')
    .option('--rtt-matrix <file>', 'emulate WAN latency between regions from an RTT matrix (local meshes)')
    .option('--site <name>', 'name of this peer for link faults (emulated links; default: the region)')
    .option('--link-faults <file>', 'follow link fault rules (partitions, one-way loss, delay) from a JSON file while running (emulated links)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .option('--credential <file>', 'a federation credential (VC-JWT file) to attach to this peer\'s descriptor (repeatable)', collect)
    .option('--trust-anchors <file>', 'trust anchors file (default bootstrap/<federation>/trust-anchors.json)')
    .option('--write-bootstrap <file>', 'once listening, write a bootstrap list naming this peer to FILE')
    .action(async (opts: StartOptions) => {
      const { runStart } = await import('./start-run.js')
      await runStart(opts)
    })
}
