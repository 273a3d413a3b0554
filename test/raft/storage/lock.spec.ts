/**
 * The Raft WAL directory lock (src/raft/storage/lock.ts) across restarts:
 * a LOCK left by an earlier incarnation with the same pid (PID 1 in a
 * restarted container) or by a process whose pid was reused is stale; a
 * live owner, or a second open in this process, is not.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { acquireLock } from '../../../src/raft/storage/lock.js'
import { StorageLockedError } from '../../../src/raft/storage/errors.js'
import type { ChildProcess } from 'node:child_process'

async function startTimeOf (pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
}

describe('raft storage: directory lock', function () {
  this.timeout(20_000)
  let dir: string
  let child: ChildProcess | undefined

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dcis-lock-')) })
  afterEach(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise(resolve => child!.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
    child = undefined
    await rm(dir, { recursive: true, force: true })
  })

  it('takes over a LOCK with its own pid that this process does not hold (a restarted PID 1)', async () => {
    await writeFile(join(dir, 'LOCK'), String(process.pid))
    const release = await acquireLock(dir)
    assert.match(await readFile(join(dir, 'LOCK'), 'utf8'), new RegExp(`^${process.pid}( \\d+)?$`))
    await release()
  })

  it('refuses a second open in this process, also when both race, and allows one after release', async () => {
    const results = await Promise.allSettled([acquireLock(dir), acquireLock(dir), acquireLock(dir)])
    const won = results.filter(r => r.status === 'fulfilled')
    assert.equal(won.length, 1)
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof StorageLockedError)
    await assert.rejects(acquireLock(dir), StorageLockedError)
    await (won[0] as PromiseFulfilledResult<() => Promise<void>>).value()
    const again = await acquireLock(dir)
    await again()
  })

  it('a live owner keeps its lock; the same pid with another start time is a reused pid', async function () {
    if (process.platform !== 'linux') this.skip()
    child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' })
    const pid = child.pid!
    await new Promise(resolve => child!.once('spawn', resolve))
    const start = await startTimeOf(pid)
    await writeFile(join(dir, 'LOCK'), `${pid} ${start}`)
    await assert.rejects(acquireLock(dir), StorageLockedError)
    // a LOCK in the old format (pid only) with a live pid is honoured too
    await writeFile(join(dir, 'LOCK'), String(pid))
    await assert.rejects(acquireLock(dir), StorageLockedError)
    await writeFile(join(dir, 'LOCK'), `${pid} ${Number(start) + 12345}`)
    const release = await acquireLock(dir)
    await release()
  })
})
