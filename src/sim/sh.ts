/**
 * Runs the lab's system tools (ip, nft, tc, iptables) without a shell:
 * argv arrays, stdin for nft scripts, a timeout, and a LabNetworkError that
 * quotes the command and its stderr.
 */
import { spawn } from 'node:child_process'
import { LabNetworkError } from './errors.js'

export interface ShResult { code: number | null, stdout: string, stderr: string }

export async function sh (argv: string[], options: { input?: string, timeoutMs?: number, check?: boolean } = {}): Promise<ShResult> {
  const [cmd, ...args] = argv
  const child = spawn(cmd, args, { stdio: [options.input != null ? 'pipe' : 'ignore', 'pipe', 'pipe'] })
  child.stdin?.on('error', () => { /* the tool exited before reading: its exit code says why */ })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 15_000)
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', (err) => { stderr += err.message; resolve(127) })
    child.once('close', (c) => { resolve(c) })
    child.stdin?.end(options.input)
  })
  clearTimeout(timer)
  if (options.check !== false && code !== 0) throw new LabNetworkError(`${argv.join(' ')}: exit ${code ?? 'killed'}: ${stderr.trim().split('\n')[0] ?? ''}`)
  return { code, stdout, stderr }
}

/** true when `argv` runs and exits 0 */
export async function works (argv: string[]): Promise<boolean> {
  return (await sh(argv, { check: false, timeoutMs: 5000 })).code === 0
}
