import assert from 'node:assert/strict'
import { MALLOC_ARENAS, SEMI_SPACE_FLAG, reexecPlan } from '../../src/cli/reexec.js'
import type { ReexecContext } from '../../src/cli/reexec.js'

const base: ReexecContext = {
  argv: ['/usr/bin/node', '/app/dist/cli/main.js', 'start', '--config', 'c.yaml'],
  execArgv: [],
  env: { PATH: '/usr/bin' },
  platform: 'linux',
  canExecve: true
}

describe('cli: dcis start re-executes itself with its memory settings', function () {
  it('start gets the young-generation flag before its own arguments and MALLOC_ARENA_MAX, keeping the rest of the environment', function () {
    const plan = reexecPlan(base)
    assert.deepEqual(plan?.args, [SEMI_SPACE_FLAG, '/app/dist/cli/main.js', 'start', '--config', 'c.yaml'])
    assert.deepEqual(plan?.env, { PATH: '/usr/bin', MALLOC_ARENA_MAX: MALLOC_ARENAS })
  })

  it('the re-executed process is not re-executed again', function () {
    const first = reexecPlan({ ...base, execArgv: ['--import', 'tsx'] })
    assert.ok(first != null)
    const [flag, ...rest] = first.args
    assert.deepEqual(rest.slice(0, 2), ['--import', 'tsx'])
    assert.equal(reexecPlan({ ...base, execArgv: [flag, '--import', 'tsx'], env: first.env }), null)
  })

  it('the user\'s own flag or arena count wins', function () {
    const ownFlag = reexecPlan({ ...base, env: { NODE_OPTIONS: '--max-semi-space-size=2' } })
    assert.deepEqual(ownFlag?.args, base.argv.slice(1))
    assert.equal(ownFlag?.env.MALLOC_ARENA_MAX, MALLOC_ARENAS)
    const ownArenas = reexecPlan({ ...base, env: { MALLOC_ARENA_MAX: '8' } })
    assert.equal(ownArenas?.env.MALLOC_ARENA_MAX, '8')
    assert.equal(ownArenas?.args[0], SEMI_SPACE_FLAG)
    assert.equal(reexecPlan({ ...base, execArgv: ['--max-semi-space-size=16'], env: { MALLOC_ARENA_MAX: '4' } }), null)
  })

  it('only start, only where execve exists, not on Windows, not with DCIS_NO_REEXEC=1', function () {
    assert.equal(reexecPlan({ ...base, argv: ['/usr/bin/node', 'main.js', 'up'] }), null)
    assert.equal(reexecPlan({ ...base, canExecve: false }), null)
    assert.equal(reexecPlan({ ...base, platform: 'win32' }), null)
    assert.equal(reexecPlan({ ...base, env: { DCIS_NO_REEXEC: '1' } }), null)
  })
})
