/**
 * Directory lock: `<dir>/LOCK` holds the owner's pid and, where /proc exists,
 * the owner's start time (`<pid> <starttime>`). A lock whose owner is no
 * longer running is taken over; a live owner, including another open
 * instance in this process, makes opening fail.
 *
 * A pid alone does not name a process across restarts: in a container the
 * peer is PID 1 in every incarnation, so the LOCK a crashed peer left says
 * "1" and the restarted peer, PID 1 again, must not take itself for the
 * owner (issue 10: a supervisor restart has to come back with its Raft
 * replicas). So a lock with our own pid is ours only if this process holds
 * it (`held`), and a live pid whose start time differs from the recorded one
 * is a new process that reused the pid.
 */
import * as fsp from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { StorageLockedError } from './errors.js'

/** lock files this process holds (a lock is per process by nature) */
const held = new Set<string>()

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** a process's start time in clock ticks since boot (/proc/<pid>/stat field 22), or undefined without /proc */
async function startTime (pid: number | 'self'): Promise<string | undefined> {
  try {
    const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) is in parentheses and may contain spaces
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19]
  } catch {
    return undefined
  }
}

export async function acquireLock (dir: string): Promise<() => Promise<void>> {
  const path = resolve(join(dir, 'LOCK'))
  if (held.has(path)) throw new StorageLockedError(`${dir} is in use by process ${process.pid} (this process: close the other instance first)`)
  // claimed before any await: a concurrent open in this process fails above
  held.add(path)
  try {
    return await takeLock(dir, path)
  } catch (err) {
    held.delete(path)
    throw err
  }
}

async function takeLock (dir: string, path: string): Promise<() => Promise<void>> {
  const own = await startTime('self')
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await fsp.open(path, 'wx')
      try {
        await fh.writeFile(own !== undefined ? `${process.pid} ${own}` : String(process.pid))
        await fh.sync()
      } finally {
        await fh.close()
      }
      return async () => {
        held.delete(path)
        await fsp.rm(path, { force: true })
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const [pidText, recordedStart] = (await fsp.readFile(path, 'utf8').catch(() => '')).trim().split(/\s+/)
    const pid = Number.parseInt(pidText, 10)
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      const current = recordedStart !== undefined ? await startTime(pid) : undefined
      if (current === undefined || current === recordedStart) {
        throw new StorageLockedError(`${dir} is in use by process ${pid}`)
      }
    }
    // stale: a dead owner, an earlier incarnation with our pid, a reused pid, or half-written
    await fsp.rm(path, { force: true })
  }
  throw new StorageLockedError(`could not lock ${dir}`)
}
