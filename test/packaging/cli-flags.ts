import { Command } from 'commander'
import { registerStart } from '../../src/cli/commands/start.js'

/**
 * Parses `args` (starting with the subcommand) against the real `dcis start`
 * definition without running it: returns the parsed options, or throws naming
 * the unknown flag / stray operand / missing value.
 */
export function parseStartArgs (args: string[]): Record<string, unknown> {
  if (args[0] !== 'start') throw new Error(`not a dcis start command line: ${args.join(' ')}`)
  const program = new Command()
  program.exitOverride()
  registerStart(program)
  const start = program.commands.find(c => c.name() === 'start')
  if (start == null) throw new Error('dcis has no start command')
  start.exitOverride()
  start.configureOutput({ writeErr: () => {}, writeOut: () => {} })
  const { operands, unknown } = start.parseOptions(args.slice(1))
  if (unknown.length > 0) throw new Error(`unknown dcis start argument(s): ${unknown.join(' ')}`)
  if (operands.length > 0) throw new Error(`unexpected operand(s): ${operands.join(' ')}`)
  return start.opts()
}
