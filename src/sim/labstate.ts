/**
 * What a run has created on this host, written before it is created, so
 * `dcis sim clean` can remove it even after the runner was SIGKILLed:
 * namespaces, the bridge, the iptables accept rule and the peer processes.
 * One JSON file per run in /run/dcis-sim (root) or $TMPDIR/dcis-sim-<uid>.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface LabState {
  runId: string
  /** runner pid: a live runner's state is not cleaned */
  runner: number
  namespaces: string[]
  bridge?: string
  /** iptables FORWARD rule arguments added for the bridge (removed with -D) */
  forwardRule?: string[]
  /** peer process ids (with their start time, so a reused pid is not killed) */
  pids: Array<{ pid: number, start: string }>
}

export function stateDir (): string {
  return process.getuid?.() === 0 ? '/run/dcis-sim' : join(tmpdir(), `dcis-sim-${process.getuid?.() ?? 0}`)
}

export function saveState (s: LabState): void {
  const dir = stateDir()
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const tmp = join(dir, `.${s.runId}.json.tmp`)
  writeFileSync(tmp, JSON.stringify(s))
  renameSync(tmp, join(dir, `${s.runId}.json`))
}

export function dropState (runId: string): void {
  rmSync(join(stateDir(), `${runId}.json`), { force: true })
}

export function listStates (): LabState[] {
  let names: string[]
  try { names = readdirSync(stateDir()) } catch { return [] }
  const out: LabState[] = []
  for (const n of names) {
    if (!n.endsWith('.json') || n.startsWith('.')) continue
    try { out.push(JSON.parse(readFileSync(join(stateDir(), n), 'utf8')) as LabState) } catch { /* a torn file: the namespace scan in clean still finds its leftovers */ }
  }
  return out
}

/** field 22 of /proc/<pid>/stat (start time in clock ticks), or '' when the process is gone */
export function processStart (pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? ''
  } catch {
    return ''
  }
}

export function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}
