/**
 * Where the peers of a run live and how their links are cut: the contract
 * between the runner and the two lab networks (netns.ts, loopback.ts).
 */
import type { PeerPlan } from './scenario.js'

export interface PeerEndpoint {
  /** host for --listen and --api inside the peer's network */
  bindHost: string
  libp2pPort: number
  apiPort: number
  /** how the runner reaches the API */
  apiUrl: string
  /** the libp2p address other peers dial (without /p2p); null = not dialable (behind NAT) */
  dialAddr: string | null
  /**
   * no libp2p listening socket at all (loopback stand-in for NAT): the peer
   * dials out and is reached only through circuit relays (docs/nat.md)
   */
  noListen?: boolean
}

/** A one-way cut: bytes from `from` to `to` are dropped (silently, TCP keeps retrying). */
export interface Block { from: PeerPlan, to: PeerPlan }

export interface LabNetwork {
  readonly kind: 'netns' | 'loopback'
  /** fault kinds and features this network cannot do, with the reason (reported) */
  readonly limits: string[]
  /** true when blocks are enforced here (nft); false = the runner uses link-fault rules */
  readonly enforcesBlocks: boolean
  setup: (peers: PeerPlan[]) => Promise<void>
  endpoint: (peer: PeerPlan) => PeerEndpoint
  /** argv prefix that runs a command inside the peer's network */
  wrap: (peer: PeerPlan) => string[]
  /** replaces the set of blocked one-way links */
  setBlocks: (blocks: Block[]) => Promise<void>
  teardown: () => Promise<void>
}
