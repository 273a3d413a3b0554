/**
 * Registry propagation with real processes on loopback. For each N in
 * --nodes (default 10,20; the 50-peer run: --nodes 50):
 * 1. join: N-1 peers run and are settled; one more peer starts. t0 = the
 *    moment the joiner's own API first serves its signed END (its API
 *    starts after its registry published, so t0 is a little late:
 *    `heldAtFirstPoll` counts the peers that held it already); then every other peer's
 *    /v1/registry/nodes/<joiner> is polled (every --poll ms) until it
 *    answers 200. Reported: time to reach 95 % and 100 % of the others.
 * 2. change: an allocation reserves one core on some peer, whose END then
 *    changes (capacity); t0 = the moment its own API serves the new END;
 *    then the time until the others hold that JWT.
 * 3. DHT lookups: GET /v1/registry/nodes/<id>?source=dht from random peers
 *    for random other peers (a real DHT walk, verified), client-side time.
 * Repeat with --runs; every row carries the load average.
 *   node --import tsx bench/scale/propagation.ts --nodes 10,20 --runs 2
 */
import { createPrng } from '../../src/latency/prng.js'
import { allReady, arg, gossipHealth, load, numbers, registriesComplete, sleep, startMesh, summary, until } from './_mesh.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'

const sizes = numbers(arg('nodes', '10,20'))
const runs = Number(arg('runs', '1'))
const pollMs = Number(arg('poll', '100'))
const lookups = Number(arg('lookups', '40'))
// ms between two peer starts, and the settle time before the join (s)
const stagger = Number(arg('stagger', '0'))
const settleS = Number(arg('settle', '5'))
const seed = Number(arg('seed', String(Date.now() % 2 ** 31)))
const rng = createPrng(seed)
process.stderr.write(`propagation bench seed ${seed}\n`)

async function getJson<T> (url: string, timeoutMs = 5000): Promise<{ status: number, body: T | null }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    const body = res.headers.get('content-type')?.includes('json') === true ? await res.json() as T : null
    return { status: res.status, body }
  } catch {
    return { status: 0, body: null }
  }
}

function iatOf (jwt: string | undefined): number {
  if (jwt == null) return -1
  try {
    return (JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as { iat: number }).iat
  } catch {
    return -1
  }
}

/** ms from t0 until each peer in `peers` satisfies `has`; null = not within the deadline */
async function spread (peers: LocalPeer[], t0: number, has: (p: LocalPeer) => Promise<boolean>, deadlineMs: number): Promise<Array<number | null>> {
  const out: Array<number | null> = peers.map(() => null)
  await Promise.all(peers.map(async (p, i) => {
    while (performance.now() - t0 < deadlineMs) {
      if (await has(p)) { out[i] = performance.now() - t0; return }
      await sleep(pollMs)
    }
  }))
  return out
}

function reach (times: Array<number | null>): { p50ReachMs: number | null, p95ReachMs: number | null, allReachMs: number | null, reached: number, of: number } {
  const got = times.filter((t): t is number => t != null).sort((a, b) => a - b)
  const need50 = Math.ceil(times.length * 0.5)
  const need95 = Math.ceil(times.length * 0.95)
  return {
    p50ReachMs: got.length >= need50 ? Math.round(got[need50 - 1]) : null,
    p95ReachMs: got.length >= need95 ? Math.round(got[need95 - 1]) : null,
    allReachMs: got.length === times.length ? Math.round(got[got.length - 1]) : null,
    reached: got.length,
    of: times.length
  }
}

const rows: unknown[] = []
for (const n of sizes) {
  for (let run = 0; run < runs; run++) {
    // the last peer is held back: N-1 start first
    const bench = await startMesh(n, { hold: 1, stagger })
    const { mesh } = bench
    try {
      const joiner = mesh.peers[n - 1]
      const others = mesh.peers.slice(0, n - 1)
      await until('N-1 peers ready', async () => {
        const ok = await Promise.all(others.map(async p => (await getJson(`${p.apiUrl}/readyz`)).status === 200))
        return ok.every(Boolean)
      }, 60_000 + n * 10_000, 250)
      await until('N-1 registries complete', async () => {
        const counts = await Promise.all(others.map(async p => ((await getJson<{ nodes: unknown[] }>(`${p.apiUrl}/v1/registry/nodes`)).body?.nodes.length ?? 0)))
        return counts.every(c => c >= n - 1)
      }, 120_000 + n * 10_000, 500)
      await sleep(settleS * 1000)
      const loadBefore = load()
      const gossipBefore = await gossipHealth(mesh)

      // 1. join
      const spawned = performance.now()
      await mesh.spawnPeer(joiner)
      await until('the joiner serves its END', async () => (await getJson<{ endJwt: string | null }>(`${joiner.apiUrl}/v1/node`, 1000)).body?.endJwt != null, 180_000, 20)
      const t0 = performance.now()
      // peers that already hold it at t0 (the joiner's API starts after its registry published) count as 0 ms
      const join = await spread(others, t0, async p => (await getJson(`${p.apiUrl}/v1/registry/nodes/${joiner.peerId}`, 2000)).status === 200, 60_000)
      const atT0 = join.filter(t => t != null && t < pollMs).length
      process.stderr.write(JSON.stringify({ nodes: n, run, join: reach(join), gossip: await gossipHealth(mesh) }) + '\n')
      await until('all ready', async () => allReady(mesh), 60_000, 250)
      // the change below is measured on a complete federation; when it does not
      // complete (the propagation problem itself) the run says so and goes on
      const tc = performance.now()
      let completeAfterJoinMs: number | null = null
      try {
        await until('complete registries', async () => (await registriesComplete(mesh)) === n, 180_000, 500)
        completeAfterJoinMs = Math.round(performance.now() - tc)
      } catch {
        process.stderr.write(`registries not complete ${Math.round((performance.now() - tc) / 1000)} s after the join\n`)
      }

      // 2. a descriptor change (an allocation reserves a core on some peer)
      let change: ReturnType<typeof reach> | { error: string } = { error: 'no allocation placed' }
      const client = mesh.peers[Math.floor(rng.next() * n)]
      const res = await fetch(`${client.apiUrl}/v1/allocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ runtime: 'wasi', constraints: { cpu: 1 }, replicas: 1 })
      }).catch(() => null)
      if (res?.ok === true) {
        const alloc = await res.json() as { nodes: Array<{ peerId: string }> }
        const owner = mesh.peers.find(p => p.peerId === alloc.nodes[0]?.peerId)
        if (owner != null) {
          const before = (await getJson<{ endJwt: string }>(`${owner.apiUrl}/v1/node`)).body?.endJwt
          let jwt: string | undefined
          // a generous per-request timeout: at load 50 an API answer can take over a second
          await until('the owner re-signs its END', async () => {
            const cur = (await getJson<{ endJwt: string }>(`${owner.apiUrl}/v1/node`, 5000)).body?.endJwt
            if (cur != null && cur !== before) jwt = cur
            return jwt != null
          }, 90_000, 20).catch(() => {})
          if (jwt == null) {
            change = { error: 'the owner did not serve a re-signed END within 90 s' }
          } else {
            const t1 = performance.now()
            const rest = mesh.peers.filter(p => p !== owner)
            // the owner may re-sign again meanwhile (its load moves its capacity): a newer one counts too
            const iat = iatOf(jwt)
            change = reach(await spread(rest, t1, async p => iatOf((await getJson<{ endJwt: string }>(`${p.apiUrl}/v1/registry/nodes/${owner.peerId}`, 2000)).body?.endJwt) >= iat, 60_000))
          }
        }
      }

      // 3. DHT lookups
      const lookupMs: number[] = []
      let failed = 0
      for (let i = 0; i < lookups; i++) {
        const from = mesh.peers[Math.floor(rng.next() * n)]
        let to = mesh.peers[Math.floor(rng.next() * n)]
        if (to === from) to = mesh.peers[(to.index + 1) % n]
        const t = performance.now()
        const r = await getJson(`${from.apiUrl}/v1/registry/nodes/${to.peerId}?source=dht`, 20_000)
        if (r.status === 200) lookupMs.push(performance.now() - t)
        else failed++
      }

      rows.push({
        nodes: n,
        run,
        completeAfterJoinMs,
        join: { ...reach(join), heldAtFirstPoll: atT0, joinerSpawnToEndMs: Math.round(t0 - spawned) },
        change,
        dhtLookupMs: lookupMs.length > 0 ? summary(lookupMs) : null,
        dhtLookupFailed: failed,
        gossipBefore,
        gossipAfter: await gossipHealth(mesh),
        pollMs,
        loadAvgBefore: loadBefore,
        loadAvgAfter: load()
      })
      process.stderr.write(JSON.stringify(rows[rows.length - 1]) + '\n')
    } finally {
      await bench.close()
    }
  }
}
process.stdout.write(JSON.stringify({ seed, rows }) + '\n')
