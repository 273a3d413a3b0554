/**
 * A small emulated mesh for the latency-service tests and bench: real
 * libp2p nodes on 127.0.0.1 with the user-space link emulator (regions and an
 * RTT matrix), noise, yamux, identify, ping and gossipsub, each with a
 * latency service.
 */
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { emulatedTcp } from '../../src/latency/emulator/index.js'
import { createLatencyService } from '../../src/latency/service/index.js'
import type { RttMatrix } from '../../src/latency/emulator/index.js'
import type { LatencyService, LatencyServiceInit } from '../../src/latency/service/index.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'

export type MeshLibp2p = Libp2p<{ ping: Ping, pubsub: GossipSub, identify: unknown }>

export interface MeshMember {
  region: string
  libp2p: MeshLibp2p
  registry: Registry
  service: LatencyService
}

export const THREE_REGIONS: RttMatrix = {
  regions: ['eu', 'us', 'ap'],
  rttMs: [
    [20, 40, 100],
    [40, 20, 60],
    [100, 60, 20]
  ]
}

export function trueRtt (matrix: RttMatrix, a: string, b: string): number {
  const i = matrix.regions.indexOf(a)
  const j = matrix.regions.indexOf(b)
  const ab = matrix.rttMs[i][j] ?? 0
  const ba = matrix.rttMs[j][i] ?? 0
  return (ab + ba) / 2
}

export async function createEmulatedLibp2p (region: string, matrix: RttMatrix): Promise<MeshLibp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [emulatedTcp({ region, matrix })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({ globalSignaturePolicy: 'StrictSign', allowPublishToZeroTopicPeers: true, emitSelf: false })
    }
  }) as unknown as MeshLibp2p
}

export async function addMember (region: string, matrix: RttMatrix, init: LatencyServiceInit, seed: number): Promise<MeshMember> {
  const libp2p = await createEmulatedLibp2p(region, matrix)
  const registry = new Registry()
  const service = createLatencyService({ libp2p, metrics: registry, logger: pino({ level: 'silent' }) }, { ...init, seed })
  await service.start()
  return { region, libp2p, registry, service }
}

export async function connectAll (members: MeshMember[]): Promise<void> {
  for (let i = 0; i < members.length; i++) {
    for (let j = i + 1; j < members.length; j++) {
      await members[i].libp2p.dial(members[j].libp2p.getMultiaddrs()[0], { signal: AbortSignal.timeout(10_000) })
    }
  }
}

export async function stopMembers (members: MeshMember[]): Promise<void> {
  await Promise.all(members.map(async m => { await m.service.stop() }))
  await Promise.all(members.map(async m => { await m.libp2p.stop() }))
}

/** |estimate - truth| / truth of every ordered pair's best (or model-only) estimate; null entries when unknown */
export function relativeErrors (members: MeshMember[], matrix: RttMatrix, modelOnly = false): Array<number | null> {
  const out: Array<number | null> = []
  for (const a of members) {
    for (const b of members) {
      if (a === b) continue
      const e = a.service.estimator.estimate(b.libp2p.peerId.toString(), { modelOnly })
      const t = trueRtt(matrix, a.region, b.region)
      out.push(e === undefined ? null : Math.abs(e.ms - t) / t)
    }
  }
  return out
}
