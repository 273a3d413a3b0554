import { apiRequest, apiUrlFrom, bearer } from '../client.js'
import { CliError } from '../errors.js'
import { shortId, table } from '../format.js'

export interface AllocOptions {
  cpu?: string
  memory?: string
  latencyMs?: string
  region?: string
  tee?: boolean
  trust?: string
  arch?: string
  runtime?: string
  from?: string
  replicas?: string
  leaseMs?: string
  explain?: boolean
  token?: string
  api?: string
  json?: boolean
}

interface AllocationNode { peerId: string, region: string, zone: string, rttMs?: number | null }
interface Explanation {
  total: number
  removed: Record<string, number>
  latencyUnknown: number
  borderline: number
  borderlineRejectedByProbe: number
  refused: number
  unreachable: number
  eligible: number
  replicas: number
  from: string
}
interface Allocation { id: string, nodes: AllocationNode[], constraints: Record<string, unknown>, expiresAt: string, explanation?: Explanation }

function number (flag: string, value: string | undefined, integer = false): number | undefined {
  if (value == null) return undefined
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new CliError(`${flag}: not ${integer ? 'an integer' : 'a number'}: ${value}`, 'BAD_ARGUMENT')
  }
  return n
}

/** The request body for the flags (the peer validates it again). */
export function allocBody (opts: AllocOptions): Record<string, unknown> {
  const constraints: Record<string, unknown> = {}
  const cpu = number('--cpu', opts.cpu)
  if (cpu != null) constraints.cpu = cpu
  if (opts.memory != null) constraints.memory = /^[0-9]+$/.test(opts.memory) ? Number(opts.memory) : opts.memory
  const latency = number('--latency-ms', opts.latencyMs)
  if (latency != null) constraints.latencyMs = latency
  if (opts.region != null) constraints.region = opts.region
  if (opts.tee === true) constraints.tee = true
  const trust = number('--trust', opts.trust)
  if (trust != null) constraints.trust = trust
  if (opts.arch != null) constraints.arch = opts.arch
  if (opts.runtime != null) constraints.runtime = opts.runtime
  if (opts.from != null) constraints.from = opts.from
  const body: Record<string, unknown> = { constraints }
  const replicas = number('--replicas', opts.replicas, true)
  if (replicas != null) body.replicas = replicas
  const lease = number('--lease-ms', opts.leaseMs, true)
  if (lease != null) body.leaseMs = lease
  return body
}

/** The explanation JSON a 409 NO_PLACEMENT message carries, if any. */
export function explanationFromMessage (message: string): Explanation | undefined {
  const at = message.indexOf('explanation {')
  if (at < 0) return undefined
  try {
    return JSON.parse(message.slice(at + 'explanation '.length)) as Explanation
  } catch {
    return undefined
  }
}

export function formatExplanation (e: Explanation): string {
  const rows: string[][] = [['STEP', 'REMOVED', 'LEFT']]
  let left = e.total
  rows.push(['candidates', '', String(left)])
  for (const [name, n] of Object.entries(e.removed)) {
    left -= n
    rows.push([name, String(n), String(left)])
  }
  const extra = [
    `measured from ${e.from}; ${e.replicas} replica(s) needed`,
    e.latencyUnknown > 0 ? `${e.latencyUnknown} removed by latency had no estimate` : '',
    e.borderline > 0 ? `${e.borderline} borderline probed, ${e.borderlineRejectedByProbe} rejected by the probe` : '',
    e.refused > 0 ? `${e.refused} refused by their ledger (no free capacity)` : '',
    e.unreachable > 0 ? `${e.unreachable} unreachable` : ''
  ].filter(s => s !== '')
  return table(rows) + '\n' + extra.join('\n')
}

export async function runAlloc (opts: AllocOptions): Promise<void> {
  const api = apiUrlFrom(opts.api)
  const body = allocBody(opts)
  const headers = bearer(opts.token)
  let allocation: Allocation
  try {
    allocation = await apiRequest<Allocation>(api, `/v1/allocations${opts.explain === true ? '?explain=true' : ''}`, { method: 'POST', body, headers, timeoutMs: 30_000 })
  } catch (err) {
    const explanation = err instanceof CliError && err.code === 'NO_PLACEMENT' ? explanationFromMessage(err.message) : undefined
    if (explanation != null) {
      if (opts.json === true) {
        process.stdout.write(JSON.stringify({ error: { code: 'NO_PLACEMENT' }, explanation }, null, 2) + '\n')
      } else if (opts.explain === true) {
        process.stdout.write('no placement\n' + formatExplanation(explanation) + '\n')
      }
      throw new CliError(`no placement: ${explanation.eligible} of ${explanation.total} candidates eligible, ${explanation.replicas} needed${opts.explain === true ? '' : ' (--explain for details)'}`, 'NO_PLACEMENT')
    }
    throw err
  }
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(allocation, null, 2) + '\n')
    return
  }
  const lines = [
    `allocation ${allocation.id}`,
    `expires ${allocation.expiresAt}`,
    table([['PEER', 'REGION', 'ZONE', 'RTT'], ...allocation.nodes.map(n => [shortId(n.peerId), n.region, n.zone, n.rttMs == null ? '-' : `${n.rttMs} ms`])])
  ]
  if (allocation.explanation != null) lines.push(formatExplanation(allocation.explanation))
  process.stdout.write(lines.join('\n') + '\n')
}
