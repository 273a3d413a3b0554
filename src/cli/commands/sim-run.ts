import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { CliError } from '../errors.js'
import { currentCliCommand } from '../local-mesh.js'
import { SimError } from '../../sim/errors.js'
import { loadScenario } from '../../sim/scenario.js'
import { readReport, summaryTable } from '../../sim/report.js'
import { table } from '../format.js'
import type { SimComposeOptions, SimRunOptions } from './sim.js'

function guardSync<T> (f: () => T): T {
  try {
    return f()
  } catch (err) {
    if (err instanceof SimError) throw new CliError(err.message, err.code)
    throw err
  }
}

async function guard<T> (f: () => Promise<T> | T): Promise<T> {
  try {
    return await f()
  } catch (err) {
    if (err instanceof SimError) throw new CliError(err.message, err.code)
    throw err
  }
}

/**
 * How peers are started: this CLI, on Node >= 22 (libp2p needs it). Under an
 * older system node, the Node 24 of the `node` devDependency runs them.
 */
function peerCommand (): string[] {
  const cmd = currentCliCommand()
  if (Number(process.versions.node.split('.')[0]) >= 22) return cmd
  const bundled = fileURLToPath(new URL('../../../node_modules/node/bin/node', import.meta.url))
  if (!existsSync(bundled)) throw new CliError(`Node ${process.versions.node} is too old for the peers (need >= 22) and ${bundled} is missing: run npm ci`)
  return [bundled, ...cmd.slice(1)]
}

export async function runSim (file: string, opts: SimRunOptions): Promise<void> {
  const { runScenario } = await import('../../sim/runner.js')
  if (opts.network != null && !['auto', 'netns', 'loopback'].includes(opts.network)) throw new CliError(`--network: one of auto, netns, loopback (got ${opts.network})`)
  const scenario = await guard(() => loadScenario(file))
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')
  const out = opts.out ?? join('sim-out', `${scenario.spec.name}-${stamp}`)
  const report = await guard(async () => runScenario(scenario, { outDir: out, command: peerCommand(), network: opts.network as 'auto' | 'netns' | 'loopback' | undefined }))
  process.stdout.write(summaryTable(report))
  const failed = report.checks.filter(c => !c.ok)
  if (failed.length > 0) throw new CliError(`${failed.length} check(s) failed: ${failed[0].name}: ${failed[0].detail}`, 'SIM_CHECK_FAILED')
}

export function runSimValidate (file: string): void {
  const scenario = guardSync(() => loadScenario(file))
  const rows = [['PEER', 'SITE', 'REGION', 'ZONE', 'NAT', 'JOIN AT']]
  for (const p of scenario.peers) rows.push([p.name, p.site.name, p.region, p.zone, p.site.nat === true ? 'yes' : '', p.joinAt > 0 ? `${p.joinAt} s` : ''])
  process.stdout.write(`${scenario.spec.name}: valid; ${scenario.peers.length} peers, ${scenario.spec.faults?.length ?? 0} faults, ${scenario.spec.duration} s\n${table(rows)}\n`)
}

export function runSimReport (dir: string, opts: SimRunOptions): void {
  const report = guardSync(() => readReport(dir))
  if (opts.json === true) {
    // the summaries, without the time series
    const { resources, endPropagation, staleness } = report
    const rest: Record<string, unknown> = { ...report }
    delete rest.registry
    delete rest.counterFreshness
    process.stdout.write(JSON.stringify({ ...rest, endPropagation: endPropagation.summary, staleness: staleness.summary, resources: resources.total }) + '\n')
    return
  }
  process.stdout.write(summaryTable(report))
}

export async function runSimCompose (file: string, opts: SimComposeOptions): Promise<void> {
  const { writeCompose } = await import('../../sim/compose.js')
  const scenario = guardSync(() => loadScenario(file))
  const basePort = opts.basePort != null ? Number(opts.basePort) : 8080
  if (!Number.isInteger(basePort) || basePort < 1 || basePort + scenario.peers.length > 65535) throw new CliError(`--base-port: must leave room for ${scenario.peers.length} ports below 65536 (got ${opts.basePort})`)
  const dir = opts.out ?? join('sim-out', `${scenario.spec.name}-compose`)
  const written = await writeCompose(scenario, dir, { image: opts.image ?? 'dcis-mesh:sim', basePort })
  process.stdout.write(`wrote ${written.length} files to ${dir}\n  docker-compose -f ${join(dir, 'docker-compose.yml')} up -d   (or: docker compose ...)\n  ${join(dir, 'faults.sh')}   once every peer is up\n`)
}

export async function runSimClean (opts: { force?: boolean }): Promise<void> {
  const { cleanLab } = await import('../../sim/clean.js')
  const { removed, kept } = await cleanLab(opts)
  const lines = [...removed.map(d => `removed ${d}`), ...kept.map(k => `kept ${k}`)]
  if (removed.length === 0) lines.unshift('nothing to clean')
  process.stdout.write(lines.join('\n') + '\n')
}
