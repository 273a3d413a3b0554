/** the automerge sync protocol id: here, apart from replica.ts, so naming it does not load automerge */
export const AUTOMERGE_SYNC_PROTOCOL = '/dcis/crdt-automerge-sync/1.0.0'
