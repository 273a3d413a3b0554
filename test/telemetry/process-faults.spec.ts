/**
 * The process-level fault policy of `dcis start` (src/telemetry/process-faults.ts):
 * a rejection nobody handled is logged and counted and the process goes on;
 * an uncaught exception is logged in one line and exits with code 70. Real
 * child processes, with and without --unhandled-rejections=strict.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { REPO_ROOT } from '../helpers/cli.js'
import { unhandledRejectionsMode, UNCAUGHT_EXIT_CODE } from '../../src/telemetry/index.js'

const SCRIPT = (telemetry: string): string => `
import { createLogger, createMetricsRegistry, createProcessFaultMetrics, installProcessFaultHandlers } from ${JSON.stringify(telemetry)}
const registry = createMetricsRegistry({ processMetrics: false })
installProcessFaultHandlers({ logger: createLogger({ level: 'info' }), metrics: createProcessFaultMetrics(registry) })
const what = process.argv[2]
if (what === 'reject') {
  Promise.reject(Object.assign(new Error('nobody awaited me'), { code: 'TEST_REJECT' }))
  setTimeout(async () => {
    const text = await registry.metrics()
    process.stdout.write(text.split('\\n').find(l => l.startsWith('dcis_unhandled_rejections_total')) + '\\n')
    process.exit(0)
  }, 200)
} else {
  setTimeout(() => { throw new Error('thrown from a timer') }, 10)
  setTimeout(() => { process.stdout.write('still running\\n') }, 2000)
}
`

async function run (file: string, args: string[], nodeArgs: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', file, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
  const code = await new Promise<number | null>(resolve => { child.once('exit', resolve) })
  clearTimeout(timer)
  return { code, stdout, stderr }
}

describe('telemetry: process fault handlers (dcis start)', function () {
  this.timeout(60_000)
  let dir: string
  let file: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcis-faults-'))
    file = join(dir, 'fault.mts')
    await writeFile(file, SCRIPT(pathToFileURL(join(REPO_ROOT, 'src/telemetry/index.ts')).href))
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('an unhandled rejection is logged with its error and counted; the process keeps running', async () => {
    const r = await run(file, ['reject'], [])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^dcis_unhandled_rejections_total 1$/m)
    const line = r.stderr.split('\n').find(l => l.includes('unhandledRejection'))
    assert.ok(line !== undefined, r.stderr)
    const entry = JSON.parse(line) as { level: number, err: { message: string, code: string, stack: string } }
    assert.equal(entry.level, 50)
    assert.equal(entry.err.message, 'nobody awaited me')
    assert.equal(entry.err.code, 'TEST_REJECT')
    assert.match(entry.err.stack, /fault\.mts/)
  })

  it(`an uncaught exception writes one fatal line and exits with code ${UNCAUGHT_EXIT_CODE}`, async () => {
    const r = await run(file, ['throw'], [])
    assert.equal(r.code, UNCAUGHT_EXIT_CODE, r.stderr)
    assert.doesNotMatch(r.stdout, /still running/)
    const fatal = r.stderr.split('\n').filter(l => l.includes('"level":60'))
    assert.equal(fatal.length, 1, r.stderr)
    assert.match(fatal[0], /uncaught exception: Error: thrown from a timer/)
  })

  it(`under --unhandled-rejections=strict a rejection takes the exit path (code ${UNCAUGHT_EXIT_CODE})`, async () => {
    const r = await run(file, ['reject'], ['--unhandled-rejections=strict'])
    assert.equal(r.code, UNCAUGHT_EXIT_CODE, r.stderr)
    assert.match(r.stderr, /uncaught rejection: Error: nobody awaited me/)
  })

  it('reads the --unhandled-rejections mode from the arguments and NODE_OPTIONS', () => {
    assert.equal(unhandledRejectionsMode([], undefined), 'throw')
    assert.equal(unhandledRejectionsMode([], '--max-old-space-size=100 --unhandled-rejections=strict'), 'strict')
    assert.equal(unhandledRejectionsMode(['--unhandled-rejections=warn'], '--unhandled-rejections=strict'), 'warn')
  })
})
