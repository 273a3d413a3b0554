/**
 * The emulator's narrow logging need: a structured warning/debug line. A pino
 * logger (src/telemetry) fits as is; without one, libp2p's component logger
 * (the `DEBUG=dcis:*` style) is adapted.
 */
import type { ComponentLogger } from '@libp2p/interface'

export interface EmulatorLog {
  warn(context: Record<string, unknown>, message: string): void
  debug(context: Record<string, unknown>, message: string): void
}

export function fromComponentLogger (logger: ComponentLogger, name: string): EmulatorLog {
  const log = logger.forComponent(name)
  return {
    warn: (context, message) => { log.error('%s %o', message, context) },
    debug: (context, message) => { log('%s %o', message, context) }
  }
}
