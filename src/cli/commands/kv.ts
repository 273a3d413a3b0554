import type { Command } from 'commander'

export interface KvOptions { api?: string, token?: string, json?: boolean, ifRevision?: string }

async function call (method: 'GET' | 'PUT' | 'DELETE', service: string, key: string, value: string | undefined, opts: KvOptions): Promise<void> {
  const { apiRequest, apiUrlFrom, bearer } = await import('../client.js')
  const { CliError } = await import('../errors.js')
  let query = ''
  if (opts.ifRevision != null) {
    const n = Number(opts.ifRevision)
    if (!Number.isInteger(n) || n < 0) throw new CliError(`--if-revision: a non-negative integer (got ${opts.ifRevision})`)
    query = `?ifRevision=${n}`
  }
  const path = `/v1/services/${encodeURIComponent(service)}/kv/${encodeURIComponent(key)}${query}`
  const res = await apiRequest<{ key?: string, value?: string, revision: number }>(apiUrlFrom(opts.api), path, {
    method,
    ...(value != null ? { body: new TextEncoder().encode(value) } : {}),
    headers: { ...(value != null ? { 'content-type': 'text/plain' } : {}), ...bearer(opts.token) }
  })
  if (opts.json === true) {
    process.stdout.write(JSON.stringify(res) + '\n')
  } else if (method === 'GET') {
    process.stdout.write(`${res.value ?? ''}\n`)
  } else {
    process.stdout.write(`revision ${res.revision}\n`)
  }
}

export function registerKv (program: Command): void {
  const kv = program.command('kv').description('read and write a stateful service\'s keys (linearizable for strong services)')
  const common = (c: Command): Command => c
    .option('--api <url>', 'peer API URL (default $DCIS_API_URL or http://127.0.0.1:8080)')
    .option('--token <jwt>', 'bearer token (default $DCIS_TOKEN)')
    .option('--json', 'print {key, value, revision} / {revision}')
  common(kv.command('get').argument('<service>').argument('<key>').description('print the value (404 KEY_NOT_FOUND if absent)'))
    .action(async (service: string, key: string, opts: KvOptions) => { await call('GET', service, key, undefined, opts) })
  common(kv.command('put').argument('<service>').argument('<key>').argument('<value>').description('write a value; prints the new revision')
    .option('--if-revision <n>', 'compare-and-set: only if the key\'s revision is N (0 = only if absent)'))
    .action(async (service: string, key: string, value: string, opts: KvOptions) => { await call('PUT', service, key, value, opts) })
  common(kv.command('del').argument('<service>').argument('<key>').description('delete a key; prints the revision of the delete')
    .option('--if-revision <n>', 'compare-and-set on the key\'s revision'))
    .action(async (service: string, key: string, opts: KvOptions) => { await call('DELETE', service, key, undefined, opts) })
}
