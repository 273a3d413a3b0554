import assert from 'node:assert/strict'
import { api } from './http.js'
import { waitFor } from './wait.js'
import type { LocalPeer } from '../../src/cli/local-mesh.js'

/**
 * Waits until every peer's registry lists every peer (federation members
 * only may write to the catalogue); fails at once if a peer process exited.
 */
export async function waitForFullRegistries (peers: LocalPeer[], timeoutMs: number): Promise<void> {
  await waitFor('every peer to verify every other peer', async () => {
    for (const peer of peers) {
      assert.equal(peer.exited, false, `peer ${peer.index} exited; log: ${peer.logFile}`)
      const res = await api(`${peer.apiUrl}/v1/registry/nodes`, undefined, 2000).catch(() => undefined)
      if (res?.status !== 200 || res.body.nodes.length < peers.length) return false
    }
    return true
  }, { timeoutMs })
}
