/**
 * The IoT case study (examples/iot/README.md) assembled in one process, for
 * the test (test/iot/iot.spec.ts) and the benchmarks (bench/iot/): three
 * regional peers (eu-west, us-east, ap-south) over real libp2p on loopback,
 * optionally with the emulated RTTs of simulations/rtt/three-regions.json;
 * a vehicle-metadata backend and a "core" receiver (CoreReceiver) on local
 * HTTP; and the manifests of manifests.yaml applied: the `fleet` service,
 * the `vehicles` edge cache, the `core` sink and the `iot-filter` function.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { defaultConfig, loadRttMatrix } from '../../src/config/index.js'
import { createMeshNode } from '../../src/node/index.js'
import type { MeshNode } from '../../src/node/index.js'
import { parseManifests } from '../../src/services/manifests/index.js'
import { createLogger } from '../../src/telemetry/index.js'
import { CoreReceiver } from './core-receiver.js'

export const REGIONS = ['eu-west', 'us-east', 'ap-south']
const HERE = new URL('./', import.meta.url)

export interface IotMeshOptions {
  /** emulate simulations/rtt/three-regions.json between the peers */
  emulateRtt?: boolean
  /** the sink's interval (default 60000, the article's minute) */
  sinkIntervalMs?: number
  /** the service's staleness bound (default 200) */
  maxStalenessMs?: number
  /** vehicles with metadata in the backend (v-0 .. v-(n-1)) */
  vehicles?: number
  logLevel?: 'silent' | 'warn' | 'info'
}

export interface IotMesh {
  nodes: MeshNode[]
  core: CoreReceiver
  coreUrl: string
  metadataUrl: string
  /** backend requests served (cache misses) */
  metadataHits: () => number
  dir: string
  functionId: string
  close: () => Promise<void>
}

/** the manifests with the URLs of this run (the file uses ${CORE_URL} and ${METADATA_URL}) */
export async function iotManifests (vars: Record<string, string>): Promise<string> {
  let text = await readFile(new URL('manifests.yaml', HERE), 'utf8')
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`\${${k}}`, v)
  return text
}

async function waitUntil (what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** the vehicle-metadata backend (HTTP, v-0 .. v-(vehicles-1)); `hits` counts the requests served */
export async function startMetadataBackend (vehicles: number): Promise<{ url: string, hits: () => number, close: () => Promise<void> }> {
  let hits = 0
  const meta: Server = createServer((req, res) => {
    hits++
    const id = decodeURIComponent((req.url ?? '/').split('/').pop() ?? '')
    const n = Number(id.replace(/^v-/, ''))
    if (!/^v-\d+$/.test(id) || n >= vehicles) { res.statusCode = 404; res.end(); return }
    res.setHeader('content-type', 'application/json')
    res.setHeader('x-data-region', REGIONS[n % REGIONS.length])
    // vehicles of one model in ten run hot brakes
    res.end(JSON.stringify({ id, model: n % 10 === 0 ? 'hauler' : 'van', maxBrakeTemp: n % 10 === 0 ? 450 : 350 }))
  })
  await new Promise<void>(resolve => meta.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(meta.address() as AddressInfo).port}/vehicles`,
    hits: () => hits,
    close: async () => { await new Promise(resolve => meta.close(resolve)) }
  }
}

/** the RTT matrix of simulations/rtt/three-regions.json */
export async function threeRegionRtt (): Promise<Awaited<ReturnType<typeof loadRttMatrix>>> {
  return loadRttMatrix(new URL('../../simulations/rtt/three-regions.json', import.meta.url).pathname)
}

/** the configuration of regional peer `i` (REGIONS[i]) with its data under `dir` */
export function iotPeerConfig (i: number, dir: string, rtt?: Awaited<ReturnType<typeof loadRttMatrix>>): ReturnType<typeof defaultConfig> {
  const c = defaultConfig()
  return {
    ...c,
    dataDir: join(dir, `peer-${i}`),
    region: REGIONS[i],
    zone: `${REGIONS[i]}-a`,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    api: { ...c.api, host: '127.0.0.1', port: 0, trustLoopback: true },
    resources: {},
    gossip: { endRepublishIntervalMs: 30_000 },
    ...(rtt != null ? { simulation: { ...c.simulation, rtt } } : {})
  }
}

/**
 * Deploys the function's bytes on `node` and applies manifests.yaml there
 * (the service first, then the rest once `serviceEverywhere` holds);
 * returns the function's CID.
 */
export async function deployIot (node: MeshNode, o: { coreUrl: string, metadataUrl: string, sinkIntervalMs?: number, maxStalenessMs?: number }, serviceEverywhere: () => boolean | Promise<boolean>): Promise<string> {
  // the function's bytes first (the Function manifest names them by CID)
  // compiles examples/functions/build/*.wasm with asc when missing or stale
  const { build } = await import(new URL('../functions/build.mjs', import.meta.url).href) as { build: (o: { quiet: boolean }) => Promise<string[]> }
  await build({ quiet: true })
  const wasm = new Uint8Array(await readFile(new URL('../functions/build/iot-filter.wasm', import.meta.url)))
  const deployed = await (node.functions?.store.deploy(wasm, { name: 'iot-filter-bytes', abi: 'reactor' }))
  if (deployed == null) throw new Error('functions are not running')
  let text = await iotManifests({ CORE_URL: o.coreUrl, METADATA_URL: o.metadataUrl, FUNCTION_CID: deployed.id })
  if (o.sinkIntervalMs != null) text = text.replace('intervalMs: 60000', `intervalMs: ${o.sinkIntervalMs}`)
  if (o.maxStalenessMs != null) text = text.replace('maxStalenessMs: 200', `maxStalenessMs: ${o.maxStalenessMs}`)
  const docs = parseManifests(text)
  // the service first: the sink checks it exists
  await node.manifests.apply(docs.filter(d => d.kind === 'EdgeStatefulService'))
  await waitUntil('fleet on every peer', serviceEverywhere)
  await node.manifests.apply(docs.filter(d => d.kind !== 'EdgeStatefulService'))
  return deployed.id
}

/** whether `n` holds a replica of fleet, the function, the sink and the cache */
export function iotReady (n: MeshNode): { fleet: boolean, rest: boolean } {
  return {
    fleet: n.crdt?.has('fleet') === true && n.crdt.isLocal('fleet'),
    rest: n.functions?.store.get('iot-filter') != null && n.sinks?.list().includes('core') === true && n.caches?.list().includes('vehicles') === true
  }
}

export { waitUntil }

export async function startIotMesh (o: IotMeshOptions = {}): Promise<IotMesh> {
  const dir = await mkdtemp(join(tmpdir(), 'dcis-iot-'))
  const meta = await startMetadataBackend(o.vehicles ?? 100)
  const core = new CoreReceiver(join(dir, 'core'))
  const coreUrl = await core.start()
  const rtt = o.emulateRtt === true ? await threeRegionRtt() : undefined
  const nodes: MeshNode[] = []
  const close = async (): Promise<void> => {
    for (const n of [...nodes].reverse()) await n.stop().catch(() => {})
    await core.stop()
    await meta.close()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    for (let i = 0; i < REGIONS.length; i++) {
      const node = createMeshNode({
        config: iotPeerConfig(i, dir, rtt),
        bootstrapPeers: nodes.length === 0 ? [] : nodes[0].libp2p.getMultiaddrs(),
        logger: createLogger({ level: o.logLevel ?? 'silent' })
      })
      await node.start()
      nodes.push(node)
    }
    await waitUntil('every registry to list every peer', () => nodes.every(n => n.registry.list().length === nodes.length))
    const functionId = await deployIot(nodes[0], { coreUrl, metadataUrl: meta.url, sinkIntervalMs: o.sinkIntervalMs, maxStalenessMs: o.maxStalenessMs }, () => nodes.every(n => iotReady(n).fleet))
    await waitUntil('the function, sink and cache on every peer', () => nodes.every(n => iotReady(n).rest))
    return { nodes, core, coreUrl, metadataUrl: meta.url, metadataHits: meta.hits, dir, functionId, close }
  } catch (err) {
    await close()
    throw err
  }
}

/** one sensor event as NDJSON (the load generator's format) */
export function event (vehicle: number, sensor: 'brake_temp' | 'speed', value: number, ts = Date.now()): string {
  return `{"vehicle":"v-${vehicle}","sensor":"${sensor}","value":${value},"ts":${ts}}`
}
