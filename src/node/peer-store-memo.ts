import type { Libp2p, Peer, PeerData, PeerId, PeerStore } from '@libp2p/interface'

export interface ProtocolMemoInit {
  /** a skipped write is made anyway after this long (default 10 min; the peer store forgets peers after 6 h without one) */
  refreshMs?: number
  /** peers remembered (default 1024, oldest forgotten first) */
  maxPeers?: number
  now?: () => number
}

interface Known {
  protocols: Set<string>
  peer: Peer
  at: number
}

/**
 * libp2p records, for every stream opened in either direction, the stream's
 * protocol in the peer store: `peerStore.merge(peer, { protocols: [p] })`,
 * a LevelDB read and a write (the record's `updated` stamp changes even when
 * nothing else does). On an idle peer these were the largest single item
 * of its CPU profile. This wraps the peer store's `merge` so that a
 * protocols-only merge that would add nothing is answered from memory: the
 * peer's protocols are remembered from every write and every `peer:update`
 * event (identify replacing the list, a remote dropping a protocol), and the
 * write is still made once per `refreshMs` per peer. Every other write goes
 * through unchanged; this peer's own record is never memoised.
 * Returns a function that removes the wrapper.
 */
export function memoizeProtocolMerges (libp2p: Pick<Libp2p, 'peerId' | 'peerStore' | 'addEventListener' | 'removeEventListener'>, init: ProtocolMemoInit = {}): () => void {
  const store = libp2p.peerStore
  const refreshMs = init.refreshMs ?? 600_000
  const maxPeers = init.maxPeers ?? 1024
  const now = init.now ?? Date.now
  const known = new Map<string, Known>()
  const self = libp2p.peerId.toString()

  const remember = (peer: Peer): void => {
    const key = peer.id.toString()
    if (key === self) return
    const prev = known.get(key)
    known.delete(key)
    // a merge that wrote keeps its time; an event keeps the last write's
    known.set(key, { protocols: new Set(peer.protocols), peer, at: prev?.at ?? now() })
    while (known.size > maxPeers) known.delete(known.keys().next().value as string)
  }
  const onUpdate = (evt: CustomEvent<{ peer: Peer }>): void => { remember(evt.detail.peer) }

  const original = { merge: store.merge, delete: store.delete, own: Object.hasOwn(store, 'merge'), ownDelete: Object.hasOwn(store, 'delete') }
  const merge = store.merge.bind(store)
  const del = store.delete.bind(store)
  const wrapped: PeerStore['merge'] = async (id: PeerId, data: PeerData, options?) => {
    const key = id.toString()
    const keys = Object.keys(data)
    if (key !== self && keys.length === 1 && keys[0] === 'protocols' && data.protocols != null) {
      const k = known.get(key)
      if (k != null && now() - k.at < refreshMs && data.protocols.every(p => k.protocols.has(p))) return k.peer
    }
    const peer = await merge(id, data, options)
    known.delete(key)
    remember(peer)
    return peer
  }
  const wrappedDelete: PeerStore['delete'] = async (id, options?) => {
    known.delete(id.toString())
    await del(id, options)
  }
  store.merge = wrapped
  store.delete = wrappedDelete
  libp2p.addEventListener('peer:update', onUpdate as never)
  return () => {
    const methods = store as unknown as Record<string, unknown>
    if (store.merge === wrapped) { if (original.own) store.merge = original.merge; else delete methods.merge }
    if (store.delete === wrappedDelete) { if (original.ownDelete) store.delete = original.delete; else delete methods.delete }
    libp2p.removeEventListener('peer:update', onUpdate as never)
    known.clear()
  }
}
