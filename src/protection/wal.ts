/**
 * The WAL cipher of one Raft group: entry data sealed with the record
 * identity `wal/<group>/<index>/<term>`, snapshots with
 * `snap/<group>/<index>/<term>` (an entry moved to another index, term or
 * group fails to open).
 */
import type { Sealer } from './sealer.js'
import type { WalCipher } from '../raft/storage/index.js'

export function walCipherFor (sealer: Pick<Sealer, 'seal' | 'open' | 'overhead'>, group: string): WalCipher {
  const entry = `wal/${group}/`
  const snap = `snap/${group}/`
  return {
    overhead: sealer.overhead,
    sealEntry: (data, index, term) => sealer.seal(data, `${entry}${index}/${term}`),
    openEntry: (sealed, index, term) => sealer.open(sealed, `${entry}${index}/${term}`),
    sealSnapshot: (bytes, index, term) => sealer.seal(bytes, `${snap}${index}/${term}`),
    openSnapshot: (sealed, index, term) => sealer.open(sealed, `${snap}${index}/${term}`)
  }
}
