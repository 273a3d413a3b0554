/** `dcis rollout status|promote|abort`: thin clients of /v1/rollouts. */
import { apiRequest, apiUrlFrom, bearer } from '../client.js'
import { CliError } from '../errors.js'
import type { RolloutOptions } from './rollout.js'
import type { RolloutView } from '../../rollouts/service.js'

export interface Output { write: (s: string) => unknown }

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

function checkName (name: string): string {
  if (!NAME_RE.test(name)) throw new CliError(`${JSON.stringify(name)} is not a function name (a-z, 0-9, -)`, 'BAD_ARGUMENT')
  return name
}

function fig (f: RolloutView['figures']['canary']): string {
  return `${f.count} calls, ${f.errors} errors (${(f.errorRate * 100).toFixed(1)}%), p95 ${f.p95Ms == null ? '-' : `<= ${f.p95Ms} ms`}`
}

export function formatRollout (r: RolloutView): string {
  const lines = [
    `${r.function}: ${r.state}  v${r.versionNumber ?? '?'} ${r.version} (from v${r.fromNumber ?? '?'} ${r.from})`,
    `  cohort:   ${r.cohort.length === 0 ? '-' : r.cohort.join(', ')}${r.spec.canaryShare < 1 ? ` (share ${r.spec.canaryShare} while canary)` : ''}`,
    `  canary:   ${fig(r.figures.canary)}`,
    `  baseline: ${fig(r.figures.baseline)}`,
    `  started:  ${r.startedAt} by ${r.startedBy}${r.driver != null ? `; driver ${r.driver.peerId} (lease until ${r.driver.leaseUntil})` : ''}`
  ]
  if (r.reason != null) lines.push(`  reason:   ${r.reason}`)
  return lines.join('\n') + '\n'
}

export async function runRolloutStatus (name: string | undefined, opts: RolloutOptions, out: Output = process.stdout): Promise<void> {
  const api = apiUrlFrom(opts.api)
  if (name != null) {
    const r = await apiRequest<RolloutView>(api, `/v1/rollouts/${checkName(name)}`, { headers: bearer(opts.token) })
    out.write(opts.json === true ? JSON.stringify(r) + '\n' : formatRollout(r))
    return
  }
  const res = await apiRequest<{ rollouts: RolloutView[] }>(api, '/v1/rollouts', { headers: bearer(opts.token) })
  if (opts.json === true) out.write(JSON.stringify(res) + '\n')
  else out.write(res.rollouts.length === 0 ? 'no rollouts\n' : res.rollouts.map(formatRollout).join(''))
}

export async function runRolloutAction (action: 'promote' | 'abort', name: string, opts: RolloutOptions, out: Output = process.stdout): Promise<void> {
  const r = await apiRequest<RolloutView>(apiUrlFrom(opts.api), `/v1/rollouts/${checkName(name)}/${action}`, { method: 'POST', headers: bearer(opts.token) })
  out.write(opts.json === true ? JSON.stringify(r) + '\n' : formatRollout(r))
}
