/**
 * Time from a deploy on one peer to "resolvable by name on every peer":
 * a mesh of real `dcis start` processes on loopback (as `dcis up` runs
 * them), one function deployed `--deploys` times (a new module each time,
 * through a rotating peer); after each deploy's 201, every peer's
 * `GET /v1/functions/<name>` is polled (every 10 ms) until it names the
 * new version as current. Prints one JSON object.
 *
 *   npx tsx bench/catalogue/resolve.ts [--nodes 5] [--deploys 10]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import { freePortBlock } from '../../test/helpers/ports.js'
import { waitFor } from '../../test/helpers/wait.js'
import { watToWasm } from '../../test/wasm/helpers.js'

const args = process.argv.slice(2)
function arg (name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : dflt
}
const NODES = arg('nodes', 5)
const DEPLOYS = arg('deploys', 10)

/** a distinct tiny WASI module per deploy (its data segment differs) */
async function module (i: number): Promise<Uint8Array> {
  return await watToWasm(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 64) "v${i}")
    (func (export "_start")
      (i32.store (i32.const 0) (i32.const 64))
      (i32.store (i32.const 4) (i32.const ${String(i).length + 1}))
      (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))`, `v${i}.wat`)
}

function quantile (xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dcis-bench-catalogue-'))
  const tsx = [process.execPath, '--import', 'tsx', fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))]
  const regions = ['eu-west', 'us-east', 'ap-south', 'sa-east', 'eu-central']
  const mesh = new LocalMesh({ nodes: NODES, regions: Array.from({ length: NODES }, (_, i) => regions[i % regions.length]), basePort: await freePortBlock(NODES), dataDir: dir, logLevel: 'warn', command: tsx })
  const samples: number[] = []
  const perPeer: number[][] = []
  try {
    await mesh.start()
    const peers = mesh.peers
    await waitFor('every peer to verify every other peer', async () => {
      for (const p of peers) {
        const res = await fetch(`${p.apiUrl}/v1/registry/nodes`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined)
        if (res?.status !== 200) return false
        if ((await res.json() as { nodes: unknown[] }).nodes.length < peers.length) return false
      }
      return true
    }, { timeoutMs: 180_000 })
    for (let i = 0; i < DEPLOYS; i++) {
      const via = peers[i % peers.length]
      const bytes = await module(i)
      const res = await fetch(`${via.apiUrl}/v1/functions?name=bench`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/wasm' } })
      const t0 = performance.now()
      const { id } = await res.json() as { id: string }
      if (res.status !== 201) throw new Error(`deploy ${i} failed: ${res.status}`)
      const times = await Promise.all(peers.map(async (p) => {
        await waitFor(`peer ${p.index} to resolve bench -> ${id}`, async () => {
          const r = await fetch(`${p.apiUrl}/v1/functions/bench`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined)
          return r?.status === 200 && (await r.json() as { id: string }).id === id
        }, { timeoutMs: 60_000, intervalMs: 10 })
        return performance.now() - t0
      }))
      perPeer.push(times.map(t => Math.round(t)))
      samples.push(Math.max(...times))
    }
  } finally {
    await mesh.stop()
    await rm(dir, { recursive: true, force: true })
  }
  console.log(JSON.stringify({
    benchmark: 'catalogue-resolve',
    nodes: NODES,
    deploys: DEPLOYS,
    what: 'ms from a deploy\'s 201 on one peer until every peer resolves the name to the new version (polled every 10 ms)',
    p50Ms: Math.round(quantile(samples, 0.5)),
    p95Ms: Math.round(quantile(samples, 0.95)),
    maxMs: Math.round(Math.max(...samples)),
    perDeployPerPeerMs: perPeer,
    loadavg: loadavg().map(x => Math.round(x * 100) / 100)
  }))
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
