import { repeatingTask } from '@libp2p/utils'
import type { Logger } from '../telemetry/index.js'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { RepeatingTask } from '@libp2p/utils'

export interface PeerRttComponents {
  libp2p: Libp2p<{ ping: Ping }>
  logger: Logger
}

export interface PeerRttInit {
  /** how often connected peers are pinged (ms); each round is jittered ±20% */
  intervalMs?: number
  /** at most this many peers per round, rotating through the rest */
  maxPeersPerRound?: number
  /** samples kept per peer; the reported RTT is their median (Serf keeps 3) */
  samples?: number
  timeoutMs?: number
}

/**
 * Pings connected peers over libp2p ping on a jittered interval and keeps a
 * median filter of the last few RTTs per peer. This is what `/v1/peers`
 * reports as `rttMs`. Peers that disconnect are forgotten.
 */
export class PeerRttTracker {
  private readonly components: PeerRttComponents
  private readonly samples = new Map<string, number[]>()
  private readonly maxSamples: number
  private readonly maxPeersPerRound: number
  private readonly intervalMs: number
  private readonly timeoutMs: number
  private task?: RepeatingTask
  private cursor = 0
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.samples.delete(evt.detail.toString())
  }

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    // measure a new neighbour promptly rather than at the next round
    void this.probe(evt.detail, AbortSignal.timeout(this.timeoutMs))
  }

  constructor (components: PeerRttComponents, init: PeerRttInit = {}) {
    this.components = components
    this.intervalMs = init.intervalMs ?? 5_000
    this.maxPeersPerRound = init.maxPeersPerRound ?? 32
    this.maxSamples = init.samples ?? 3
    this.timeoutMs = init.timeoutMs ?? 5_000
  }

  start (): void {
    if (this.task != null) return
    this.components.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.components.libp2p.addEventListener('peer:connect', this.onConnect)
    this.task = repeatingTask(async (options) => { await this.round(options?.signal) }, this.jittered(), {
      timeout: this.timeoutMs * 2
    })
    this.task.start()
  }

  stop (): void {
    this.components.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    this.components.libp2p.removeEventListener('peer:connect', this.onConnect)
    this.task?.stop()
    this.task = undefined
    this.samples.clear()
  }

  /** median of the recent samples, or null when the peer was never measured */
  rttMs (peerId: PeerId | string): number | null {
    const s = this.samples.get(peerId.toString())
    if (s == null || s.length === 0) return null
    const sorted = [...s].sort((a, b) => a - b)
    const mid = sorted.length >> 1
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  }

  private jittered (): number {
    return Math.round(this.intervalMs * (0.8 + Math.random() * 0.4))
  }

  private async round (signal?: AbortSignal): Promise<void> {
    const peers = this.components.libp2p.getPeers()
    if (peers.length === 0) return
    const count = Math.min(this.maxPeersPerRound, peers.length)
    const chosen: PeerId[] = []
    for (let i = 0; i < count; i++) {
      chosen.push(peers[(this.cursor + i) % peers.length])
    }
    this.cursor = (this.cursor + count) % peers.length
    const perPeer = signal != null
      ? AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)])
      : AbortSignal.timeout(this.timeoutMs)
    await Promise.all(chosen.map(async peer => { await this.probe(peer, perPeer) }))
    this.task?.setInterval(this.jittered())
  }

  private async probe (peer: PeerId, signal: AbortSignal): Promise<void> {
    try {
      const ms = await this.components.libp2p.services.ping.ping(peer, { signal })
      const key = peer.toString()
      const list = this.samples.get(key) ?? []
      list.push(ms)
      while (list.length > this.maxSamples) list.shift()
      this.samples.set(key, list)
    } catch (err) {
      this.components.logger.debug({ peer: peer.toString(), err: (err as Error).message }, 'ping failed')
    }
  }
}
