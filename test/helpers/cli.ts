import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** How tests run the CLI: the TypeScript sources through tsx, so no build is needed. */
export function cliCommand (): string[] {
  return [process.execPath, '--import', 'tsx', fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))]
}

export interface CliResult { code: number | null, stdout: string, stderr: string }

/** Runs `dcis ARGS` to completion (with a timeout) and collects its output. */
export async function runCli (args: string[], options: { timeoutMs?: number, env?: NodeJS.ProcessEnv, cwd?: string } = {}): Promise<CliResult> {
  const [cmd, ...base] = cliCommand()
  const child = spawn(cmd, [...base, ...args], { cwd: options.cwd ?? REPO_ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 30_000)
  const code = await new Promise<number | null>(resolve => { child.once('exit', (c) => { resolve(c) }) })
  clearTimeout(timer)
  return { code, stdout, stderr }
}
