/**
 * A real process appending under load is SIGKILLed; on reopen every
 * acknowledged entry is present and intact (twice in a row, so the second
 * run also recovers the first run's stale lock and possibly torn tail).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { openFileLogStorage } from '../../../src/raft/storage/index.js'
import { dataFor, tempDir } from './helpers.js'

const fixture = fileURLToPath(new URL('./fixtures/appender.ts', import.meta.url))

/** run the appender until it has acknowledged `acks` appends, SIGKILL it, return the highest acked index */
async function runAndKill (dir: string, acks: number): Promise<number> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fixture, dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  let maxAck = 0
  let count = 0
  let buffered = ''
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`appender made only ${count} acks in time; stderr: ${stderr}`)) }, 45_000)
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`appender exited early (${code}): ${stderr}`)) })
      child.stdout?.on('data', (d: Buffer) => {
        buffered += d.toString()
        const lines = buffered.split('\n')
        buffered = lines.pop() ?? ''
        for (const line of lines) {
          const m = /^ack (\d+)$/.exec(line)
          if (m == null) continue
          maxAck = Math.max(maxAck, Number(m[1]))
          if (++count >= acks) {
            clearTimeout(timer)
            child.kill('SIGKILL')
            resolve()
          }
        }
      })
    })
  } finally {
    if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL')
    await exited
  }
  return maxAck
}

describe('raft/storage SIGKILL durability', function () {
  this.timeout(120_000)
  let tmp: { path: string, remove: () => Promise<void> }
  beforeEach(async function () { tmp = await tempDir() })
  afterEach(async function () { await tmp.remove() })

  it('keeps every acknowledged append across two kills mid-load', async function () {
    for (let round = 1; round <= 2; round++) {
      const acked = await runAndKill(tmp.path, 400 * round)
      const s = await openFileLogStorage(tmp.path, { segmentBytes: 64 * 1024 })
      try {
        assert.ok(s.lastIndex() >= acked, `round ${round}: last index ${s.lastIndex()} < acknowledged ${acked}`)
        const got = s.entries(1, s.lastIndex() + 1)
        got.forEach((e, k) => {
          assert.equal(e.index, k + 1)
          assert.deepEqual(Buffer.from(e.data), Buffer.from(dataFor(e.index, 1, 300)), `round ${round}: entry ${e.index}`)
        })
        assert.ok(s.initialState().hardState.commit >= acked, `round ${round}: hard state commit ${s.initialState().hardState.commit} < ${acked}`)
      } finally {
        await s.close()
      }
    }
  })
})
