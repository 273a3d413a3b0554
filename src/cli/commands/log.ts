import type { Command } from 'commander'

export interface LogOptions { api?: string, token?: string, json?: boolean, after?: string, from?: string, to?: string, limit?: string, follow?: boolean, intervalMs?: string }

interface LogRead { key: string, entries: Array<{ cursor: string, ts: { wall: number, logical: number }, replica: string, value: string }>, next: string | null, length: number }

function intOption (name: string, v: string | undefined, min: number): number | undefined {
  if (v == null) return undefined
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name}: an integer >= ${min} (got ${v})`)
  return n
}

async function append (service: string, key: string, entries: string[], opts: LogOptions): Promise<void> {
  const { apiRequest, apiUrlFrom, bearer } = await import('../client.js')
  const { CliError } = await import('../errors.js')
  let all = entries
  if (all.length === 1 && all[0] === '-') {
    // one entry per line from stdin
    const chunks: Buffer[] = []
    for await (const c of process.stdin) chunks.push(c as Buffer)
    all = Buffer.concat(chunks).toString('utf8').split('\n').filter(l => l !== '')
  }
  if (all.length === 0) throw new CliError('nothing to append')
  const path = `/v1/services/${encodeURIComponent(service)}/logs/${encodeURIComponent(key)}`
  for (let i = 0; i < all.length; i += 10_000) {
    const res = await apiRequest<{ appended: number, first: string, last: string, length: number }>(apiUrlFrom(opts.api), path, {
      method: 'POST',
      body: new TextEncoder().encode(JSON.stringify({ entries: all.slice(i, i + 10_000) })),
      headers: { 'content-type': 'application/json', ...bearer(opts.token) }
    })
    process.stdout.write(opts.json === true ? JSON.stringify(res) + '\n' : `appended ${res.appended} (last ${res.last}, log holds ${res.length})\n`)
  }
}

async function read (service: string, key: string, opts: LogOptions): Promise<void> {
  const { apiRequest, apiUrlFrom, bearer } = await import('../client.js')
  const { CliError } = await import('../errors.js')
  let limit: number | undefined
  let fromMs: number | undefined
  let toMs: number | undefined
  let interval: number
  try {
    limit = intOption('--limit', opts.limit, 1)
    fromMs = intOption('--from', opts.from, 0)
    toMs = intOption('--to', opts.to, 0)
    interval = intOption('--interval-ms', opts.intervalMs, 50) ?? 1000
  } catch (err) {
    throw new CliError((err as Error).message)
  }
  let after = opts.after
  for (;;) {
    const q = new URLSearchParams()
    if (after != null) q.set('after', after)
    if (fromMs != null) q.set('fromMs', String(fromMs))
    if (toMs != null) q.set('toMs', String(toMs))
    if (limit != null) q.set('limit', String(limit))
    const qs = q.toString()
    const path = `/v1/services/${encodeURIComponent(service)}/logs/${encodeURIComponent(key)}${qs !== '' ? `?${qs}` : ''}`
    const res = await apiRequest<LogRead>(apiUrlFrom(opts.api), path, { headers: bearer(opts.token) })
    for (const e of res.entries) {
      process.stdout.write(opts.json === true ? JSON.stringify(e) + '\n' : `${new Date(e.ts.wall).toISOString()} ${e.value}\n`)
    }
    if (opts.follow !== true) {
      if (opts.json !== true && res.next != null) process.stderr.write(`next: ${res.next}\n`)
      return
    }
    after = res.next ?? after
    if (res.entries.length === 0) await new Promise(resolve => setTimeout(resolve, interval))
  }
}

export function registerLog (program: Command): void {
  const log = program.command('log').description('append to and read an eventual service\'s append-only logs')
  const common = (c: Command): Command => c
    .option('--api <url>', 'peer API URL (default $DCIS_API_URL or http://127.0.0.1:8080)')
    .option('--token <jwt>', 'bearer token (default $DCIS_TOKEN)')
    .option('--json', 'print JSON (one object per line)')
  common(log.command('append').argument('<service>').argument('<key>').argument('<entries...>').description('append entries in order (`-` reads one entry per line from stdin)'))
    .action(async (service: string, key: string, entries: string[], opts: LogOptions) => { await append(service, key, entries, opts) })
  common(log.command('read').argument('<service>').argument('<key>').description('print entries in order (HLC, then replica id); the cursor to resume from goes to stderr')
    .option('--after <cursor>', 'only entries after this cursor (resume where a consumer stopped)')
    .option('--from <ms>', 'only entries appended at or after this wall time (ms since the epoch)')
    .option('--to <ms>', 'only entries appended before this wall time')
    .option('--limit <n>', 'at most n entries per read')
    .option('-f, --follow', 'keep reading new entries (polls)')
    .option('--interval-ms <ms>', 'poll interval with --follow (default 1000)'))
    .action(async (service: string, key: string, opts: LogOptions) => { await read(service, key, opts) })
}
