/**
 * What `dcis start` re-executes itself with (src/cli/main.ts): Node flags
 * and environment that only take effect at process start.
 *
 * - `--max-semi-space-size=8`: V8 sizes the young generation from the
 *   machine's memory; on a 24 GiB box an idle peer otherwise kept ~128 MiB
 *   of mostly empty new space resident.
 * - `MALLOC_ARENA_MAX=2` (glibc; other C libraries ignore it): glibc gives
 *   each thread that allocates its own malloc arena, up to 8 per core, and
 *   a peer has ~9 threads (V8's platform workers, libuv's pool, LevelDB's).
 *   Memory freed in an arena stays resident in it. With 2 arenas an idle
 *   peer of a 10-peer mesh kept 121–122 MiB RSS instead of 126 (mean of 10
 *   peers after settling, same CPU; docs/performance.md).
 *
 * A flag or variable the user set wins, and a start that has nothing to add
 * (the re-executed process itself) is not re-executed again.
 */
export const SEMI_SPACE_FLAG = '--max-semi-space-size=8'
export const MALLOC_ARENAS = '2'

export interface ReexecContext {
  argv: string[]
  execArgv: string[]
  env: Record<string, string | undefined>
  platform: string
  /** process.execve exists (Node ≥ 23.11 / 22.15) */
  canExecve: boolean
}

/** the arguments (after the Node binary) and environment to re-execute with, or null to run as is */
export function reexecPlan (c: ReexecContext): { args: string[], env: Record<string, string | undefined> } | null {
  if (c.argv[2] !== 'start' || c.env.DCIS_NO_REEXEC === '1' || c.platform === 'win32' || !c.canExecve) return null
  const given = [...c.execArgv, ...(c.env.NODE_OPTIONS ?? '').split(/\s+/)]
  const flags = given.some(a => a.startsWith('--max-semi-space-size')) ? [] : [SEMI_SPACE_FLAG]
  const env = c.env.MALLOC_ARENA_MAX == null || c.env.MALLOC_ARENA_MAX === '' ? { MALLOC_ARENA_MAX: MALLOC_ARENAS } : {}
  if (flags.length === 0 && Object.keys(env).length === 0) return null
  return { args: [...flags, ...c.execArgv, ...c.argv.slice(1)], env: { ...c.env, ...env } }
}
