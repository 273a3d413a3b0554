/**
 * `dcis fn deploy|invoke|ls`: thin clients of POST /v1/functions,
 * POST /v1/functions/{id} and GET /v1/functions.
 */
import { readFile } from 'node:fs/promises'
import { apiRequest, apiUrlFrom, bearer } from '../client.js'
import { CliError } from '../errors.js'
import type { FnDeployOptions, FnInvokeOptions, FnLsOptions } from './fn.js'

export interface Output { write: (s: string | Uint8Array) => unknown }

function intOption (flag: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined
  if (!/^\d+(\.\d+)?$/.test(v)) throw new CliError(`${flag}: must be a number, got ${JSON.stringify(v)}`, 'BAD_ARGUMENT')
  return v
}

async function readStdin (): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return new Uint8Array(Buffer.concat(chunks))
}

export async function runFnDeploy (file: string, opts: FnDeployOptions, out: Output = process.stdout): Promise<{ id: string, name: string, version: number }> {
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(await readFile(file))
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`, 'BAD_ARGUMENT')
  }
  if (opts.abi != null && opts.abi !== 'wasi' && opts.abi !== 'reactor') throw new CliError(`--abi: must be wasi or reactor, got ${opts.abi}`, 'BAD_ARGUMENT')
  const q = new URLSearchParams({ name: opts.name, abi: opts.abi ?? 'wasi' })
  for (const [key, flag, v] of [['memoryMb', '--memory-mb', opts.memoryMb], ['timeoutMs', '--timeout-ms', opts.timeoutMs], ['warmPoolSize', '--warm-pool-size', opts.warmPoolSize]] as const) {
    const checked = intOption(flag, v)
    if (checked !== undefined) q.set(key, checked)
  }
  const rolloutFlags: Array<[string, string, string | undefined]> = [
    ['canaryShare', '--canary-share', opts.canaryShare], ['minHealthyTime', '--min-healthy-time', opts.minHealthyTime], ['healthyDeadline', '--healthy-deadline', opts.healthyDeadline],
    ['maxParallel', '--max-parallel', opts.maxParallel], ['stagger', '--stagger', opts.stagger], ['latencyP95Ms', '--latency-p95', opts.latencyP95], ['errorRate', '--error-rate', opts.errorRate],
    ['relativeLatencyFactor', '--relative-latency', opts.relativeLatency], ['relativeErrorRate', '--relative-error-rate', opts.relativeErrorRate], ['minSamples', '--min-samples', opts.minSamples]
  ]
  const given = rolloutFlags.filter(([, , v]) => v !== undefined)
  if (opts.canary == null && (given.length > 0 || opts.autoPromote === false || opts.autoRevert === false)) {
    throw new CliError(`${[...given.map(([, f]) => f), ...(opts.autoPromote === false ? ['--no-auto-promote'] : []), ...(opts.autoRevert === false ? ['--no-auto-revert'] : [])].join(', ')}: only with --canary REGIONS`, 'BAD_ARGUMENT')
  }
  if (opts.canary != null) {
    q.set('canaryRegions', opts.canary)
    for (const [key, , v] of given) q.set(key, v as string)
    if (opts.autoPromote === false) q.set('autoPromote', 'false')
    if (opts.autoRevert === false) q.set('autoRevert', 'false')
  }
  const res = await apiRequest<{ id: string, name: string, version: number, rollout?: { id: string, state: string, cohort: string[] } | null, note?: string }>(apiUrlFrom(opts.api), `/v1/functions?${q.toString()}`, {
    method: 'POST',
    body: bytes,
    headers: { 'content-type': 'application/wasm', ...bearer(opts.token) },
    timeoutMs: 60_000
  })
  if (opts.json === true) out.write(JSON.stringify(res) + '\n')
  else if (res.rollout != null) out.write(`${res.id}\nrollout ${res.rollout.id}: ${res.rollout.state} (canary in ${opts.canary ?? ''}); follow with: dcis rollout status ${res.name}\n`)
  else out.write(`${res.id}\n${res.note != null ? `${res.note}\n` : ''}`)
  return res
}

export async function runFnInvoke (id: string, opts: FnInvokeOptions, out: Output = process.stdout): Promise<void> {
  let body: Uint8Array = new Uint8Array(0)
  if (opts.data != null) {
    if (opts.data.startsWith('@')) {
      const path = opts.data.slice(1)
      try {
        body = path === '-' ? await readStdin() : new Uint8Array(await readFile(path))
      } catch (err) {
        throw new CliError(`--data ${opts.data}: ${(err as Error).message}`, 'BAD_ARGUMENT')
      }
    } else {
      body = new TextEncoder().encode(opts.data)
    }
  }
  const api = apiUrlFrom(opts.api)
  const path = `/v1/functions/${encodeURIComponent(id)}`
  let res: Response
  try {
    res = await fetch(`${api}${path}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream', ...bearer(opts.token) },
      signal: AbortSignal.timeout(120_000)
    })
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name
    throw new CliError(`cannot reach the dcis API at ${api} (${cause}); is a peer running? (dcis start, or --api URL)`, 'UNREACHABLE')
  }
  const bytes = new Uint8Array(await res.arrayBuffer())
  if (!res.ok) {
    let e: { code?: string, message?: string } | undefined
    try {
      e = (JSON.parse(new TextDecoder().decode(bytes)) as { error?: { code?: string, message?: string } }).error
    } catch {
      // not the error envelope
    }
    throw new CliError(`POST ${path}: ${res.status} ${e?.code ?? ''} ${e?.message ?? ''}`.replace(/\s+/g, ' ').trim(), e?.code ?? 'HTTP_ERROR')
  }
  if (opts.json === true) {
    out.write(JSON.stringify({
      ranOn: res.headers.get('x-dcis-ran-on'),
      durationMs: Number(res.headers.get('x-dcis-duration-ms')),
      coldStart: res.headers.get('x-dcis-cold-start') === 'true',
      body: new TextDecoder().decode(bytes)
    }) + '\n')
  } else {
    out.write(bytes)
  }
}

interface FunctionSummary { name: string, id: string, version: number, abi: string, size: number, versions: number }

export async function runFnLs (opts: FnLsOptions, out: Output = process.stdout): Promise<void> {
  const res = await apiRequest<{ functions: FunctionSummary[] }>(apiUrlFrom(opts.api), '/v1/functions', { headers: bearer(opts.token) })
  if (opts.json === true) {
    out.write(JSON.stringify(res) + '\n')
    return
  }
  const rows = [['NAME', 'VERSION', 'ABI', 'SIZE', 'ID'], ...res.functions.map(f => [f.name, `${f.version}/${f.versions}`, f.abi, String(f.size), f.id])]
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  out.write(rows.map(r => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i])).join('  ')).join('\n') + '\n')
}
