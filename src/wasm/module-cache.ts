/**
 * Compiled modules keyed by function id (CID) and memory limit, so a
 * module is compiled once per process and the compiled code is shared with
 * every worker (a WebAssembly.Module is posted, not recompiled). Bounded,
 * least-recently-used eviction.
 */
export class ModuleCache {
  private readonly entries = new Map<string, WebAssembly.Module>()
  hits = 0
  misses = 0

  constructor (private readonly maxEntries = 256) {}

  private key (id: string, memoryPages: number): string {
    return `${id}#${memoryPages}`
  }

  get (id: string, memoryPages: number): WebAssembly.Module | undefined {
    const k = this.key(id, memoryPages)
    const m = this.entries.get(k)
    if (m === undefined) {
      this.misses++
      return undefined
    }
    this.hits++
    this.entries.delete(k)
    this.entries.set(k, m)
    return m
  }

  set (id: string, memoryPages: number, module: WebAssembly.Module): void {
    const k = this.key(id, memoryPages)
    this.entries.delete(k)
    this.entries.set(k, module)
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value
      if (oldest === undefined) break
      this.entries.delete(oldest)
    }
  }

  delete (id: string): void {
    for (const k of [...this.entries.keys()]) {
      if (k.startsWith(`${id}#`)) this.entries.delete(k)
    }
  }

  get size (): number {
    return this.entries.size
  }
}
