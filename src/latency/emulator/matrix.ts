/**
 * The RTT matrix: validation at the config boundary and one-way delay lookup.
 * Pure: no I/O, no clock.
 */
import { LinkEmulatorConfigError } from './errors.js'
import { regionProblem } from './preamble.js'

/**
 * rttMs[i][j] = RTT from regions[i] to regions[j]; the diagonal is the
 * same-region RTT (often 0). null = unknown pair (no delay, warned once),
 * the same shape as the config's matrix.
 */
export interface RttMatrix {
  regions: string[]
  rttMs: Array<Array<number | null>>
}

/** Upper bound on a matrix entry: anything above a minute is a unit mistake. */
export const MAX_RTT_MS = 60_000

/** Throws LinkEmulatorConfigError naming the offending field (prefixed by `field`). */
export function validateRttMatrix (matrix: unknown, field = 'matrix'): RttMatrix {
  if (matrix == null || typeof matrix !== 'object') throw new LinkEmulatorConfigError(field, 'must be an object {regions, rttMs}')
  const { regions, rttMs } = matrix as Record<string, unknown>
  if (!Array.isArray(regions) || regions.length === 0) throw new LinkEmulatorConfigError(`${field}.regions`, 'must be a non-empty array of region names')
  const seen = new Set<string>()
  regions.forEach((r, i) => {
    if (typeof r !== 'string') throw new LinkEmulatorConfigError(`${field}.regions[${i}]`, 'must be a string')
    const problem = regionProblem(r)
    if (problem != null) throw new LinkEmulatorConfigError(`${field}.regions[${i}]`, `region ${JSON.stringify(r)} ${problem}`)
    if (seen.has(r)) throw new LinkEmulatorConfigError(`${field}.regions[${i}]`, `duplicate region ${JSON.stringify(r)}`)
    seen.add(r)
  })
  const n = regions.length
  if (!Array.isArray(rttMs) || rttMs.length !== n) throw new LinkEmulatorConfigError(`${field}.rttMs`, `must be an array of ${n} rows (one per region)`)
  rttMs.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== n) throw new LinkEmulatorConfigError(`${field}.rttMs[${i}]`, `must be an array of ${n} numbers`)
    row.forEach((v, j) => {
      if (v === null) return
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_RTT_MS) {
        throw new LinkEmulatorConfigError(`${field}.rttMs[${i}][${j}]`, `must be null (unknown) or a finite number of milliseconds in 0..${MAX_RTT_MS}`)
      }
    })
  })
  return { regions: [...regions] as string[], rttMs: (rttMs as Array<Array<number | null>>).map(row => [...row]) }
}

/** One-way delays derived from a validated matrix. */
export class DelayTable {
  private readonly index: Map<string, number>
  private readonly rttMs: Array<Array<number | null>>

  constructor (matrix: RttMatrix) {
    const m = validateRttMatrix(matrix)
    this.index = new Map(m.regions.map((r, i) => [r, i]))
    this.rttMs = m.rttMs
  }

  regions (): string[] {
    return [...this.index.keys()]
  }

  has (region: string): boolean {
    return this.index.has(region)
  }

  /**
   * Delay for bytes travelling from `from` to `to`: half of rttMs[from][to],
   * so a request/response between two emulating peers sees
   * (rtt[a][b] + rtt[b][a]) / 2 — the matrix RTT when the matrix is
   * symmetric. undefined when either region is not in the matrix or the
   * entry is null (unknown).
   */
  oneWayMs (from: string, to: string): number | undefined {
    const i = this.index.get(from)
    const j = this.index.get(to)
    if (i === undefined || j === undefined) return undefined
    const rtt = this.rttMs[i][j]
    return rtt === null ? undefined : rtt / 2
  }
}
