/**
 * A peer restarted on the same data dir keeps its PeerId and DID, and a
 * SIGINT stops it with exit code 0.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalMesh } from '../../src/cli/local-mesh.js'
import { cliCommand } from '../helpers/cli.js'
import { freePortBlock } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'

describe('e2e: restart', function () {
  this.timeout(90_000)
  let dir: string

  before(async () => { dir = await mkdtemp(join(tmpdir(), 'dcis-restart-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('keeps PeerId and DID across a restart with the same data dir', async function () {
    const basePort = await freePortBlock(1)
    const seen: Array<{ peerId: string, did: string }> = []
    for (let run = 0; run < 2; run++) {
      const mesh = new LocalMesh({ nodes: 1, regions: ['eu-west'], basePort, dataDir: dir, logLevel: 'warn', command: cliCommand() })
      try {
        await mesh.start()
        const peer = mesh.peers[0]
        const node = await waitFor('the peer API', async () => {
          const res = await fetch(`${peer.apiUrl}/v1/node`, { signal: AbortSignal.timeout(2000) })
          return res.ok ? await res.json() as { peerId: string, did: string } : undefined
        })
        seen.push({ peerId: node.peerId, did: node.did })
        // SIGINT this time, SIGTERM is covered by the mesh test
        const child = peer.process!
        const exited = new Promise<number | null>(resolve => { child.once('exit', resolve) })
        child.kill('SIGINT')
        assert.equal(await exited, 0, `exit code; log: ${peer.logFile}`)
      } finally {
        await mesh.stop()
      }
    }
    assert.equal(seen[1].peerId, seen[0].peerId)
    assert.equal(seen[1].did, seen[0].did)
  })
})
