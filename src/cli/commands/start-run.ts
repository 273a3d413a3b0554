import { existsSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfig, resolveBootstrap } from '../../config/index.js'
import { createMeshNode } from '../../node/index.js'
import { createLogger, createProcessFaultMetrics, forComponent, GzipLogExporter, installProcessFaultHandlers, unhandledRejectionsMode } from '../../telemetry/index.js'
import { MemoryTrimmer } from '../../telemetry/memory-trim.js'
import { pino } from 'pino'
import type { ConfigFlags, DcisConfig } from '../../config/index.js'
import type { MeshNode } from '../../node/index.js'

export interface StartOptions {
  config?: string
  dataDir?: string
  listen?: string[]
  announce?: string[]
  api?: string
  bootstrap?: string[]
  region?: string
  zone?: string
  trustLoopback?: boolean
  rttMatrix?: string
  site?: string
  linkFaults?: string
  logLevel?: string
  federation?: string
  writeBootstrap?: string
  credential?: string[]
  trustAnchors?: string
}

/** The repo's bootstrap/ folder (next to dist/ or src/). */
export function packageBootstrapDir (): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bootstrap')
}

/**
 * Bootstrap list: the configured entries, or else `bootstrap/<federation>.json`
 * from the package when it exists.
 */
export async function bootstrapFor (config: DcisConfig, cwd: string): Promise<ReturnType<typeof resolveBootstrap>> {
  if (config.bootstrap.length > 0) return resolveBootstrap(config.bootstrap, { cwd })
  const file = join(packageBootstrapDir(), `${config.federation}.json`)
  if (existsSync(file)) return resolveBootstrap([file], { cwd })
  return resolveBootstrap([], { cwd })
}

function toFlags (opts: StartOptions): ConfigFlags {
  const flags: ConfigFlags = {}
  if (opts.config != null) flags.config = opts.config
  if (opts.dataDir != null) flags.dataDir = opts.dataDir
  if (opts.listen != null && opts.listen.length > 0) flags.listen = opts.listen
  if (opts.announce != null && opts.announce.length > 0) flags.announce = opts.announce
  if (opts.api != null) flags.api = opts.api
  if (opts.bootstrap != null && opts.bootstrap.length > 0) flags.bootstrap = opts.bootstrap
  if (opts.region != null) flags.region = opts.region
  if (opts.zone != null) flags.zone = opts.zone
  if (opts.trustLoopback === true) flags.trustLoopback = true
  if (opts.rttMatrix != null) flags.rttMatrix = opts.rttMatrix
  if (opts.site != null) flags.site = opts.site
  if (opts.linkFaults != null) flags.linkFaults = opts.linkFaults
  if (opts.logLevel != null) flags.logLevel = opts.logLevel as ConfigFlags['logLevel']
  if (opts.federation != null) flags.federation = opts.federation
  if (opts.credential != null && opts.credential.length > 0) flags.credentials = opts.credential
  if (opts.trustAnchors != null) flags.trustAnchors = opts.trustAnchors
  return flags
}

async function writeBootstrapFile (file: string, node: MeshNode): Promise<void> {
  const peerId = node.identity.peerId.toString()
  const announced = node.config.announce.length > 0
    ? node.config.announce.map(a => a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`)
    : node.libp2p.getMultiaddrs().map(String)
  const doc = { federation: node.config.federation, peers: announced }
  await mkdir(dirname(resolve(file)), { recursive: true })
  const tmp = `${file}.tmp-${process.pid}`
  await writeFile(tmp, JSON.stringify(doc, null, 2) + '\n')
  await rename(tmp, file)
}

export async function runStart (opts: StartOptions): Promise<void> {
  const cwd = process.cwd()
  const config = await loadConfig({ env: process.env, flags: toFlags(opts), cwd })
  const bootstrapPeers = await bootstrapFor(config, cwd)
  // logs: per-level sampling, and optionally a batched gzip file besides stderr (docs/observability.md)
  const exportCfg = config.telemetry.logExport
  const exporter = exportCfg != null
    ? new GzipLogExporter({ ...exportCfg, file: resolve(cwd, exportCfg.file), onError: (err) => { process.stderr.write(`dcis: log export failed: ${err.message}\n`) } })
    : undefined
  const logger = createLogger({
    level: config.logLevel,
    sampling: config.telemetry.logSampling,
    ...(exporter != null ? { destination: pino.multistream([{ level: 'trace', stream: pino.destination(2) }, { level: 'trace', stream: exporter }]) } : {})
  })
  exporter?.start()
  const trustAnchorsFile = join(packageBootstrapDir(), config.federation, 'trust-anchors.json')
  const node = createMeshNode({ config, bootstrapPeers, logger, trustAnchorsFile })
  // a rejection nobody handled is logged and counted; an uncaught exception
  // exits non-zero for a supervisor to restart the peer (docs/operations.md)
  const processLog = forComponent(logger, 'dcis:process')
  installProcessFaultHandlers({ logger: processLog, metrics: createProcessFaultMetrics(node.metrics) })
  processLog.info({ pid: process.pid, unhandledRejections: unhandledRejectionsMode() }, 'process fault handlers installed')

  // start-up garbage and the grown young generation go back to the system
  // once the peer is up (docs/performance.md "Memory budget"); DCIS_MEMORY_TRIM=0 turns it off
  const trimmer = process.env.DCIS_MEMORY_TRIM === '0' ? undefined : new MemoryTrimmer({ logger: forComponent(logger, 'dcis:memory'), metrics: node.metrics })

  let stopping: Promise<void> | undefined
  const shutdown = (signal: string): void => {
    if (stopping != null) return
    logger.info({ signal }, 'stopping')
    trimmer?.stop()
    stopping = node.stop().then(async () => {
      await exporter?.stop()
      process.exit(0)
    }, async (err) => {
      logger.error({ err }, 'stop failed')
      await exporter?.stop().catch(() => {})
      process.exit(1)
    })
  }
  process.on('SIGINT', () => { shutdown('SIGINT') })
  process.on('SIGTERM', () => { shutdown('SIGTERM') })

  try {
    await node.start()
  } catch (err) {
    // one line (e.g. a wrong key), and exit: a failed start must not leave a process behind
    process.stderr.write(`dcis: ${((err as Error).message ?? String(err)).split('\n')[0]}\n`)
    process.exit(1)
  }
  trimmer?.start()
  if (config.api.trustLoopback) {
    logger.warn('api.trustLoopback is on: loopback clients may act without a token')
  }
  if (!apiHostIsLoopback(config.api.host) && config.api.tls?.enabled !== true) {
    const line = `WARNING: the API listens on ${config.api.host}:${config.api.port} beyond loopback over plain HTTP: bearer tokens and service data cross the network in clear. Put TLS in front of it or bind it to 127.0.0.1 (docs/security.md).`
    logger.warn({ host: config.api.host }, line)
    process.stderr.write(`dcis: ${line}\n`)
  }
  if (opts.writeBootstrap != null) await writeBootstrapFile(opts.writeBootstrap, node)
  const info = node.info()
  process.stdout.write(`dcis: peer ${info.peerId} (${info.region}/${info.zone}) up; API ${node.api?.url ?? 'off'}; libp2p ${info.multiaddrs.join(' ')}\n`)
}


/** Whether an API bind address reaches loopback clients only. */
export function apiHostIsLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.')
}
