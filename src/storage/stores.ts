import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { LevelDatastore } from 'datastore-level'
import type { Blockstore } from 'interface-blockstore'
import type { Datastore } from 'interface-datastore'

export interface NodeStores {
  datastore: Datastore
  blockstore: Blockstore
  close (): Promise<void>
}

/**
 * Opens (creating if needed) the persistent datastore and blockstore in
 * `dataDir`. If the second store fails to open the first is closed again, so a
 * failed start leaves no open LevelDB lock behind.
 */
export async function openStores (dataDir: string): Promise<NodeStores> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const datastore = new LevelDatastore(join(dataDir, 'datastore'))
  await datastore.open()
  const blockstore = new FsBlockstore(join(dataDir, 'blocks'))
  try {
    await blockstore.open()
  } catch (err) {
    await datastore.close()
    throw err
  }
  let closed = false
  return {
    datastore,
    blockstore,
    async close () {
      if (closed) return
      closed = true
      await blockstore.close()
      await datastore.close()
    }
  }
}
