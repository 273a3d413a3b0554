/**
 * Synthetic wide-area latency matrices for tests and benchmarks: clusters of
 * hosts on the Earth's surface, great-circle propagation in fibre with a
 * route inflation factor, an access-link delay per host (the "height") and
 * small multiplicative jitter per direction. Deterministic given the seed.
 */
import { createPrng } from './prng.js'
import type { LatencyMatrix } from './matrix.js'

export interface WideAreaOptions {
  seed: number
  /** hosts (default 100) */
  nodes?: number
  /** cluster centres, uniform on the sphere (default 8) */
  clusters?: number
  /** std-dev of a host's angular offset from its centre, in km (default 400) */
  spreadKm?: number
  /** access delay per host, uniform in [min, max] ms, added at both ends (default 1..15) */
  accessMs?: [number, number]
  /** std-dev of the multiplicative jitter per measured direction (default 0.02) */
  jitter?: number
  /** ratio of routed path to great-circle distance (default 1.4) */
  routeInflation?: number
  /** fraction of off-diagonal pairs left unmeasured (default 0.02) */
  missing?: number
  /**
   * fraction of directed pairs routed through a detour 1.5..4x longer (one
   * direction only: asymmetric routes and triangle-inequality violations;
   * default 0)
   */
  detours?: number
}

const EARTH_RADIUS_KM = 6371
/** light in fibre: about 200 km per ms one way */
const FIBRE_KM_PER_MS = 200

export function generateWideAreaMatrix (options: WideAreaOptions): LatencyMatrix {
  const prng = createPrng(options.seed)
  const n = options.nodes ?? 100
  const k = options.clusters ?? 8
  const spread = (options.spreadKm ?? 400) / EARTH_RADIUS_KM
  const [accMin, accMax] = options.accessMs ?? [1, 15]
  const jitter = options.jitter ?? 0.02
  const inflation = options.routeInflation ?? 1.4
  const missing = options.missing ?? 0.02
  const detours = options.detours ?? 0

  const unit = (v: number[]): number[] => {
    const m = Math.hypot(v[0], v[1], v[2])
    return [v[0] / m, v[1] / m, v[2] / m]
  }
  const centres = Array.from({ length: k }, () => unit([prng.normal(), prng.normal(), prng.normal()]))
  const hosts = Array.from({ length: n }, () => {
    const c = centres[prng.int(k)]
    // small tangent offset, then back onto the sphere
    return unit([c[0] + spread * prng.normal(), c[1] + spread * prng.normal(), c[2] + spread * prng.normal()])
  })
  const access = Array.from({ length: n }, () => accMin + (accMax - accMin) * prng.next())
  const rtt: Array<Array<number | null>> = []
  for (let i = 0; i < n; i++) {
    const row: Array<number | null> = []
    for (let j = 0; j < n; j++) {
      if (i === j) { row.push(0); continue }
      if (prng.next() < missing) { row.push(null); continue }
      const a = hosts[i]
      const b = hosts[j]
      const cos = Math.max(-1, Math.min(1, a[0] * b[0] + a[1] * b[1] + a[2] * b[2]))
      const km = Math.acos(cos) * EARTH_RADIUS_KM
      const prop = 2 * km * inflation / FIBRE_KM_PER_MS
      const detour = detours > 0 && prng.next() < detours ? 1.5 + 2.5 * prng.next() : 1
      const base = prop * detour + access[i] + access[j]
      row.push(Math.max(0.1, base * Math.exp(jitter * prng.normal())))
    }
    rtt.push(row)
  }
  return { name: `wide-area-seed-${options.seed}`, nodes: Array.from({ length: n }, (_, i) => `h${i}`), rtt }
}
