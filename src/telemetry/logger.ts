import { pino } from 'pino'
import type { DestinationStream, Logger as PinoLogger } from 'pino'

export type Logger = PinoLogger
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface LoggerInit {
  level?: LogLevel
  /** static fields on every line, e.g. the peer id */
  base?: Record<string, unknown>
  /** where lines go; stderr by default so stdout stays for command output */
  destination?: DestinationStream
}

/** One root logger per node; JSON lines on stderr unless told otherwise. */
export function createLogger (init: LoggerInit = {}): Logger {
  return pino({
    level: init.level ?? 'info',
    base: init.base ?? {},
    timestamp: pino.stdTimeFunctions.isoTime
  }, init.destination ?? pino.destination(2))
}

/** A child logger for one component: `forComponent(root, 'dcis:raft')`. */
export function forComponent (root: Logger, component: string, context: Record<string, unknown> = {}): Logger {
  return root.child({ component, ...context })
}
