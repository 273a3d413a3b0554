/**
 * Peer start-up and footprint, measured on real processes:
 * - cold start: process spawn -> /readyz 200 (a first peer, fresh data dir,
 *   key generation included; and a restart on the existing data dir)
 * - RSS of an idle peer after it settles
 * - a 5-peer `dcis up` mesh: spawn -> every peer ready and connected to all
 * Runs the built CLI (dist/) when present, else the sources through tsx.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import { freePortBlock } from '../../test/helpers/ports.js'
import { waitFor } from '../../test/helpers/wait.js'

const dist = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))
const command = existsSync(dist)
  ? [process.execPath, dist]
  : [process.execPath, '--import', 'tsx', fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))]

/** the condition poll of the tests, at 10 ms so start-up times are not rounded up */
async function until (cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  await waitFor('bench condition', async () => cond().catch(() => false), { timeoutMs, intervalMs: 10 })
}

async function rssMb (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
  return kb / 1024
}

function stats (xs: number[]): { p50: number, min: number, max: number, runs: number } {
  const s = [...xs].sort((a, b) => a - b)
  return { p50: s[s.length >> 1], min: s[0], max: s[s.length - 1], runs: s.length }
}

async function coldStart (runs: number): Promise<{ fresh: number[], restart: number[], rssMb: number[] }> {
  const fresh: number[] = []
  const restart: number[] = []
  const rss: number[] = []
  for (let r = 0; r < runs; r++) {
    const dir = await mkdtemp(join(tmpdir(), 'dcis-bench-'))
    const basePort = await freePortBlock(1)
    for (const phase of ['fresh', 'restart'] as const) {
      // fresh: an empty data dir (LocalMesh.prepare creates only the key, a millisecond of work)
      const mesh = new LocalMesh({ nodes: 1, regions: ['bench'], basePort, dataDir: dir, logLevel: 'warn', command })
      if (phase === 'fresh') await rm(join(dir, 'peer-0'), { recursive: true, force: true })
      await mesh.prepare()
      const t0 = performance.now()
      await mesh.start()
      await until(async () => (await fetch(`${mesh.peers[0].apiUrl}/readyz`)).ok, 30_000)
      ;(phase === 'fresh' ? fresh : restart).push(performance.now() - t0)
      if (phase === 'restart') {
        await new Promise(resolve => setTimeout(resolve, 3000))
        rss.push(await rssMb(mesh.peers[0].process!.pid!))
      }
      await mesh.stop()
    }
    await rm(dir, { recursive: true, force: true })
  }
  return { fresh, restart, rssMb: rss }
}

async function meshConnect (runs: number, nodes: number): Promise<number[]> {
  const out: number[] = []
  for (let r = 0; r < runs; r++) {
    const dir = await mkdtemp(join(tmpdir(), 'dcis-bench-mesh-'))
    const mesh = new LocalMesh({ nodes, regions: ['eu-west', 'us-east', 'ap-south'], basePort: await freePortBlock(nodes), dataDir: dir, logLevel: 'warn', command })
    await mesh.prepare()
    const t0 = performance.now()
    await mesh.start()
    await until(async () => LocalMesh.fullyConnected(await mesh.snapshots()), 60_000)
    out.push(performance.now() - t0)
    await mesh.stop()
    await rm(dir, { recursive: true, force: true })
  }
  return out
}

const cold = await coldStart(3)
const connect = await meshConnect(3, 5)
const round = (o: ReturnType<typeof stats>): Record<string, number> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v * 10) / 10]))
process.stdout.write(JSON.stringify({
  command: command.slice(1).join(' '),
  coldStartToReadyMs: { freshDataDir: round(stats(cold.fresh)), existingDataDir: round(stats(cold.restart)) },
  idlePeerRssMb: round(stats(cold.rssMb)),
  fivePeerMeshFullyConnectedMs: round(stats(connect))
}) + '\n')
