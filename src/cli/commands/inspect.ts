import { apiRequest, apiUrlFrom } from '../client.js'
import { ms, shortId, table } from '../format.js'
import type { Command } from 'commander'

interface NodeInfo { peerId: string, did: string, multiaddrs: string[], region: string, zone: string }
interface Peer { peerId: string, multiaddrs: string[], rttMs: number | null, region: string | null }
interface RegistryNode { peerId: string, did: string, region: string, zone: string, end?: Record<string, unknown> }

interface InspectOptions { api?: string, json?: boolean }

function print (json: boolean | undefined, data: unknown, human: () => string): void {
  process.stdout.write((json === true ? JSON.stringify(data, null, 2) : human()) + '\n')
}

export async function runStatus (opts: InspectOptions): Promise<void> {
  const api = apiUrlFrom(opts.api)
  const node = await apiRequest<NodeInfo>(api, '/v1/node')
  const { peers } = await apiRequest<{ peers: Peer[] }>(api, '/v1/peers')
  let ready = true
  try {
    await apiRequest(api, '/readyz')
  } catch {
    ready = false
  }
  const status = { ...node, ready, peers: peers.length, api }
  print(opts.json, status, () => table([
    ['peer', node.peerId],
    ['did', node.did],
    ['region/zone', `${node.region}/${node.zone}`],
    ['ready', ready ? 'yes' : 'no (not bootstrapped yet)'],
    ['peers', String(peers.length)],
    ['api', api],
    ...node.multiaddrs.map((a, i) => [i === 0 ? 'listening' : '', a])
  ]))
}

export async function runPeers (opts: InspectOptions): Promise<void> {
  const api = apiUrlFrom(opts.api)
  const { peers } = await apiRequest<{ peers: Peer[] }>(api, '/v1/peers')
  print(opts.json, { peers }, () => peers.length === 0
    ? 'no connected peers'
    : table([['PEER', 'RTT', 'REGION', 'ADDRESS'], ...peers.map(p => [shortId(p.peerId), ms(p.rttMs), p.region ?? '-', p.multiaddrs[0] ?? '-'])]))
}

export async function runNodes (opts: InspectOptions): Promise<void> {
  const api = apiUrlFrom(opts.api)
  const { nodes } = await apiRequest<{ nodes: RegistryNode[] }>(api, '/v1/registry/nodes')
  print(opts.json, { nodes }, () => nodes.length === 0
    ? 'no verified descriptors'
    : table([['PEER', 'REGION', 'ZONE', 'DID'], ...nodes.map(n => [shortId(n.peerId), n.region, n.zone, n.did])]))
}

export function registerInspect (program: Command): void {
  for (const [name, description, fn] of [
    ['status', 'this peer: identity, readiness, peer count', runStatus],
    ['peers', 'connected peers with measured RTT', runPeers],
    ['nodes', 'verified node descriptors in the registry', runNodes]
  ] as const) {
    program.command(name)
      .description(description)
      .option('--api <url>', 'peer API URL (default $DCIS_API_URL or http://127.0.0.1:8080)')
      .option('--json', 'print JSON')
      .action(async (opts: InspectOptions) => { await fn(opts) })
  }
}
