import { spawn } from 'node:child_process'

/** Runs `node -e script` (a health check command) and resolves its exit code; killed after 20 s. */
export async function runNodeScript (script: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 20_000)
    child.on('error', (err) => { clearTimeout(timer); reject(err) })
    child.on('exit', code => { clearTimeout(timer); resolve(code ?? -1) })
  })
}
