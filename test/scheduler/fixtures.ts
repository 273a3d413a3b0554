/**
 * Fixtures for the scheduler tests: registry entries without signatures
 * (placement reads only the verified fields), fake peer ids, a fake latency
 * oracle and a seeded PRNG.
 */
import type { LatencyOracle, LatencyView } from '../../src/scheduler/index.js'
import type { RegistryEntry } from '../../src/registry/index.js'
import type { AbortOptions } from '@libp2p/interface'

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

/** A peer-id-shaped string (base58btc alphabet), unique per n. */
export function fakePeerId (n: number): string {
  let s = ''
  let x = n
  for (let i = 0; i < 8; i++) { s = B58[x % 58] + s; x = Math.floor(x / 58) }
  return `12D3KooWTest${s}`
}

export interface EntryOptions {
  region?: string
  zone?: string
  arch?: string
  runtimes?: Array<'wasi' | 'reactor'>
  tee?: boolean
  trust?: number
  cores?: number
  freeCpu?: number
  freeMemoryMb?: number
  load?: number
  multiaddrs?: string[]
}

export function entry (peerId: string, o: EntryOptions = {}): RegistryEntry {
  const region = o.region ?? 'eu-west'
  const now = Math.floor(Date.now() / 1000)
  const cores = o.cores ?? 4
  return {
    end: {
      id: `did:key:z${peerId}`,
      peerId,
      multiaddrs: o.multiaddrs ?? [],
      region,
      zone: o.zone ?? `${region}-a`,
      arch: o.arch ?? 'x64',
      platform: 'linux',
      cpu: { cores, model: 'test' },
      memory: { totalMb: 8192 },
      accelerators: [],
      runtimes: o.runtimes ?? ['wasi', 'reactor'],
      tee: { available: o.tee ?? false, kind: null, source: 'config' },
      trust: { level: 0, source: 'self-asserted' },
      load: { cpu: o.load ?? 0.1, memory: 0.5 },
      capacity: { cpu: o.freeCpu ?? cores, memoryMb: o.freeMemoryMb ?? 4096 },
      latency: null,
      credentials: [],
      software: { name: 'dcis-mesh', version: 'test' },
      issuedAt: new Date(now * 1000).toISOString(),
      expiresAt: new Date((now + 600) * 1000).toISOString()
    },
    jwt: `jwt-${peerId}`,
    iat: now,
    exp: now + 600,
    cid: null,
    source: 'gossip',
    receivedAt: Date.now(),
    trustLevel: o.trust ?? 0,
    trustSource: 'self-asserted',
    attestedRegion: null
  }
}

/** A LatencyOracle from a table `from -> to -> view`, and probe answers per peer. */
export class FakeOracle implements LatencyOracle {
  readonly table = new Map<string, Map<string, LatencyView>>()
  readonly probes = new Map<string, number>()
  readonly probed: string[] = []

  set (from: string, to: string, ms: number, errorMs = 0, source: LatencyView['source'] = 'estimated'): this {
    let row = this.table.get(from)
    if (row == null) { row = new Map(); this.table.set(from, row) }
    row.set(to, { ms, errorMs, source })
    return this
  }

  estimate (from: string, to: string): LatencyView | null {
    return this.table.get(from)?.get(to) ?? null
  }

  async probe (peerId: string, options: AbortOptions = {}): Promise<number> {
    options.signal?.throwIfAborted()
    this.probed.push(peerId)
    const v = this.probes.get(peerId)
    if (v == null) throw new Error(`no route to ${peerId}`)
    return v
  }
}

/** The seed for randomized tests: $SEED or a fixed default; printed by the test on failure. */
export function testSeed (fallback: number): number {
  const env = process.env.SEED
  return env != null && env !== '' && Number.isInteger(Number(env)) ? Number(env) : fallback
}
