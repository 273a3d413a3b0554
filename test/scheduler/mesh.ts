/**
 * Real libp2p peers on 127.0.0.1 (tcp + noise + yamux), each with its own
 * AllocationService, a shared fake registry (entries carry the peers' real
 * addresses) and a fake latency oracle.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { MemoryDatastore } from 'datastore-core'
import { createLibp2p } from 'libp2p'
import { pino } from 'pino'
import { createAllocationService } from '../../src/scheduler/index.js'
import { entry, FakeOracle } from './fixtures.js'
import type { EntryOptions } from './fixtures.js'
import type { AllocationService, Capacity, CandidateSource } from '../../src/scheduler/index.js'
import type { RegistryEntry } from '../../src/registry/index.js'
import type { Logger } from '../../src/telemetry/index.js'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { Registry as PromRegistry } from 'prom-client'

export class FakeRegistry implements CandidateSource {
  entries: RegistryEntry[] = []
  /** peers the test peers accept protocol calls from (as a federation's verified members) */
  readonly members = new Set<string>()
  /** EndRegistry.learn, when a test sets it */
  learn?: (peerId: string) => Promise<RegistryEntry | undefined>
  list (): RegistryEntry[] {
    return this.entries
  }

  put (e: RegistryEntry): void {
    this.entries = [...this.entries.filter(x => x.end.peerId !== e.end.peerId), e]
  }
}

export interface MeshPeer {
  name: string
  key: PrivateKey
  libp2p: Libp2p
  service: AllocationService
  oracle: FakeOracle
  datastore: Datastore
  id: string
}

export const silent: Logger = pino({ level: 'silent' })

export async function startLibp2p (key: PrivateKey): Promise<Libp2p> {
  return createLibp2p({
    privateKey: key,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

export interface PeerInit {
  name: string
  capacity: Capacity
  registry: CandidateSource
  datastore?: Datastore
  key?: PrivateKey
  oracle?: FakeOracle
  now?: () => number
  metrics?: PromRegistry
  /** false: keep the service's default authorization (verified registry entries only) */
  members?: boolean
}

export async function startPeer (init: PeerInit): Promise<MeshPeer> {
  const key = init.key ?? await generateKeyPair('Ed25519')
  const libp2p = await startLibp2p(key)
  const datastore = init.datastore ?? new MemoryDatastore()
  const oracle = init.oracle ?? new FakeOracle()
  const registry = init.registry
  const authorize = init.members === false || !(registry instanceof FakeRegistry) ? undefined : (remote: string) => registry.members.has(remote)
  if (registry instanceof FakeRegistry) registry.members.add(libp2p.peerId.toString())
  const service = createAllocationService({ libp2p, datastore, registry, oracle, logger: silent, metrics: init.metrics }, { capacity: init.capacity, now: init.now, callTimeoutMs: 5_000, authorize })
  await service.start()
  return { name: init.name, key, libp2p, service, oracle, datastore, id: libp2p.peerId.toString() }
}

/** The registry entry of a peer, with its real addresses. */
export function entryOf (p: { id: string, libp2p: Pick<Libp2p, 'getMultiaddrs'> }, o: EntryOptions = {}): RegistryEntry {
  return entry(p.id, { ...o, multiaddrs: p.libp2p.getMultiaddrs().map(a => a.toString()) })
}

export async function stopPeer (p: MeshPeer): Promise<void> {
  await p.service.stop()
  await p.libp2p.stop()
}
