import type { Command } from 'commander'

export interface ApplyOptions { file: string, api?: string, json?: boolean, token?: string }

export function registerApply (program: Command): void {
  program.command('apply')
    .description('apply manifests (YAML, one or more --- documents, or JSON) on a peer, kubectl-style')
    .requiredOption('-f, --file <file>', 'manifest file (- for standard input)')
    .option('--api <url>', 'peer API URL (default $DCIS_API_URL or http://127.0.0.1:8080)')
    .option('--token <jwt>', 'bearer token (default $DCIS_TOKEN; see dcis token issue)')
    .option('--json', 'print JSON')
    .action(async (opts: ApplyOptions) => {
      const { readFile } = await import('node:fs/promises')
      const { apiRequest, apiUrlFrom, bearer } = await import('../client.js')
      const { CliError } = await import('../errors.js')
      let text: string
      try {
        text = opts.file === '-' ? await new Promise<string>((resolve, reject) => {
          let s = ''
          process.stdin.setEncoding('utf8').on('data', (d: string) => { s += d }).on('end', () => { resolve(s) }).on('error', reject)
        }) : await readFile(opts.file, 'utf8')
      } catch (err) {
        throw new CliError(`-f ${opts.file}: ${(err as Error).message}`)
      }
      const json = /\.json$/i.test(opts.file)
      const res = await apiRequest<{ applied: Array<{ kind: string, name: string, result: Record<string, unknown> }> }>(apiUrlFrom(opts.api), '/v1/manifests', {
        method: 'POST',
        body: new TextEncoder().encode(text),
        headers: { 'content-type': json ? 'application/json' : 'application/yaml', ...bearer(opts.token) }
      })
      process.stdout.write(opts.json === true
        ? JSON.stringify(res) + '\n'
        : res.applied.map(a => `${a.kind.toLowerCase()}/${a.name} applied`).join('\n') + '\n')
    })
}
