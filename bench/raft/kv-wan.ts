/**
 * Commit latency of a 5-voter strong service on an emulated WAN (the
 * latency emulator of src/latency/emulator inside libp2p's tcp transport):
 * 5 peers in 3 regions, one writer at the leader, 256 B values, fsync on.
 * Compares the leader chosen by latency siting (placement priorities + the
 * latency map) with a leader sited in the far region, each against its floor
 * (RTT to the nearest quorum, i.e. the 2nd nearest other voter for 5 voters).
 * Prints one JSON object.
 *
 *   npx tsx bench/raft/kv-wan.ts [--writes N]
 *
 * All 5 peers run in this one process (2-core machine): figures include
 * event-loop contention.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { MemoryDatastore } from 'datastore-core'
import { createLibp2p } from 'libp2p'
import { pino } from 'pino'
import { emulatedTcp } from '../../src/latency/emulator/index.js'
import type { RttMatrix } from '../../src/latency/emulator/index.js'
import { createRaftBackend } from '../../src/raft/service/index.js'
import type { RaftKvBackend } from '../../src/raft/service/index.js'
import type { Libp2p } from '@libp2p/interface'
import { waitFor } from '../../test/helpers/wait.js'

const wi = process.argv.indexOf('--writes')
const WRITES = wi >= 0 ? Number(process.argv[wi + 1]) : 100
// regions: eu (2 peers), us (2 peers), ap (1 peer)
const matrix: RttMatrix = { regions: ['eu', 'us', 'ap'], rttMs: [[2, 70, 150], [70, 2, 110], [150, 110, 2]] }
const REGIONS = ['eu', 'eu', 'us', 'us', 'ap']
const rtt = (a: string, b: string): number => matrix.rttMs[matrix.regions.indexOf(a)][matrix.regions.indexOf(b)]!

interface P { libp2p: Libp2p, backend: RaftKvBackend, id: string, region: string, dir: string }

async function mesh (siting: boolean): Promise<P[]> {
  const libs = await Promise.all(REGIONS.map(async (region) => createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [emulatedTcp({ region, matrix })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })))
  const entries = libs.map((l, i) => ({ end: { peerId: l.peerId.toString(), region: REGIONS[i], zone: `${REGIONS[i]}-a`, multiaddrs: l.getMultiaddrs().map(a => a.toString()) } }))
  const regionOf = new Map(entries.map(e => [e.end.peerId, e.end.region]))
  const oracle = { estimate: (a: string, b: string) => { const ra = regionOf.get(a); const rb = regionOf.get(b); return ra === undefined || rb === undefined ? null : { ms: rtt(ra, rb), errorMs: 1 } } }
  const peers: P[] = []
  for (let i = 0; i < libs.length; i++) {
    const dir = await mkdtemp(join(tmpdir(), 'dcis-bench-wan-'))
    const backend = createRaftBackend({ libp2p: libs[i], registry: { list: () => entries }, datastore: new MemoryDatastore(), dataDir: dir, logger: pino({ level: 'warn' }), latency: siting ? oracle : undefined, tickMs: 100, electionTick: 10, requestTimeoutMs: 15_000, maintenanceMs: 1000 })
    await backend.start()
    peers.push({ libp2p: libs[i], backend, id: libs[i].peerId.toString(), region: REGIONS[i], dir })
  }
  return peers
}

function floorOf (leader: P, peers: P[]): number {
  const others = peers.filter(p => p !== leader).map(p => rtt(leader.region, p.region)).sort((a, b) => a - b)
  return others[1] // quorum 3 of 5: the leader + its 2 nearest
}

async function run (siting: boolean): Promise<Record<string, unknown>> {
  const peers = await mesh(siting)
  try {
    await peers[0].backend.apply({ name: 'wan', replicas: 5, runtime: 'wasi', mode: 'strong', crdtEngine: 'delta-crdts', zones: [], maxStalenessMs: 1000, latencyRadiusMs: 20 })
    let leader = await waitFor('a leader', () => peers.find(p => p.backend.replica('wan')?.group.isLeader === true), { timeoutMs: 60_000, intervalMs: 50 })
    if (!siting) {
      // siting off: the far region leads
      const far = peers[4]
      if (leader !== far) {
        leader.backend.replica('wan')!.group.transferLeadership(far.id)
        leader = await waitFor('the far peer to lead', () => far.backend.replica('wan')?.group.isLeader === true ? far : undefined, { timeoutMs: 30_000, intervalMs: 50 })
      }
    } else {
      // give the maintenance loop time to move a badly sited leader (hysteresis)
      leader = await waitFor('a leader outside ap', () => { const l = peers.find(p => p.backend.replica('wan')?.group.isLeader === true); return l !== undefined && l.region !== 'ap' ? l : undefined }, { timeoutMs: 30_000, intervalMs: 50 })
    }
    for (let i = 0; i < 10; i++) await leader.backend.put('wan', 'warm', String(i))
    const lat: number[] = []
    for (let i = 0; i < WRITES; i++) {
      const t = performance.now()
      await leader.backend.put('wan', `k${i % 10}`, 'x'.repeat(256))
      lat.push(performance.now() - t)
    }
    lat.sort((a, b) => a - b)
    const r = (x: number): number => Math.round(x * 10) / 10
    return { leaderRegion: leader.region, p50Ms: r(lat[Math.floor(lat.length / 2)]), p99Ms: r(lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))]), floorMs: floorOf(leader, peers), writes: lat.length }
  } finally {
    for (const p of peers) { await p.backend.stop(); await p.libp2p.stop(); await rm(p.dir, { recursive: true, force: true }) }
  }
}

const on = await run(true)
const off = await run(false)
console.log(JSON.stringify({ bench: 'raft-kv-wan', matrix, regionsOfPeers: REGIONS, voters: 5, valueBytes: 256, fsync: true, sitingOn: on, sitingOffFarLeader: off, note: 'floor = RTT from the leader to its 2nd nearest other voter (quorum 3 of 5), fsync excluded (sub-ms here); one writer at the leader' }, null, 2))
