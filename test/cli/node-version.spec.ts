import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const dist = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

/** a Node older than 22 on this machine (the system Node here is 20), if any */
function oldNode (): string | undefined {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node', '/bin/node']) {
    if (!existsSync(candidate)) continue
    try {
      const v = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim()
      if (Number(v.slice(1).split('.')[0]) < 22) return candidate
    } catch {
      // not runnable: try the next
    }
  }
  return undefined
}

describe('cli: the entry point on an unsupported Node', () => {
  it('stops at once with one line naming the Node version needed', function () {
    const node = oldNode()
    if (node == null || !existsSync(dist)) {
      this.skip()
      return
    }
    const r = spawnSync(node, [dist, 'start', '--data-dir', '/nonexistent/never-created'], { encoding: 'utf8', timeout: 10_000 })
    assert.equal(r.status, 1)
    assert.equal(r.stdout, '')
    const lines = r.stderr.trim().split('\n')
    assert.equal(lines.length, 1, r.stderr)
    assert.match(lines[0], /^dcis: needs Node\.js 22 or newer, this is v\d+\./)
  })

  it('runs on the Node that runs the tests', function () {
    if (!existsSync(dist)) {
      this.skip()
      return
    }
    const r = spawnSync(process.execPath, [dist, '--version'], { encoding: 'utf8', timeout: 30_000 })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^\d+\.\d+\.\d+/)
  })
})
