/**
 * The `dcis` command. Each subcommand lives in commands/; every failure ends
 * in one line on stderr and a non-zero exit code. Started by main.ts, which
 * checks the Node version before anything here is loaded.
 */
import { Command, CommanderError } from 'commander'
import { VERSION } from '../node/version.js'
import { registerAlloc } from './commands/alloc.js'
import { registerApply } from './commands/apply.js'
import { registerInspect } from './commands/inspect.js'
import { registerFn } from './commands/fn.js'
import { registerKeys } from './commands/keys.js'
import { registerKv } from './commands/kv.js'
import { registerLog } from './commands/log.js'
import { registerLatency } from './commands/latency.js'
import { registerSim } from './commands/sim.js'
import { registerRollout } from './commands/rollout.js'
import { registerStart } from './commands/start.js'
import { registerUp } from './commands/up.js'

export function buildProgram (): Command {
  const program = new Command()
  program.name('dcis')
    .description('dcis-mesh: a peer-to-peer edge mesh node')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
  registerStart(program)
  registerUp(program)
  registerInspect(program)
  registerKeys(program)
  registerLatency(program)
  registerApply(program)
  registerAlloc(program)
  registerKv(program)
  registerLog(program)
  registerFn(program)
  registerSim(program)
  registerRollout(program)
  return program
}

export async function main (): Promise<void> {
  const program = buildProgram()
  try {
    await program.parseAsync(process.argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are "errors" with exit code 0
      process.exitCode = err.exitCode
      return
    }
    const message = (err as Error).message ?? String(err)
    process.stderr.write(`dcis: ${message.split('\n')[0]}\n`)
    process.exitCode = (err as { exitCode?: number }).exitCode ?? 1
  }
}

