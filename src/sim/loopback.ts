/**
 * The fallback lab network: every peer on 127.0.0.1 with its own pair of
 * ports. Cuts and delays are link-fault rules for the user-space emulator
 * (the runner writes them), so this class only hands out ports.
 */
import { createServer } from 'node:net'
import type { LabNetwork, PeerEndpoint } from './network.js'
import type { PeerPlan } from './scenario.js'

async function canBind (port: number): Promise<boolean> {
  return new Promise(resolve => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen(port, '127.0.0.1', () => { server.close(() => { resolve(true) }) })
  })
}

/** n consecutive free ports for APIs and n for libp2p (base, base+1000), spread by pid. */
async function freePorts (n: number, seed: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 21_000 + ((seed * 7919 + attempt * 613) % 18_000)
    let ok = true
    for (let i = 0; i < n && ok; i++) ok = (await canBind(base + i)) && (await canBind(base + 1000 + i))
    if (ok) return base
  }
  throw new Error(`no block of ${n} free loopback ports found`)
}

export class LoopbackNetwork implements LabNetwork {
  readonly kind = 'loopback' as const
  readonly enforcesBlocks = false
  readonly limits: string[]
  private base = 0

  constructor (reason: string) {
    this.limits = [
      `loopback network (${reason}): no network namespaces, so no router NAT and no bandwidth limits (tc tbf); nat: true peers stand in by having no listening socket (reached only through circuit relays)`,
      'partitions and one-way loss are link-emulator block rules (--link-faults): they hold bytes between emulated peers, not packets'
    ]
  }

  async setup (peers: PeerPlan[]): Promise<void> {
    this.base = await freePorts(peers.length, process.pid)
  }

  endpoint (peer: PeerPlan): PeerEndpoint {
    const libp2pPort = this.base + 1000 + peer.index
    const apiPort = this.base + peer.index
    // a NAT'd peer: no listening socket, so nobody can dial it directly (docs/nat.md)
    if (peer.site.nat === true) return { bindHost: '127.0.0.1', libp2pPort, apiPort, apiUrl: `http://127.0.0.1:${apiPort}`, dialAddr: null, noListen: true }
    return { bindHost: '127.0.0.1', libp2pPort, apiPort, apiUrl: `http://127.0.0.1:${apiPort}`, dialAddr: `/ip4/127.0.0.1/tcp/${libp2pPort}` }
  }

  wrap (): string[] { return [] }
  async setBlocks (): Promise<void> {}
  async teardown (): Promise<void> {}
}
