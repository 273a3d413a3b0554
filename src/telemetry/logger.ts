import { pino } from 'pino'
import type { DestinationStream, Logger as PinoLogger } from 'pino'

export type Logger = PinoLogger
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
export type SampledLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace'

export interface LoggerInit {
  level?: LogLevel
  /** static fields on every line, e.g. the peer id */
  base?: Record<string, unknown>
  /** where lines go; stderr by default so stdout stays for command output */
  destination?: DestinationStream
  /** share of lines kept per level (0..1, default 1); fatal lines are always kept */
  sampling?: Partial<Record<SampledLevel, number>>
}

const LEVEL_NAMES: Record<number, SampledLevel | undefined> = { 50: 'error', 40: 'warn', 30: 'info', 20: 'debug', 10: 'trace' }

/**
 * Per-level sampling: keeps exactly `rate` of the lines of a level, spread
 * evenly (an accumulator, not a coin: 0.1 keeps the 10th, 20th, ... line),
 * so a burst is thinned the same way on every run. Counts what it drops.
 */
export class LogSampler {
  private readonly rates = new Map<number, number>()
  private readonly acc = new Map<number, number>()
  readonly dropped: Record<SampledLevel, number> = { error: 0, warn: 0, info: 0, debug: 0, trace: 0 }

  constructor (sampling: Partial<Record<SampledLevel, number>> = {}) {
    for (const [num, name] of Object.entries(LEVEL_NAMES)) {
      const rate = name != null ? sampling[name] : undefined
      if (rate == null || rate >= 1) continue
      if (!(rate >= 0)) throw new RangeError(`log sampling rate of ${name} must be between 0 and 1`)
      this.rates.set(Number(num), rate)
      this.acc.set(Number(num), 0)
    }
  }

  get active (): boolean {
    return this.rates.size > 0
  }

  keep (level: number): boolean {
    const rate = this.rates.get(level)
    if (rate == null) return true
    const acc = (this.acc.get(level) ?? 0) + rate
    if (acc >= 1 - 1e-9) {
      this.acc.set(level, acc - 1)
      return true
    }
    this.acc.set(level, acc)
    const name = LEVEL_NAMES[level]
    if (name != null) this.dropped[name]++
    return false
  }
}

/** One root logger per node; JSON lines on stderr unless told otherwise. */
export function createLogger (init: LoggerInit = {}): Logger {
  const sampler = new LogSampler(init.sampling)
  return pino({
    level: init.level ?? 'info',
    base: init.base ?? {},
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(sampler.active
      ? {
          hooks: {
            logMethod (args, method, level) {
              if (sampler.keep(level)) method.apply(this, args)
            }
          }
        }
      : {})
  }, init.destination ?? pino.destination(2))
}

/** A child logger for one component: `forComponent(root, 'dcis:raft')`. */
export function forComponent (root: Logger, component: string, context: Record<string, unknown> = {}): Logger {
  return root.child({ component, ...context })
}
