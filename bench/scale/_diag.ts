// diagnostics: start N peers, print each peer's registry size / connection count every 10 s until complete (max 150 s)
import { allReady, startMesh, until, sleep } from './_mesh.js'
const n = Number(process.argv[2] ?? 20)
const b = await startMesh(n)
const t0 = performance.now()
await until('ready', async () => allReady(b.mesh), 180000, 250)
process.stdout.write(`ready ${Math.round((performance.now() - t0) / 1000)} s\n`)
for (let i = 0; i < 15; i++) {
  const rows = await Promise.all(b.mesh.peers.map(async p => {
    const reg = await (await fetch(`${p.apiUrl}/v1/registry/nodes`)).json() as { nodes: unknown[] }
    const peers = await (await fetch(`${p.apiUrl}/v1/peers`)).json() as { peers?: unknown[] } | unknown[]
    const np = Array.isArray(peers) ? peers.length : (peers.peers?.length ?? -1)
    return `${reg.nodes.length}/${np}`
  }))
  process.stdout.write(`${Math.round((performance.now() - t0) / 1000)} s reg/conns: ${rows.join(' ')}\n`)
  if (rows.every(r => r.startsWith(`${n}/`))) break
  await sleep(10000)
}
// who misses whom: peer index -> missing peer indexes, and its connections
const ids = await Promise.all(b.mesh.peers.map(async p => ((await (await fetch(`${p.apiUrl}/v1/node`)).json()) as { peerId: string }).peerId))
for (const [i, p] of b.mesh.peers.entries()) {
  const reg = await (await fetch(`${p.apiUrl}/v1/registry/nodes`)).json() as { nodes: Array<{ peerId?: string, end?: { sub?: string } }> }
  const have = new Set(JSON.stringify(reg.nodes).match(/12D3Koo[1-9A-HJ-NP-Za-km-z]+/g) ?? [])
  const missing = ids.flatMap((id, j) => have.has(id) ? [] : [j])
  if (missing.length > 0) process.stdout.write(`peer ${i} misses ${missing.join(',')}\n`)
}
await b.close()
