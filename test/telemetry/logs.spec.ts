/**
 * Log sampling per level and the batched gzip export (issue 14).
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { gunzipSync } from 'node:zlib'
import { createLogger, LogSampler } from '../../src/telemetry/logger.js'
import { GzipLogExporter } from '../../src/telemetry/log-export.js'
import { defaultConfig, loadConfig } from '../../src/config/index.js'
import { writeFile } from 'node:fs/promises'
import { waitFor } from '../helpers/wait.js'

function collector (): { stream: Writable, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>)
      cb()
    }
  })
  return { stream, lines }
}

const parseLines = (buf: Buffer): Array<Record<string, unknown>> => gunzipSync(buf).toString().split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>)

describe('telemetry: log sampling', function () {
  it('keeps exactly the configured share per level, evenly spread; fatal and unsampled levels always', async function () {
    const { stream, lines } = collector()
    const log = createLogger({ level: 'debug', destination: stream, sampling: { info: 0.1, debug: 0, warn: 0.5 } })
    for (let i = 0; i < 100; i++) log.info({ i }, 'info line')
    for (let i = 0; i < 10; i++) log.warn({ i }, 'warn line')
    for (let i = 0; i < 7; i++) log.error({ i }, 'error line')
    for (let i = 0; i < 50; i++) log.debug({ i }, 'debug line')
    log.fatal('fatal line')
    // child loggers share the root's sampling
    for (let i = 0; i < 10; i++) log.child({ component: 'x' }).info({ i }, 'child info')
    await new Promise(resolve => setImmediate(resolve))
    const count = (msg: string): number => lines.filter(l => l.msg === msg).length
    assert.equal(count('info line'), 10)
    assert.deepEqual(lines.filter(l => l.msg === 'info line').map(l => l.i), [9, 19, 29, 39, 49, 59, 69, 79, 89, 99])
    assert.equal(count('warn line'), 5)
    assert.equal(count('error line'), 7)
    assert.equal(count('debug line'), 0)
    assert.equal(count('fatal line'), 1)
    assert.equal(count('child info'), 1)
  })

  it('the sampler counts what it drops and refuses a bad rate', function () {
    const s = new LogSampler({ info: 0.25 })
    let kept = 0
    for (let i = 0; i < 8; i++) if (s.keep(30)) kept++
    assert.equal(kept, 2)
    assert.equal(s.dropped.info, 6)
    assert.equal(s.keep(50), true)
    assert.throws(() => new LogSampler({ info: Number.NaN }), RangeError)
    assert.equal(new LogSampler({ info: 1 }).active, false)
  })

  it('the config file sets sampling and export; a bad rate is a config error naming the field', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'dcis-logcfg-'))
    try {
      const file = join(dir, 'dcis.yaml')
      await writeFile(file, 'telemetry:\n  logSampling: { info: 0.1 }\n  logExport: { file: logs/peer.log.gz, intervalMs: 5000 }\n')
      const config = await loadConfig({ env: { DCIS_CONFIG: file }, flags: {}, cwd: dir })
      assert.deepEqual(config.telemetry.logSampling, { info: 0.1 })
      assert.equal(config.telemetry.logExport?.file, join(dir, 'logs/peer.log.gz'))
      assert.equal(defaultConfig().telemetry.tracing, false)
      await writeFile(file, 'telemetry:\n  logSampling: { info: 2 }\n')
      await assert.rejects(loadConfig({ env: { DCIS_CONFIG: file }, flags: {}, cwd: dir }), /telemetry\.logSampling\.info/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('telemetry: batched gzip log export', function () {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dcis-logexp-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('ships pino lines in gzip members appended to one file (zcat reads them all)', async function () {
    const file = join(dir, 'peer.log.gz')
    const exp = new GzipLogExporter({ file, intervalMs: 60_000 })
    const log = createLogger({ level: 'info', destination: exp })
    log.info({ n: 1 }, 'first')
    log.warn({ n: 2 }, 'second')
    await exp.flush()
    log.info({ n: 3 }, 'third')
    await exp.stop()
    const lines = parseLines(await readFile(file))
    assert.deepEqual(lines.map(l => l.msg), ['first', 'second', 'third'])
    assert.equal(exp.stats.batches, 2)
    assert.equal(exp.stats.shippedLines, 3)
    assert.equal(exp.stats.droppedLines, 0)
  })

  it('ships on its interval', async function () {
    const file = join(dir, 'peer.log.gz')
    const exp = new GzipLogExporter({ file, intervalMs: 100 })
    exp.start()
    try {
      exp.write('{"msg":"tick"}\n')
      await waitFor('a batch on disk', async () => ((await stat(file).catch(() => null))?.size ?? 0) > 0, { intervalMs: 20 })
    } finally {
      await exp.stop()
    }
    assert.deepEqual(parseLines(await readFile(file)).map(l => l.msg), ['tick'])
  })

  it('bounds the buffer: the oldest lines go, and the next batch says how many', async function () {
    const file = join(dir, 'peer.log.gz')
    const exp = new GzipLogExporter({ file, maxBufferBytes: 1024, intervalMs: 60_000 })
    for (let i = 0; i < 100; i++) exp.write(JSON.stringify({ i, pad: 'x'.repeat(80) }) + '\n')
    assert.ok(exp.stats.bufferedBytes <= 1024)
    exp.write('y'.repeat(2000) + '\n') // larger than the whole buffer: dropped alone
    await exp.stop()
    const lines = parseLines(await readFile(file))
    const kept = lines.slice(1).map(l => l.i as number)
    assert.equal(lines[0].component, 'dcis:log-export')
    assert.equal(lines[0].dropped, 100 - kept.length + 1)
    assert.deepEqual(kept, [...Array(kept.length).keys()].map(k => 100 - kept.length + k), 'the newest lines, in order')
    assert.equal(exp.stats.droppedLines, 100 - kept.length + 1)
  })

  it('rotates past maxFileBytes and keeps keepFiles files', async function () {
    const file = join(dir, 'peer.log.gz')
    const exp = new GzipLogExporter({ file, maxFileBytes: 1024, keepFiles: 3, intervalMs: 60_000 })
    // incompressible lines, so each batch is about 1 KiB of gzip
    let seed = 12345
    const rnd = (): string => { let s = ''; for (let k = 0; k < 900; k++) { seed = (seed * 1103515245 + 12345) % 2147483648; s += String.fromCharCode(33 + (seed % 90)) } return s }
    for (let b = 0; b < 6; b++) {
      exp.write(JSON.stringify({ b, r: rnd() }) + '\n')
      await exp.flush()
    }
    await exp.stop()
    const files = (await readdir(dir)).sort()
    assert.deepEqual(files, ['peer.log.gz', 'peer.log.gz.1', 'peer.log.gz.2'])
    assert.equal(parseLines(await readFile(file))[0].b, 5)
    assert.equal(parseLines(await readFile(`${file}.1`))[0].b, 4)
    assert.ok(exp.stats.rotations >= 3)
  })

  it('a failing disk loses the batch, reports it, and counts it as dropped', async function () {
    const errors: string[] = []
    const exp = new GzipLogExporter({ file: join(dir, 'no-such-dir', 'x.gz'), onError: (e) => { errors.push(e.message) } })
    exp.write('{"msg":"lost"}\n')
    await exp.stop()
    assert.equal(errors.length, 1)
    assert.equal(exp.stats.droppedLines, 1)
  })
})
