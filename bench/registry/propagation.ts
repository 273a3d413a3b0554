/**
 * Registry benchmark: prints one JSON object.
 *
 *  - propagation: a mesh of N-1 in-process MeshNodes on 127.0.0.1 (all
 *    bootstrapping from node 0); then, several times, a new peer starts and
 *    we time until EVERY peer of the N-peer mesh lists its descriptor
 *    (polled every 25 ms in each node's registry cache). The joiner is
 *    stopped after each round so every join is the N-th peer.
 *  - dhtLookup: `registry.lookup(peerId, { fromDht: true })` latency for
 *    random (asker, target) pairs of the mesh.
 *  - verify: `verifyDescriptor` cost per descriptor (µs/op).
 *
 * In-process peers share one event loop (and this machine's 2 cores with
 * everyone else), so the figures are upper bounds of what separate
 * processes would see.
 *
 *   npx tsx bench/registry/propagation.ts [--nodes 20] [--joins 8] [--lookups 40] [--verify 2000]
 *                                         [--republish-on-subscribe]
 *
 * --republish-on-subscribe adds, from outside the registry, the fix proposed
 * for slow propagation (re-announce the own descriptor when a peer subscribes
 * to dcis/end/1), to compare with the registry as it is.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultConfig } from '../../src/config/index.js'
import { identityFromPrivateKey } from '../../src/identity/index.js'
import { createMeshNode } from '../../src/node/index.js'
import { END_TOPIC, buildDescriptor, signDescriptor, verifyDescriptor } from '../../src/registry/index.js'
import { createLogger } from '../../src/telemetry/index.js'
import type { MeshNode } from '../../src/node/index.js'

function arg (name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return fallback
  const v = Number(process.argv[i + 1])
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} must be a positive integer`)
  return v
}

const NODES = arg('nodes', 20)
const JOINS = arg('joins', 8)
const LOOKUPS = arg('lookups', 40)
const VERIFY = arg('verify', 2000)
const HOOK = process.argv.includes('--republish-on-subscribe')
const TIMEOUT_MS = 60_000
const progress = (msg: string): void => { process.stderr.write(`[${new Date().toISOString()}] ${msg}\n`) }

function pct (xs: number[], p: number): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] * 10) / 10
}

function summary (xs: number[]): Record<string, number | null> {
  return { n: xs.length, p50: pct(xs, 50), p95: pct(xs, 95), max: pct(xs, 100), mean: xs.length === 0 ? null : Math.round(xs.reduce((a, b) => a + b, 0) / xs.length * 10) / 10 }
}

async function until (what: string, cond: () => boolean | Promise<boolean>, timeoutMs = TIMEOUT_MS, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

async function benchVerify (): Promise<Record<string, number>> {
  const id = identityFromPrivateKey(await generateKeyPair('Ed25519'))
  const now = Math.floor(Date.now() / 1000)
  const jwt = await signDescriptor(id, buildDescriptor({
    did: id.did,
    peerId: id.peerId.toString(),
    multiaddrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${id.peerId.toString()}`],
    region: 'eu-west',
    zone: 'eu-west-a',
    software: { name: 'dcis-mesh', version: 'bench' },
    now,
    ttlSeconds: 600
  }))
  for (let i = 0; i < 100; i++) await verifyDescriptor(jwt, { now })
  const t0 = performance.now()
  for (let i = 0; i < VERIFY; i++) await verifyDescriptor(jwt, { now })
  const us = (performance.now() - t0) * 1000 / VERIFY
  return { ops: VERIFY, usPerOp: Math.round(us * 10) / 10, bytes: jwt.length }
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dcis-bench-registry-'))
  const logger = createLogger({ level: 'silent' })
  const nodes: MeshNode[] = []
  let seq = 0
  const hookOff: Array<() => void> = []

  const start = async (): Promise<MeshNode> => {
    const i = seq++
    const node = createMeshNode({
      config: {
        ...defaultConfig(),
        dataDir: join(dir, `peer-${i}`),
        region: ['eu-west', 'us-east', 'ap-south'][i % 3],
        zone: `${['eu-west', 'us-east', 'ap-south'][i % 3]}-a`,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        api: { ...defaultConfig().api, host: '127.0.0.1', port: 0 }
      },
      bootstrapPeers: nodes.length > 0 ? nodes[0].libp2p.getMultiaddrs() : [],
      logger,
      api: false
    })
    await node.start()
    if (HOOK) {
      const pubsub = node.libp2p.services.pubsub
      const onSub = (evt: CustomEvent<{ subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
        if (evt.detail.subscriptions.some(s => s.topic === END_TOPIC && s.subscribe)) void node.registry.publishSelf(false, true)
      }
      pubsub.addEventListener('subscription-change', onSub as never)
      hookOff.push(() => { pubsub.removeEventListener('subscription-change', onSub as never) })
    }
    return node
  }

  const out: Record<string, unknown> = {
    bench: 'registry/propagation',
    mode: 'in-process MeshNodes (one Node.js process, one event loop), 127.0.0.1 TCP',
    nodes: NODES,
    republishOnSubscribe: HOOK,
    endRepublishIntervalMs: defaultConfig().gossip.endRepublishIntervalMs
  }
  try {
    out.verify = await benchVerify()

    const tMesh = performance.now()
    for (let i = 0; i < NODES - 1; i++) nodes.push(await start())
    progress(`${nodes.length} peers started in ${Math.round(performance.now() - tMesh)} ms`)
    const ids = (): string[] => nodes.map(n => n.identity.peerId.toString())
    await until('the initial mesh to list everyone', () => nodes.every(n => ids().every(id => n.registry.cache.get(id) != null)), 180_000, 100)
    out.initialMeshConvergedMs = Math.round(performance.now() - tMesh)
    progress(`initial mesh converged after ${String(out.initialMeshConvergedMs)} ms`)

    const fromStart: number[] = []
    const fromReady: number[] = []
    const failures: string[] = []
    for (let j = 0; j < JOINS; j++) {
      const t0 = performance.now()
      const joiner = await start()
      const tReady = performance.now()
      const id = joiner.identity.peerId.toString()
      try {
        await until(`every peer to list joiner ${j}`, () => nodes.every(n => n.registry.cache.get(id) != null) && ids().every(x => joiner.registry.cache.get(x) != null))
        const t = performance.now()
        fromStart.push(t - t0)
        fromReady.push(t - tReady)
        progress(`join ${j}: ${Math.round(t - t0)} ms from start, ${Math.round(t - tReady)} ms from started`)
      } catch (err) {
        failures.push((err as Error).message)
      }
      await joiner.stop()
    }
    out.propagation = {
      what: `ms from a new peer's start() until all ${NODES} peers (incl. itself) list each other's descriptors`,
      fromStart: summary(fromStart),
      fromStarted: summary(fromReady),
      goalP95Ms: 2000,
      failures
    }

    const lookups: number[] = []
    const lookupFailures: string[] = []
    let rnd = 12345
    const next = (n: number): number => { rnd = (rnd * 1103515245 + 12345) % 2 ** 31; return rnd % n }
    for (let k = 0; k < LOOKUPS; k++) {
      const a = nodes[next(nodes.length)]
      let b = nodes[next(nodes.length)]
      if (b === a) b = nodes[(nodes.indexOf(a) + 1) % nodes.length]
      const t0 = performance.now()
      try {
        await a.registry.lookup(b.identity.peerId.toString(), { fromDht: true, signal: AbortSignal.timeout(15_000) })
        lookups.push(performance.now() - t0)
      } catch (err) {
        lookupFailures.push((err as Error).name)
      }
    }
    progress('lookups done')
    out.dhtLookup = { what: 'ms for registry.lookup(peerId, { fromDht: true })', ...summary(lookups), failures: lookupFailures.length, failureKinds: [...new Set(lookupFailures)] }
    // results first: stopping 20 peers can take long on a busy machine
    console.log(JSON.stringify(out))
  } finally {
    for (const off of hookOff) off()
    const tStop = performance.now()
    for (const n of [...nodes].reverse()) await n.stop().catch(() => {})
    progress(`stopped ${nodes.length} peers in ${Math.round(performance.now() - tStop)} ms`)
    await rm(dir, { recursive: true, force: true })
  }
  // every node is stopped: the process should exit by itself. If something
  // outlived stop() (see test/registry/lifecycle.spec.ts), say so and exit.
  setTimeout(() => {
    console.error(`warning: still busy 5 s after every node stopped: ${process.getActiveResourcesInfo().join(', ')}`)
    process.exit(process.exitCode ?? 0)
  }, 5000).unref()
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
