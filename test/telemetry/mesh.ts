/**
 * A small real mesh of `dcis start` processes for the telemetry tests, and
 * helpers to look for Debian tools (promtool, prometheus, chromium).
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import { cliCommand } from '../helpers/cli.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'
import type { LocalMeshInit, LocalPeer } from '../../src/cli/local-mesh.js'

/** the absolute path of an executable on PATH, or null */
export function which (name: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' })
  const path = r.stdout.trim()
  return r.status === 0 && path !== '' ? path : null
}

export interface TelemetryMesh {
  mesh: LocalMesh
  dir: string
  stop: () => Promise<void>
}

/** a LocalMesh whose peer i also reads `--config configs[i]` (an empty YAML file unless the test writes one) */
class ConfiguredMesh extends LocalMesh {
  configs: string[] = []
  override argsFor (peer: LocalPeer): string[] {
    const config = this.configs[peer.index]
    return config != null ? [...super.argsFor(peer), '--config', config] : super.argsFor(peer)
  }
}

/**
 * Starts `nodes` peers and waits until each is ready and connected to all
 * the others. `configFiles` names a config file per peer (created empty).
 */
export async function startMesh (nodes: number, init: Partial<LocalMeshInit> = {}, configFiles?: (mesh: LocalMesh) => string[]): Promise<TelemetryMesh> {
  const dir = await mkdtemp(join(tmpdir(), 'dcis-telemetry-'))
  const mesh = new ConfiguredMesh({ nodes, regions: ['eu-west', 'us-east', 'ap-south'], basePort: await freePortBlock(nodes), dataDir: dir, logLevel: 'warn', command: cliCommand(), ...init })
  const stop = async (): Promise<void> => {
    await mesh.stop()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await mesh.prepare()
    if (configFiles != null) {
      mesh.configs = configFiles(mesh)
      for (const f of mesh.configs) await writeFile(f, '{}\n')
    }
    await mesh.start()
    await waitFor(`${nodes} peers ready and connected`, async () => {
      for (const p of mesh.peers) if (p.exited) throw new Error(`peer ${p.index} exited (${String(p.exitCode)}); log: ${p.logFile}`)
      return LocalMesh.fullyConnected(await mesh.snapshots())
    }, { timeoutMs: 120_000, intervalMs: 500 })
  } catch (err) {
    await stop()
    throw err
  }
  return { mesh, dir, stop }
}
