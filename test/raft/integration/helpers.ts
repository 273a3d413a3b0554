/**
 * Real libp2p peers on 127.0.0.1 (tcp + noise + yamux) with a Raft transport
 * each, for the integration tests of the driver and the KV backend.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { pino } from 'pino'
import { createRaftTransport } from '../../../src/raft/transport/index.js'
import type { RaftTransport } from '../../../src/raft/transport/index.js'
import type { Logger } from '../../../src/telemetry/index.js'
import type { Libp2p, PrivateKey } from '@libp2p/interface'

export const silent: Logger = pino({ level: process.env.RAFT_TEST_LOG ?? 'silent' })

export interface TestPeer {
  key: PrivateKey
  libp2p: Libp2p
  transport: RaftTransport
  id: string
  dir: string
}

export async function startLibp2p (key: PrivateKey, port = 0): Promise<Libp2p> {
  return createLibp2p({
    privateKey: key,
    addresses: { listen: [`/ip4/127.0.0.1/tcp/${port}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

export async function makeTempDir (): Promise<string> {
  return mkdtemp(join(tmpdir(), 'dcis-raft-it-'))
}

/** Starts a peer; `book` gives every peer's addresses so the transport can dial before any connection exists. */
export async function startTestPeer (book: Map<string, string[]>, init: { key?: PrivateKey, dir?: string, port?: number } = {}): Promise<TestPeer> {
  const key = init.key ?? await generateKeyPair('Ed25519')
  const libp2p = await startLibp2p(key, init.port)
  const id = libp2p.peerId.toString()
  book.set(id, libp2p.getMultiaddrs().map(a => a.toString()))
  const transport = createRaftTransport({ libp2p, logger: silent, addressesOf: (p) => book.get(p) ?? [] })
  await transport.start()
  return { key, libp2p, transport, id, dir: init.dir ?? await makeTempDir() }
}

export async function stopTestPeer (p: TestPeer): Promise<void> {
  await p.transport.stop()
  await p.libp2p.stop()
}

export async function removeDir (dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}
