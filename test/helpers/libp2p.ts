import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'

/**
 * A bare libp2p node on 127.0.0.1 (tcp, noise, yamux; no DHT, no peer
 * routing, no keep-alive pings, no connection monitor): for tests of one
 * mechanism between two real nodes. The caller stops it.
 */
export async function bareNode (): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ enableKeepAlive: false })],
    connectionMonitor: { enabled: false }
  })
}
