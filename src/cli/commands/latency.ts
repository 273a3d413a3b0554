import type { Command } from 'commander'

export interface LatencyEvalOptions { matrix: string, json?: boolean, seed: string, rounds: string, neighbours: string }

export function registerLatency (program: Command): void {
  program.command('latency-eval')
    .description('offline accuracy of the peers\' latency estimator on an RTT matrix (e.g. ../shared/data/latency/seattle.json)')
    .requiredOption('--matrix <file>', 'JSON {"nodes": [...] | n, "rtt": [[ms|null]]}')
    .option('--seed <n>', 'seed for the neighbour draw and probe noise', '1')
    .option('--rounds <n>', 'gossip/probe rounds', '100')
    .option('--neighbours <n>', 'neighbours each node probes (at most)', '32')
    .option('--json', 'print one JSON object {nodes, pairs, medianRelError, p90RelError, rounds, ...}')
    .action(async (opts: LatencyEvalOptions) => {
      const { CliError } = await import('../errors.js')
      const { evaluateEstimator, formatEvalReport, loadLatencyMatrix } = await import('../../latency/index.js')
      const int = (flag: string, v: string, min: number, max: number): number => {
        const n = Number(v)
        if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${flag}: an integer from ${min} to ${max} (got ${v})`)
        return n
      }
      const seed = int('--seed', opts.seed, 0, 2 ** 31 - 1)
      const rounds = int('--rounds', opts.rounds, 1, 10_000)
      const neighbours = int('--neighbours', opts.neighbours, 1, 32)
      let matrix
      try {
        matrix = await loadLatencyMatrix(opts.matrix)
      } catch (err) {
        throw new CliError(`--matrix ${opts.matrix}: ${(err as Error).message.split('\n')[0]}`)
      }
      const result = evaluateEstimator(matrix, { seed, rounds, neighbours })
      process.stdout.write(opts.json === true ? JSON.stringify(result) + '\n' : formatEvalReport(result) + '\n')
    })
}
