/**
 * Teardown: Ctrl-C (SIGINT) to a running `dcis sim run` removes its peers,
 * namespaces and bridge before it exits; after a SIGKILLed runner,
 * `dcis sim clean` removes what it left. Needs the namespace lab (root);
 * the loopback case checks the peer processes only.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait.js'
import { netnsProblem } from '../../src/sim/netns.js'
import type { ChildProcess } from 'node:child_process'

const DIST_CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js')

const children: ChildProcess[] = []

function start (args: string[]): { child: ChildProcess, out: () => string } {
  const child = spawn(process.execPath, [DIST_CLI, 'sim', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  children.push(child)
  return { child, out: () => out }
}

async function exited (child: ChildProcess): Promise<number | null> {
  if (child.exitCode != null || child.signalCode != null) return child.exitCode
  return new Promise(resolve => { child.once('exit', c => { resolve(c) }) })
}

/** namespaces, bridges and peer processes of run `id` still on this host */
function remains (id: string, dataDir: string): string[] {
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter(l => l.startsWith(`dcis-${id}-`))
  const br = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n').filter(l => l.includes(`dcisb${id}`))
  const procs = spawnSync('pgrep', ['-f', `--data-dir ${dataDir}/peers/`], { encoding: 'utf8' }).stdout.split('\n').filter(l => l !== '')
  return [...ns, ...br, ...procs]
}

describe('e2e: sim teardown', function () {
  this.timeout(240_000)
  let dir: string
  let scenario: string
  before(async function () {
    if (!existsSync(DIST_CLI)) { console.log('      skipped: dist/ not built'); this.skip() }
    dir = await mkdtemp(join(tmpdir(), 'dcis-sim-clean-'))
    scenario = join(dir, 'tiny.yaml')
    await writeFile(scenario, 'name: tiny\nseed: 1\nduration: 120\nsites:\n  - { name: a, region: eu-west, peers: 2 }\n  - { name: n, region: eu-west, nat: true, peers: 1 }\n')
  })
  after(async () => {
    for (const c of children) if (c.exitCode == null && c.signalCode == null) { c.kill('SIGINT'); await exited(c) }
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  /** waits for `text` in the run's output; fails at once when the runner exits */
  async function logged (run: { child: ChildProcess, out: () => string }, text: string): Promise<void> {
    await waitFor(text, () => {
      if (run.out().includes(text)) return true
      if (run.child.exitCode != null) throw new Error(`the runner exited ${run.child.exitCode}: ${run.out().slice(-1500)}`)
      return false
    }, { timeoutMs: 120_000 })
  }

  it('Ctrl-C tears the run down before the runner exits', async () => {
    const out = join(dir, 'int')
    const run = start(['run', scenario, '--out', out])
    const id = await waitFor('the run id', () => /\(run (\w+)\)/.exec(run.out())?.[1], { timeoutMs: 60_000 })
    await logged(run, 'started 3 peers')
    run.child.kill('SIGINT')
    assert.equal(await exited(run.child), 130, run.out())
    assert.deepEqual(remains(id, out), [])
  })

  it('dcis sim clean removes what a SIGKILLed runner left', async () => {
    const out = join(dir, 'kill')
    const run = start(['run', scenario, '--out', out])
    const id = await waitFor('the run id', () => /\(run (\w+)\)/.exec(run.out())?.[1], { timeoutMs: 60_000 })
    await logged(run, 'started 3 peers')
    run.child.kill('SIGKILL')
    await exited(run.child)
    const lab = (await netnsProblem()) == null
    if (lab) assert.ok(remains(id, out).length > 0, 'the killed runner left its lab behind')
    const clean = spawnSync(process.execPath, [DIST_CLI, 'sim', 'clean'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 })
    assert.equal(clean.status, 0, clean.stderr)
    assert.match(clean.stdout, /removed/)
    await waitFor('the peers gone', () => remains(id, out).length === 0, { timeoutMs: 20_000 })
    const again = spawnSync(process.execPath, [DIST_CLI, 'sim', 'clean'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 })
    assert.match(again.stdout, /^nothing to clean$/m)
    assert.doesNotMatch(again.stdout, /removed/)
  })
})
