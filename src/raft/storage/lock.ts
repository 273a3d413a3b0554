/**
 * Directory lock: `<dir>/LOCK` holds the owner's pid. A lock whose pid is no
 * longer running (the owner was killed) is taken over; a live owner, including
 * another open instance in this process, makes opening fail.
 */
import * as fsp from 'node:fs/promises'
import { join } from 'node:path'
import { StorageLockedError } from './errors.js'

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export async function acquireLock (dir: string): Promise<() => Promise<void>> {
  const path = join(dir, 'LOCK')
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await fsp.open(path, 'wx')
      try {
        await fh.writeFile(String(process.pid))
        await fh.sync()
      } finally {
        await fh.close()
      }
      return async () => { await fsp.rm(path, { force: true }) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const text = await fsp.readFile(path, 'utf8').catch(() => '')
    const pid = Number.parseInt(text, 10)
    if (Number.isSafeInteger(pid) && pid > 0 && alive(pid)) {
      throw new StorageLockedError(`${dir} is in use by process ${pid}${pid === process.pid ? ' (this process: close the other instance first)' : ''}`)
    }
    // stale (dead owner or half-written): remove and retry
    await fsp.rm(path, { force: true })
  }
  throw new StorageLockedError(`could not lock ${dir}`)
}
