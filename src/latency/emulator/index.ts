/**
 * User-space link emulator: WAN latency for local meshes, inside the
 * transport, only when configured (the kernel here has no netem).
 *
 *   transports: [config.simulation.rtt ? emulatedTcp({ region, matrix }) : tcp()]
 *
 * How it works (see transport.ts and link-connection.ts):
 *
 * 1. Wrapping point: `emulatedTcp()` builds a stock `@libp2p/tcp` transport
 *    and gives it a proxy Upgrader. tcp turns each raw net.Socket (dialled or
 *    accepted) into its MultiaddrConnection and calls
 *    `upgrader.upgradeOutbound/upgradeInbound(maConn)`; the proxy first opens
 *    an emulated link over that maConn and passes the link to the real
 *    upgrader. Noise, yamux and every protocol then run over the link.
 * 2. Preamble: on every raw connection both sides immediately write
 *    magic "dlem" + version 1 + region length + region (printable ASCII, at
 *    most 64 bytes), then read the remote's. A bad magic/version/length/char,
 *    a timeout (`handshakeTimeoutMs`) or an early close closes that connection
 *    with a logged reason; the node keeps serving.
 * 3. Delay: each side delays the bytes IT SENDS by rttMs[self][remote] / 2
 *    (+ seeded jitter in ±jitterMs per write), in order, with one timer per
 *    connection (bytes written at t leave at t + d; bandwidth is not
 *    emulated). A request/response between regions a and b thus sees
 *    (rttMs[a][b] + rttMs[b][a]) / 2, i.e. the matrix RTT for a symmetric
 *    matrix, and each direction of a directional matrix is delayed by half
 *    its own entry. Same-region pairs see the diagonal.
 * 4. Unknown regions (the local one or a remote's) and null (unknown) matrix
 *    entries get no delay and one warning per region name / pair.
 *
 * Requirements and limits:
 * - Every peer of an emulated mesh must run emulatedTcp with the SAME matrix
 *   (`dcis up --rtt-matrix FILE` does this): a plain tcp() peer does not speak
 *   the preamble, so emulated and plain peers cannot connect to each other.
 * - The TCP three-way handshake itself is not delayed, so connection setup is
 *   about one RTT faster than on a real WAN; everything after it is delayed.
 * - Backpressure: once more than `maxQueuedBytes` (default 8 MiB) of delayed
 *   data is held for a connection, send() reports "full" and the layers above
 *   wait for 'drain'. It is a soft limit: the layer above may hand over one
 *   large buffered batch at a time; memory is ultimately bounded by yamux's
 *   stream windows, as with a plain socket.
 */
import { LinkEmulatorConfigError } from './errors.js'
import { DelayTable } from './matrix.js'
import { regionProblem } from './preamble.js'
import { systemScheduler } from './delay-queue.js'
import { EmulatedTcp } from './transport.js'
import type { LinkFaults } from './faults.js'
import type { Scheduler } from './delay-queue.js'
import type { EmulatorLog } from './log.js'
import type { RttMatrix } from './matrix.js'
import type { LinkInfo } from './transport.js'
import type { Transport } from '@libp2p/interface'
import type { TCPComponents, TCPOptions } from '@libp2p/tcp'

export type { RttMatrix } from './matrix.js'
export type { LinkInfo } from './transport.js'
export type { EmulatorLog } from './log.js'
export type { Scheduler } from './delay-queue.js'
export { validateRttMatrix, DelayTable } from './matrix.js'
export { LinkEmulatorConfigError, PreambleError, PreambleTimeoutError, PreambleAbortedError } from './errors.js'
export { encodePreamble, decodePreamble, MAX_REGION_BYTES, PREAMBLE_MAGIC, PREAMBLE_VERSION, PREAMBLE_VERSION_SITE } from './preamble.js'
export { DelayQueue, systemScheduler } from './delay-queue.js'
export { EmulatedTcp } from './transport.js'
export { LinkFaults, LinkFaultsFile, parseLinkFaults, linkFaultsDigest, DEFAULT_RESET_AFTER_MS } from './faults.js'
export type { LinkFaultRule, LinkFaultSet, LinkFaultAction, LinkFaultState, LinkFaultsFileInit } from './faults.js'
export { LinkFaultResetError } from './errors.js'

export interface LinkEmulatorInit {
  /** this peer's region; should be one of matrix.regions */
  region: string
  /** RTTs between regions; without one no delay is added (faults only) */
  matrix?: RttMatrix
  /** this peer's site for link faults (default: the region); sent in the preamble */
  site?: string
  /** link faults in force (see faults.ts); none when absent */
  faults?: LinkFaults
  /** uniform jitter in ±jitterMs added to each write's one-way delay (default 0) */
  jitterMs?: number
  /** seed for the jitter (default 0); each connection derives its own stream */
  seed?: number
  /** how long a raw connection may take to deliver its preamble (default 10 000 ms) */
  handshakeTimeoutMs?: number
  /** delayed bytes held per connection before send() reports backpressure (soft limit, default 8 MiB) */
  maxQueuedBytes?: number
  /** structured logger (e.g. forComponent(root, 'dcis:latency:emulator')); libp2p's logger otherwise */
  logger?: EmulatorLog
  /** told about each connection once its preamble exchange is done */
  onLink?: (info: LinkInfo) => void
  /** clock and timers (tests); the real ones by default */
  scheduler?: Scheduler
}

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000
export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024
const MAX_JITTER_MS = 10_000
const MAX_HANDSHAKE_TIMEOUT_MS = 600_000

/**
 * A libp2p transport factory: @libp2p/tcp with emulated WAN latency between
 * regions. Validates `init` eagerly and throws LinkEmulatorConfigError naming
 * the bad field.
 */
export function emulatedTcp (init: LinkEmulatorInit, tcpInit?: TCPOptions): (components: TCPComponents) => Transport {
  const settings = resolveSettings(init)
  return (components) => new EmulatedTcp(components, settings, tcpInit)
}

function resolveSettings (init: LinkEmulatorInit): ConstructorParameters<typeof EmulatedTcp>[1] {
  if (init == null || typeof init !== 'object') throw new LinkEmulatorConfigError('init', 'must be an object')
  if (typeof init.region !== 'string') throw new LinkEmulatorConfigError('region', 'must be a string')
  const problem = regionProblem(init.region)
  if (problem != null) throw new LinkEmulatorConfigError('region', `region ${JSON.stringify(init.region)} ${problem}`)
  const site = init.site ?? init.region
  if (typeof site !== 'string') throw new LinkEmulatorConfigError('site', 'must be a string')
  const siteProblem = regionProblem(site)
  if (siteProblem != null) throw new LinkEmulatorConfigError('site', `site ${JSON.stringify(site)} ${siteProblem}`)
  // validates the matrix (errors name `matrix...`) and keeps its own copy
  const table = init.matrix != null ? new DelayTable(init.matrix) : undefined
  const jitterMs = init.jitterMs ?? 0
  if (typeof jitterMs !== 'number' || !Number.isFinite(jitterMs) || jitterMs < 0 || jitterMs > MAX_JITTER_MS) {
    throw new LinkEmulatorConfigError('jitterMs', `must be a number of milliseconds in 0..${MAX_JITTER_MS}`)
  }
  const seed = init.seed ?? 0
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new LinkEmulatorConfigError('seed', 'must be an integer')
  const handshakeTimeoutMs = init.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS
  if (typeof handshakeTimeoutMs !== 'number' || !Number.isFinite(handshakeTimeoutMs) || handshakeTimeoutMs <= 0 || handshakeTimeoutMs > MAX_HANDSHAKE_TIMEOUT_MS) {
    throw new LinkEmulatorConfigError('handshakeTimeoutMs', `must be a number of milliseconds in 1..${MAX_HANDSHAKE_TIMEOUT_MS}`)
  }
  const maxQueuedBytes = init.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES
  if (!Number.isSafeInteger(maxQueuedBytes) || maxQueuedBytes <= 0) throw new LinkEmulatorConfigError('maxQueuedBytes', 'must be a positive integer')
  return {
    region: init.region,
    site,
    table,
    faults: init.faults,
    jitterMs,
    seed,
    handshakeTimeoutMs,
    maxQueuedBytes,
    scheduler: init.scheduler ?? systemScheduler(),
    logger: init.logger,
    onLink: init.onLink
  }
}
