/**
 * In-process MeshNodes on 127.0.0.1 for registry integration tests and the
 * propagation benchmark: libp2p and the API on port 0, data dirs under one
 * temp dir, every node after the first bootstrapping from node 0.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultConfig } from '../../src/config/index.js'
import { createMeshNode } from '../../src/node/index.js'
import { createLogger } from '../../src/telemetry/index.js'
import type { DcisConfig } from '../../src/config/index.js'
import type { MeshNode } from '../../src/node/index.js'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface PeerSpec {
  region: string
  resources?: DcisConfig['resources']
  /** path of a trust-anchors.json */
  trustAnchors?: string
  /** paths of credential files (VC-JWTs) */
  credentials?: string[]
  federation?: string
  /** gossip.endRepublishIntervalMs (default 30 s) */
  republishIntervalMs?: number
}

export class TestMesh {
  readonly nodes: MeshNode[] = []
  dir = ''
  private readonly logLevel: 'silent' | 'warn' | 'debug'

  constructor (logLevel: 'silent' | 'warn' | 'debug' = process.env.DCIS_TEST_LOG === '1' ? 'debug' : 'silent') {
    this.logLevel = logLevel
  }

  async init (): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'dcis-registry-'))
  }

  config (index: number, spec: PeerSpec): DcisConfig {
    const c = defaultConfig()
    return {
      ...c,
      dataDir: join(this.dir, `peer-${index}`),
      region: spec.region,
      zone: `${spec.region}-a`,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      api: { ...c.api, host: '127.0.0.1', port: 0 },
      resources: spec.resources ?? {},
      ...(spec.trustAnchors != null ? { trustAnchors: spec.trustAnchors } : {}),
      ...(spec.credentials != null ? { credentials: spec.credentials } : {}),
      ...(spec.federation != null ? { federation: spec.federation } : {}),
      gossip: { endRepublishIntervalMs: spec.republishIntervalMs ?? 30_000 }
    }
  }

  /** The multiaddrs of node 0 (with /p2p/), for bootstrapping. */
  bootstrap (): Multiaddr[] {
    return this.nodes.length === 0 ? [] : this.nodes[0].libp2p.getMultiaddrs()
  }

  async add (spec: PeerSpec): Promise<MeshNode> {
    const index = this.nodes.length
    const node = createMeshNode({
      config: this.config(index, spec),
      bootstrapPeers: this.bootstrap(),
      logger: createLogger({ level: this.logLevel, base: { peer: index } })
    })
    await node.start()
    this.nodes.push(node)
    return node
  }

  async remove (node: MeshNode): Promise<void> {
    await node.stop()
    const i = this.nodes.indexOf(node)
    if (i >= 0) this.nodes.splice(i, 1)
  }

  async close (): Promise<void> {
    // stop in reverse so node 0 (everyone's bootstrap) goes last
    for (const node of [...this.nodes].reverse()) {
      try {
        await node.stop()
      } catch (err) {
        console.error('stopping a node failed', err)
      }
    }
    this.nodes.length = 0
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true })
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read loosely typed JSON
export async function api<T = any> (url: string, init?: RequestInit): Promise<{ status: number, body: T }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(20_000) })
  const text = await res.text()
  return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as T }
}

/** Sum of a Prometheus counter over the series whose labels include `labels`. */
export function counterValue (metricsText: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const m = /^[^{ ]+(?:\{([^}]*)\})?\s+(\S+)/.exec(line)
    if (m == null) continue
    const have = new Map<string, string>()
    for (const part of (m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have.set(part[1], part[2])
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) total += Number(m[2])
  }
  return total
}
