/**
 * Harness for the function integration tests: real libp2p peers on
 * 127.0.0.1 (tcp + noise + yamux + identify + ping + kad-dht), helia on each (as the
 * node builds it, stores on disk in a temp dir), the function service
 * (runtime, store, invoker, health checks), a manifest dispatcher and the
 * HTTP API on an ephemeral port.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { createApiServer } from '../../src/api/index.js'
import { manifestRoutes, ManifestDispatcher } from '../../src/services/manifests/index.js'
import { createHeliaOn, openStores } from '../../src/storage/index.js'
import { createFunctionService } from '../../src/wasm/functions/index.js'
import type { ApiAuthHook, ApiNode, ApiServer } from '../../src/api/index.js'
import type { HeliaOnLibp2p, NodeStores } from '../../src/storage/index.js'
import type { FunctionService, FunctionServiceComponents, FunctionServiceInit } from '../../src/wasm/functions/index.js'
import type { Logger } from '../../src/telemetry/index.js'
import type { Libp2p, PrivateKey } from '@libp2p/interface'

export const silent: Logger = pino({ level: process.env.DCIS_TEST_LOG ?? 'silent' })

export interface FnPeer {
  name: string
  dir: string
  key: PrivateKey
  libp2p: Libp2p
  stores: NodeStores
  helia: HeliaOnLibp2p
  manifests: ManifestDispatcher
  fns: FunctionService
  api: ApiServer
  metrics: Registry
  url: string
  id: string
  /** registry entries this peer sees (set by the test) */
  registry: Array<{ end: { peerId: string, runtimes: string[] } }>
  rtt: Map<string, number>
  stop: () => Promise<void>
}

export interface FnPeerInit extends FunctionServiceInit {
  name: string
  dir?: string
  key?: PrivateKey
  auth?: ApiAuthHook
  /** re-authorises invocations forwarded to this peer */
  authorizeCall?: FunctionServiceComponents['authorizeCall']
}

export async function startFnPeer (init: FnPeerInit): Promise<FnPeer> {
  const dir = init.dir ?? await mkdtemp(join(tmpdir(), `dcis-fn-${init.name}-`))
  const key = init.key ?? await generateKeyPair('Ed25519')
  const stores = await openStores(dir)
  const libp2p = await createLibp2p({
    privateKey: key,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // a DHT as the node has: helia provides (and cancels) through it
    services: { identify: identify(), ping: ping(), dht: kadDHT({ protocol: '/dcis/kad/1.0.0', clientMode: false, peerInfoMapper: passthroughMapper }) }
  })
  const helia = createHeliaOn({ libp2p, stores })
  await helia.start()
  const metrics = new Registry()
  const manifests = new ManifestDispatcher()
  const registry: FnPeer['registry'] = []
  const rtt = new Map<string, number>()
  const fns = createFunctionService({
    libp2p,
    helia,
    datastore: stores.datastore,
    registry: { list: () => registry },
    rttMs: (p) => rtt.get(p) ?? null,
    manifests,
    logger: silent,
    metrics,
    ...(init.authorizeCall != null ? { authorizeCall: init.authorizeCall } : {})
  }, { runtime: { workers: 1, ...init.runtime }, ...(init.store != null ? { store: init.store } : {}), ...(init.invoker != null ? { invoker: init.invoker } : {}), ...(init.routes != null ? { routes: init.routes } : {}) })
  await fns.start()
  const node: ApiNode = {
    info: () => ({ peerId: libp2p.peerId.toString(), did: 'did:key:test', multiaddrs: [], region: 'test', zone: 'test', end: null, endJwt: null }),
    peers: async () => [],
    isReady: () => true
  }
  const api = createApiServer({ node, metrics, logger: silent }, {
    host: '127.0.0.1',
    port: 0,
    routes: [fns.routes(), manifestRoutes(() => manifests)],
    ...(init.auth != null ? { auth: init.auth } : {})
  })
  await api.start()
  let stopped = false
  const peer: FnPeer = {
    name: init.name,
    dir,
    key,
    libp2p,
    stores,
    helia,
    manifests,
    fns,
    api,
    metrics,
    url: api.url,
    id: libp2p.peerId.toString(),
    registry,
    rtt,
    stop: async () => {
      if (stopped) return
      stopped = true
      await api.stop()
      await fns.stop()
      await helia.stop()
      await libp2p.stop()
      await stores.close()
    }
  }
  return peer
}

export { buildExamples, example } from './helpers.js'

export async function removeDir (dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

export async function connect (a: FnPeer, b: FnPeer): Promise<void> {
  await a.libp2p.dial(b.libp2p.getMultiaddrs()[0])
}

export interface HttpResult {
  status: number
  headers: Headers
  body: Uint8Array
  text: string
  json: () => any // eslint-disable-line @typescript-eslint/no-explicit-any -- test responses are checked field by field
}

export async function http (url: string, init: { method?: string, body?: Uint8Array | string, type?: string, headers?: Record<string, string> } = {}): Promise<HttpResult> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    ...(init.body != null ? { body: init.body as string } : {}),
    headers: { ...(init.type != null ? { 'content-type': init.type } : {}), ...init.headers },
    signal: AbortSignal.timeout(30_000)
  })
  const body = new Uint8Array(await res.arrayBuffer())
  const text = new TextDecoder().decode(body)
  return { status: res.status, headers: res.headers, body, text, json: () => JSON.parse(text) }
}

export async function deploy (peer: FnPeer, bytes: Uint8Array, query: string): Promise<HttpResult> {
  return await http(`${peer.url}/v1/functions?${query}`, { method: 'POST', body: bytes, type: 'application/wasm' })
}

export async function invoke (peer: FnPeer, ref: string, body: Uint8Array | string = ''): Promise<HttpResult> {
  return await http(`${peer.url}/v1/functions/${ref}`, { method: 'POST', body, type: 'application/octet-stream' })
}
