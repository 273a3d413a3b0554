/** V8 CPU profiles (`node --cpu-prof`) as prof-top.ts and prof-callers.ts read them. */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

export interface CallFrame { functionName: string, url: string, lineNumber: number }
export interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
export interface Profile { nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }

/** the path itself if it is a file, else every *.cpuprofile under it */
export async function profileFiles (path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path]
  const out: string[] = []
  for (const e of await readdir(path, { withFileTypes: true })) {
    const p = join(path, e.name)
    if (e.isDirectory()) out.push(...await profileFiles(p))
    else if (e.name.endsWith('.cpuprofile')) out.push(p)
  }
  return out
}
