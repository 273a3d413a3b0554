/**
 * The delta log under a hard kill: a separate process writes to an object
 * (group-committed, fsync'd records, frequent compactions) and is SIGKILLed
 * at a seeded moment; the state recovered from disk (snapshot + replay)
 * holds every acknowledged write and no more than were attempted. Three
 * kill/restart rounds on the same directory.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LevelDatastore } from 'datastore-level'
import { counterValue, SERVICE_SECTIONS } from '../../src/crdt/replication/index.js'
import { ReplicatedObject } from '../../src/crdt/service/object.js'
import { waitFor } from '../helpers/wait.js'

const SEED = Number(process.env.CRDT_KILL_SEED ?? 18)
const fixture = fileURLToPath(new URL('./fixtures/object-writer.ts', import.meta.url))

async function recovered (dir: string): Promise<number> {
  const ds = new LevelDatastore(dir)
  await ds.open()
  try {
    const obj = new ReplicatedObject('fleet', SERVICE_SECTIONS, ds)
    await obj.load()
    return counterValue(obj.state, 'k')
  } finally {
    await ds.close()
  }
}

describe('crdt: object delta log survives SIGKILL (real process)', function () {
  this.timeout(180_000)
  let dir: string

  before(async function () { dir = await mkdtemp(join(tmpdir(), 'dcis-objkill-')) })
  after(async function () { if (dir != null) await rm(dir, { recursive: true, force: true }) })

  it(`every acknowledged write is recovered after a kill -9, round after round (seed ${SEED})`, async function () {
    let s = SEED
    const rnd = (): number => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 }
    const db = join(dir, 'db')
    let total = 0
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, db, '4'], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (d: Buffer) => { out += d.toString() })
      child.stderr.on('data', (d: Buffer) => { err += d.toString() })
      const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
      try {
        const target = 100 + Math.floor(rnd() * 400)
        await waitFor(`round ${round}: ${target} acks (seed ${SEED}) ${err}`, () => out.split('\n').filter(l => l.startsWith('ack ')).length >= target, { timeoutMs: 120_000, intervalMs: 5 })
      } finally {
        child.kill('SIGKILL')
        await exited
      }
      const acked = out.split('\n').filter(l => l.startsWith('ack ')).length
      const attempted = Math.max(...out.split('\n').filter(l => l.startsWith('ack ')).map(l => Number(l.slice(4))), 0) + 4
      const value = await recovered(db)
      assert.ok(value >= total + acked, `round ${round}: recovered ${value} < ${total} + ${acked} acknowledged (seed ${SEED})`)
      assert.ok(value <= total + attempted, `round ${round}: recovered ${value} > ${total} + ${attempted} attempted (seed ${SEED})`)
      total = value
    }
  })
})
