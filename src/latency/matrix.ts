/**
 * Latency matrix files: `{ name?, nodes, rtt }` where rtt[i][j] is the RTT
 * measured from node i to node j in ms, null = unmeasured. `nodes` is a list
 * of distinct names or, as in the shared Seattle data, just their count.
 * Off-diagonal zeros are treated as unmeasured (the source data uses 0 for
 * "no measurement"); the diagonal is ignored.
 */
import { readFile } from 'node:fs/promises'
import { LatencyMatrixError } from './errors.js'

export interface LatencyMatrix {
  name?: string
  nodes: string[]
  rtt: Array<Array<number | null>>
}

/** Upper bound on nodes so a hostile file cannot make us allocate N^2 forever. */
export const MAX_MATRIX_NODES = 5000

/** Validate an already parsed value; throws LatencyMatrixError naming the field. */
export function parseLatencyMatrix (input: unknown): LatencyMatrix {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new LatencyMatrixError('(matrix)', 'must be a JSON object with nodes and rtt')
  const o = input as Record<string, unknown>
  if (o.name !== undefined && typeof o.name !== 'string') throw new LatencyMatrixError('name', 'must be a string')
  if (o.unit !== undefined && o.unit !== 'ms') throw new LatencyMatrixError('unit', 'must be "ms" when present')
  if (!Array.isArray(o.rtt)) throw new LatencyMatrixError('rtt', 'must be an array of rows')
  const n = o.rtt.length
  if (n < 2) throw new LatencyMatrixError('rtt', `needs at least 2 rows, got ${n}`)
  if (n > MAX_MATRIX_NODES) throw new LatencyMatrixError('rtt', `at most ${MAX_MATRIX_NODES} rows, got ${n}`)
  let nodes: string[]
  if (typeof o.nodes === 'number') {
    if (o.nodes !== n) throw new LatencyMatrixError('nodes', `count ${o.nodes} does not match ${n} rows of rtt`)
    nodes = Array.from({ length: n }, (_, i) => `n${i}`)
  } else if (Array.isArray(o.nodes)) {
    if (o.nodes.length !== n) throw new LatencyMatrixError('nodes', `has ${o.nodes.length} names but rtt has ${n} rows`)
    const seen = new Set<string>()
    nodes = o.nodes.map((x, i) => {
      if (typeof x !== 'string' || x.length === 0) throw new LatencyMatrixError(`nodes[${i}]`, 'must be a non-empty string')
      if (seen.has(x)) throw new LatencyMatrixError(`nodes[${i}]`, `duplicate name ${JSON.stringify(x)}`)
      seen.add(x)
      return x
    })
  } else {
    throw new LatencyMatrixError('nodes', 'must be an array of names or the node count')
  }
  const rtt = o.rtt.map((row, i) => {
    if (!Array.isArray(row)) throw new LatencyMatrixError(`rtt[${i}]`, 'must be an array')
    if (row.length !== n) throw new LatencyMatrixError(`rtt[${i}]`, `must have ${n} entries (square matrix), got ${row.length}`)
    return row.map((x: unknown, j): number | null => {
      if (i === j) return 0
      if (x === null) return null
      if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw new LatencyMatrixError(`rtt[${i}][${j}]`, `must be null or a finite number >= 0, got ${JSON.stringify(x)}`)
      return x === 0 ? null : x
    })
  })
  let measured = 0
  for (const row of rtt) for (const x of row) if (x !== null && x > 0) measured++
  if (measured === 0) throw new LatencyMatrixError('rtt', 'has no measured pair')
  return { ...(typeof o.name === 'string' ? { name: o.name } : {}), nodes, rtt }
}

/** Read and validate a matrix file. */
export async function loadLatencyMatrix (file: string, options: { signal?: AbortSignal } = {}): Promise<LatencyMatrix> {
  let text: string
  try {
    text = await readFile(file, { encoding: 'utf8', signal: options.signal })
  } catch (err) {
    throw new LatencyMatrixError('(file)', `cannot read ${file}: ${(err as Error).message}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new LatencyMatrixError('(file)', `${file} is not valid JSON: ${(err as Error).message}`)
  }
  return parseLatencyMatrix(parsed)
}
