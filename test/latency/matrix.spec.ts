import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadLatencyMatrix, parseLatencyMatrix, LatencyMatrixError } from '../../src/latency/index.js'
import { SEATTLE } from './data.js'

function rejects (input: unknown, field: string): void {
  assert.throws(() => parseLatencyMatrix(input), (err: Error) => {
    assert.ok(err instanceof LatencyMatrixError, `expected LatencyMatrixError, got ${err.name}`)
    assert.equal((err as LatencyMatrixError).field, field)
    assert.equal((err as LatencyMatrixError).code, 'LATENCY_MATRIX_INVALID')
    return true
  })
}

describe('latency/matrix', () => {
  it('parses names or a node count; null and off-diagonal 0 are unmeasured; the diagonal is ignored', () => {
    const m = parseLatencyMatrix({ name: 'x', nodes: ['a', 'b', 'c'], rtt: [[5, 10, null], [12, 0, 0], [20, 21, 0]] })
    assert.deepEqual(m.nodes, ['a', 'b', 'c'])
    assert.deepEqual(m.rtt, [[0, 10, null], [12, 0, null], [20, 21, 0]])
    assert.equal(m.name, 'x')
    const c = parseLatencyMatrix({ nodes: 2, rtt: [[0, 1], [2, 0]], unit: 'ms' })
    assert.deepEqual(c.nodes, ['n0', 'n1'])
  })

  it('rejects malformed matrices naming the field', () => {
    rejects('x', '(matrix)')
    rejects([], '(matrix)')
    rejects({ nodes: 2 }, 'rtt')
    rejects({ nodes: 1, rtt: [[0]] }, 'rtt')
    rejects({ nodes: 3, rtt: [[0, 1], [1, 0]] }, 'nodes')
    rejects({ nodes: ['a'], rtt: [[0, 1], [1, 0]] }, 'nodes')
    rejects({ nodes: ['a', 'a'], rtt: [[0, 1], [1, 0]] }, 'nodes[1]')
    rejects({ nodes: ['a', 7], rtt: [[0, 1], [1, 0]] }, 'nodes[1]')
    rejects({ nodes: 'two', rtt: [[0, 1], [1, 0]] }, 'nodes')
    rejects({ nodes: 2, rtt: [[0, 1], [1]] }, 'rtt[1]')
    rejects({ nodes: 2, rtt: [[0, 1], 'row'] }, 'rtt[1]')
    rejects({ nodes: 2, rtt: [[0, -1], [1, 0]] }, 'rtt[0][1]')
    rejects({ nodes: 2, rtt: [[0, '1'], [1, 0]] }, 'rtt[0][1]')
    rejects({ nodes: 2, rtt: [[0, 1], [Infinity, 0]] }, 'rtt[1][0]')
    rejects({ nodes: 2, rtt: [[0, null], [null, 0]] }, 'rtt')
    rejects({ nodes: 2, rtt: [[0, 1], [1, 0]], unit: 's' }, 'unit')
    rejects({ nodes: 2, rtt: [[0, 1], [1, 0]], name: 5 }, 'name')
  })

  describe('files', () => {
    let dir = ''
    before(async () => { dir = await mkdtemp(join(tmpdir(), 'dcis-latency-')) })
    after(async () => { await rm(dir, { recursive: true, force: true }) })

    it('loads a file, and reports missing files and bad JSON as LatencyMatrixError', async () => {
      const good = join(dir, 'good.json')
      await writeFile(good, JSON.stringify({ nodes: ['a', 'b'], rtt: [[0, 3], [4, 0]] }))
      assert.deepEqual((await loadLatencyMatrix(good)).rtt, [[0, 3], [4, 0]])
      const bad = join(dir, 'bad.json')
      await writeFile(bad, '{"nodes": 2, "rtt": [[0, 1], [1, 0]')
      await assert.rejects(loadLatencyMatrix(bad), (e: Error) => e instanceof LatencyMatrixError && (e as LatencyMatrixError).field === '(file)')
      await assert.rejects(loadLatencyMatrix(join(dir, 'absent.json')), (e: Error) => e instanceof LatencyMatrixError && (e as LatencyMatrixError).field === '(file)')
    })

    it('loads the shared Seattle matrix (99 hosts, directional, with gaps)', async function () {
      if (!existsSync(SEATTLE)) this.skip()
      const m = await loadLatencyMatrix(SEATTLE)
      assert.equal(m.nodes.length, 99)
      let nulls = 0
      for (let i = 0; i < 99; i++) for (let j = 0; j < 99; j++) if (i !== j && m.rtt[i][j] === null) nulls++
      assert.ok(nulls > 0)
    })
  })
})
