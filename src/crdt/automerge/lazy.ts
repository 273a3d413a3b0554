/**
 * automerge (a ~14 MiB Wasm module) is loaded on first use, not with the
 * CRDT backend: a peer that hosts no automerge service never loads it.
 * `loadAutomerge()` loads the engine (doc.ts, replica.ts and automerge);
 * `loadedAutomerge()` returns it once loaded (every AutomergeReplica was
 * made after loading, so code holding one may use it synchronously).
 */
import type * as Engine from './engine.js'

export type AutomergeEngine = typeof Engine

let engine: AutomergeEngine | undefined
let loading: Promise<AutomergeEngine> | undefined

export async function loadAutomerge (): Promise<AutomergeEngine> {
  if (engine !== undefined) return engine
  loading ??= import('./engine.js').then((m) => { engine = m; return m }).finally(() => { loading = undefined })
  return await loading
}

/** the engine if it was loaded, else undefined */
export function loadedAutomerge (): AutomergeEngine | undefined {
  return engine
}
