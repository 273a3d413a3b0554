/**
 * What a running peer does with a fault that escaped every handler (issue 10):
 *
 * - an unhandled promise rejection is a bug, but one that has not corrupted
 *   anything yet: it is logged with its error and stack, counted in
 *   `dcis_unhandled_rejections_total`, and the peer keeps serving;
 * - an uncaught exception leaves the process in an unknown state: one clear
 *   fatal line is written (synchronously) and the process exits with
 *   `UNCAUGHT_EXIT_CODE`, so a supervisor (Docker `--restart unless-stopped`,
 *   systemd `Restart=on-failure`) restarts it on its data dir.
 *
 * Under `node --unhandled-rejections=strict` Node turns a rejection into an
 * uncaught exception first, so it takes the exit path (the tests run peers
 * that way, so a regression fails loudly).
 *
 * Installed by `dcis start` only; library code never touches `process`.
 */
import { Counter } from 'prom-client'
import type { Logger } from './logger.js'
import type { MetricsRegistry } from './metrics.js'

/** exit status after an uncaught exception (EX_SOFTWARE: an internal software error) */
export const UNCAUGHT_EXIT_CODE = 70

export interface ProcessFaultMetrics {
  unhandledRejections: Counter
}

export function createProcessFaultMetrics (registry: MetricsRegistry): ProcessFaultMetrics {
  return {
    unhandledRejections: new Counter({
      name: 'dcis_unhandled_rejections_total',
      help: 'Promise rejections no code handled (each one is a bug; the peer kept serving)',
      registers: [registry]
    })
  }
}

/** The part of `process` the handlers use (a fake in tests). */
export interface ProcessLike {
  on (event: 'unhandledRejection', listener: (reason: unknown) => void): unknown
  on (event: 'uncaughtException', listener: (err: Error, origin: string) => void): unknown
  off (event: 'unhandledRejection', listener: (reason: unknown) => void): unknown
  off (event: 'uncaughtException', listener: (err: Error, origin: string) => void): unknown
  exit (code: number): void
}

export interface ProcessFaultHandlersInit {
  logger: Logger
  metrics?: ProcessFaultMetrics
  /** default: the real `process` */
  process?: ProcessLike
}

function faultFields (reason: unknown): { name: string, message: string, code?: unknown, stack?: string } {
  if (reason instanceof Error) {
    return { name: reason.name, message: reason.message, code: (reason as { code?: unknown }).code, stack: reason.stack }
  }
  let message: string
  try { message = typeof reason === 'string' ? reason : JSON.stringify(reason) ?? String(reason) } catch { message = String(reason) }
  return { name: typeof reason, message }
}

/** Installs the handlers; returns a function that removes them again. */
export function installProcessFaultHandlers (init: ProcessFaultHandlersInit): () => void {
  const proc: ProcessLike = init.process ?? process
  const onRejection = (reason: unknown): void => {
    init.metrics?.unhandledRejections.inc()
    init.logger.error({ fault: 'unhandledRejection', err: faultFields(reason) }, 'unhandled promise rejection (a bug; the peer keeps serving)')
  }
  let exiting = false
  const onException = (err: Error, origin: string): void => {
    if (exiting) return
    exiting = true
    const e = faultFields(err)
    try {
      init.logger.fatal({ fault: origin, err: e }, `uncaught ${origin === 'unhandledRejection' ? 'rejection' : 'exception'}: ${e.name}: ${e.message}; exiting with code ${UNCAUGHT_EXIT_CODE} for a supervisor to restart the peer`)
    } finally {
      proc.exit(UNCAUGHT_EXIT_CODE)
    }
  }
  proc.on('unhandledRejection', onRejection)
  proc.on('uncaughtException', onException)
  return () => {
    proc.off('unhandledRejection', onRejection)
    proc.off('uncaughtException', onException)
  }
}

/**
 * The `--unhandled-rejections` mode this process runs with (from its own
 * arguments or NODE_OPTIONS; Node's default is `throw`).
 */
export function unhandledRejectionsMode (execArgv: string[] = process.execArgv, nodeOptions: string | undefined = process.env.NODE_OPTIONS): string {
  let mode = 'throw'
  for (const arg of [...(nodeOptions ?? '').split(/\s+/), ...execArgv]) {
    const m = /^--unhandled-rejections=([a-z-]+)$/.exec(arg)
    if (m != null) mode = m[1]
  }
  return mode
}
