/**
 * Bytes on the wire: delta vs full-state propagation, and join / encode /
 * decode throughput. Prints one JSON object.
 *
 *   npx tsx bench/crdt/delta-vs-full.ts [--rounds N] [--quick]
 *
 * Workloads (concurrent updates on every replica each round):
 *   pncounter         every replica adds a random amount
 *   ormap<ccounter>   1000-key leaderboard, every replica bumps one key
 *   orset             1000 members, every replica adds one and removes one
 * Propagation:
 *   broadcast: each replica sends its round's delta-group (or its full state) to every other
 *   ring gossip: DeltaBuffer on a ring, BP+RR vs classic delta (no BP/RR) vs full state
 */
import {
  ccounter, decodeCrdt, DeltaBuffer, encodeCrdt, encodeDeltaGroup, equals, join, orset, ormap, pncounter
} from '../../src/crdt/index.js'
import type { CCounter, Crdt, ORMap, ORSet } from '../../src/crdt/index.js'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const roundsArg = args.indexOf('--rounds')
const ROUNDS = roundsArg >= 0 ? Number(args[roundsArg + 1]) : quick ? 5 : 20

function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Peer-id-sized replica ids, as the node will use. */
function replicaId (i: number): string {
  return `12D3KooW${String(i).padStart(3, '0')}${'x'.repeat(41)}`
}

interface Workload<T extends Crdt> {
  name: string
  initial: () => T
  update: (s: T, replica: string, rnd: () => number) => T
}

const KEYS = 1000
const workloads: Array<Workload<Crdt>> = [
  {
    name: 'pncounter',
    initial: pncounter.bottom,
    update: (s, r, rnd) => pncounter.add(s as pncounter.PNCounter, r, Math.floor(rnd() * 21) - 10)
  },
  {
    name: 'ormap<ccounter>',
    initial: () => {
      let m: ORMap = ormap.bottom({ kind: 'ccounter' })
      for (let k = 0; k < KEYS; k++) m = join(m, ormap.update<CCounter>(m, `player-${k}`, (v) => ccounter.add(v, replicaId(999), 1)))
      return m
    },
    update: (s, r, rnd) => ormap.update<CCounter>(s as ORMap, `player-${Math.floor(rnd() * KEYS)}`, (v) => ccounter.add(v, r, 1 + Math.floor(rnd() * 5)))
  },
  {
    name: 'orset',
    initial: () => {
      let s: ORSet = orset.bottom()
      for (let k = 0; k < KEYS; k++) s = join(s, orset.add(s, replicaId(999), `member-${k}`))
      return s
    },
    update: (s, r, rnd) => {
      const set = s as ORSet
      const add = orset.add(set, r, `member-${Math.floor(rnd() * KEYS * 2)}`)
      const rm = orset.remove(join(set, add), `member-${Math.floor(rnd() * KEYS * 2)}`)
      return join(add, rm)
    }
  }
]

function broadcast (w: Workload<Crdt>, n: number): Record<string, number> {
  const rnd = prng(n * 7919 + w.name.length)
  const ids = Array.from({ length: n }, (_, i) => replicaId(i))
  const init = w.initial()
  let states: Crdt[] = ids.map(() => init)
  let deltaBytes = 0
  let fullBytes = 0
  for (let round = 0; round < ROUNDS; round++) {
    const groups: Crdt[] = []
    states = states.map((s, i) => {
      const d = w.update(s, ids[i], rnd)
      groups.push(d)
      return join(s, d)
    })
    for (let i = 0; i < n; i++) {
      deltaBytes += encodeDeltaGroup({ seq: round + 1, full: false, state: groups[i] }).length * (n - 1)
      fullBytes += encodeDeltaGroup({ seq: round + 1, full: true, state: states[i] }).length * (n - 1)
    }
    const all = groups.reduce((a, b) => join(a, b))
    states = states.map((s) => join(s, all))
  }
  return {
    replicas: n,
    deltaBytesPerRound: Math.round(deltaBytes / ROUNDS),
    fullBytesPerRound: Math.round(fullBytes / ROUNDS),
    ratio: Number((deltaBytes / fullBytes).toFixed(4))
  }
}

type Mode = 'bp+rr' | 'classic' | 'full'

function ringGossip (w: Workload<Crdt>, n: number, mode: Mode): { bytes: number, rounds: number, converged: boolean } {
  const rnd = prng(n * 104729 + w.name.length)
  const ids = Array.from({ length: n }, (_, i) => replicaId(i))
  const init = w.initial()
  const states: Crdt[] = ids.map(() => init)
  const bufs = ids.map(() => new DeltaBuffer<Crdt>({
    maxEntries: 4096,
    avoidBackPropagation: mode === 'bp+rr',
    removeRedundant: mode === 'bp+rr'
  }))
  const neigh = (i: number): number[] => [(i + 1) % n, (i + n - 1) % n]
  bufs.forEach((b, i) => { for (const j of neigh(i)) b.addNeighbour(String(j), { synced: true }) })
  let bytes = 0
  let truth = init
  const step = (): number => {
    let sent = 0
    const out: Array<{ from: number, to: number, msg: Crdt, seq: number }> = []
    for (let i = 0; i < n; i++) {
      for (const j of neigh(i)) {
        if (mode === 'full') continue
        const m = bufs[i].outgoing(String(j), states[i])
        if (m == null) continue
        bytes += encodeDeltaGroup(m).length
        out.push({ from: i, to: j, msg: m.state, seq: m.seq })
        sent++
      }
    }
    for (const o of out) {
      const novel = bufs[o.to].recordReceived(o.msg, String(o.from), states[o.to])
      if (novel != null) states[o.to] = join(states[o.to], novel)
      bufs[o.from].ack(String(o.to), o.seq)
    }
    return sent
  }
  let rounds = 0
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < n; i++) {
      const d = w.update(states[i], ids[i], rnd)
      states[i] = join(states[i], d)
      truth = join(truth, d)
      bufs[i].recordLocal(d)
    }
    if (mode === 'full') {
      // every replica sends its full state to both ring neighbours; n/2 rounds of this to spread
      const snapshot = [...states]
      for (let i = 0; i < n; i++) for (const j of neigh(i)) { bytes += encodeDeltaGroup({ seq: 0, full: true, state: snapshot[i] }).length; states[j] = join(states[j], snapshot[i]) }
    } else step()
    rounds++
  }
  // drain
  if (mode === 'full') {
    for (let r = 0; r < n && !states.every((s) => equals(s, truth)); r++) {
      const snapshot = [...states]
      for (let i = 0; i < n; i++) for (const j of neigh(i)) { bytes += encodeDeltaGroup({ seq: 0, full: true, state: snapshot[i] }).length; states[j] = join(states[j], snapshot[i]) }
      rounds++
    }
  } else {
    while (step() > 0 && rounds < ROUNDS + 10 * n) rounds++
  }
  return { bytes, rounds, converged: states.every((s) => equals(s, truth)) }
}

function throughput (label: string, fn: () => void, minMs = quick ? 200 : 1000): { opsPerSec: number } {
  // warm up (JIT, and let the previous measurement's garbage be collected)
  const warm = performance.now()
  while (performance.now() - warm < minMs / 4) fn()
  let ops = 0
  const start = performance.now()
  let now = start
  while (now - start < minMs) {
    for (let i = 0; i < 10; i++) fn()
    ops += 10
    now = performance.now()
  }
  void label
  return { opsPerSec: Math.round(ops / ((now - start) / 1000)) }
}

const sizes = quick ? [3, 10] : [3, 5, 10, 20]
const result: Record<string, unknown> = { rounds: ROUNDS, workloads: {} as Record<string, unknown> }
for (const w of workloads) {
  const entry: Record<string, unknown> = { broadcast: sizes.map((n) => broadcast(w, n)) }
  const ringN = quick ? 6 : 10
  const ring: Record<string, unknown> = { replicas: ringN }
  for (const mode of ['bp+rr', 'classic', 'full'] as Mode[]) ring[mode] = ringGossip(w, ringN, mode)
  const bp = ring['bp+rr'] as { bytes: number }
  const full = ring.full as { bytes: number }
  const classic = ring.classic as { bytes: number }
  ring.ratioBpRrToFull = Number((bp.bytes / full.bytes).toFixed(4))
  ring.ratioClassicToFull = Number((classic.bytes / full.bytes).toFixed(4))
  entry.ringGossip = ring
  ;(result.workloads as Record<string, unknown>)[w.name] = entry
}

// throughput on a 10k-member ORSet
let big: ORSet = orset.bottom()
for (let k = 0; k < 10_000; k++) big = join(big, orset.add(big, replicaId(k % 10), `member-${k}`))
const delta = orset.add(big, replicaId(3), 'member-new')
const bigBytes = encodeCrdt(big)
const deltaBytes = encodeCrdt(delta)
const joinT = throughput('join', () => { join(big, delta) })
const encT = throughput('encode', () => { encodeCrdt(big) })
const decT = throughput('decode', () => { decodeCrdt(bigBytes) })
const encD = throughput('encodeDelta', () => { encodeCrdt(delta) })
const decD = throughput('decodeDelta', () => { decodeCrdt(deltaBytes) })
result.throughput = {
  orsetMembers: 10_000,
  stateBytes: bigBytes.length,
  deltaBytes: deltaBytes.length,
  joinStateWithDeltaPerSec: joinT.opsPerSec,
  encodeStatePerSec: encT.opsPerSec,
  encodeStateMBps: Number((encT.opsPerSec * bigBytes.length / 1e6).toFixed(1)),
  decodeStatePerSec: decT.opsPerSec,
  decodeStateMBps: Number((decT.opsPerSec * bigBytes.length / 1e6).toFixed(1)),
  encodeDeltaPerSec: encD.opsPerSec,
  decodeDeltaPerSec: decD.opsPerSec
}
console.log(JSON.stringify(result))
