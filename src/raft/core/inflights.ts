/**
 * Flow-control window of one follower: the last index of every MsgApp sent
 * but not yet acknowledged, bounded by count and by bytes.
 */
export class Inflights {
  private readonly items: Array<{ index: number, bytes: number }> = []
  private bytes = 0

  constructor (readonly size: number, readonly maxBytes: number = 0) {}

  add (index: number, bytes: number): void {
    if (this.full()) throw new Error('cannot add into a full inflights window')
    this.items.push({ index, bytes })
    this.bytes += bytes
  }

  /** Frees every inflight message whose last index is <= `to`. */
  freeLE (to: number): void {
    let n = 0
    while (n < this.items.length && this.items[n].index <= to) {
      this.bytes -= this.items[n].bytes
      n++
    }
    this.items.splice(0, n)
  }

  freeFirstOne (): void {
    const first = this.items.shift()
    if (first !== undefined) this.bytes -= first.bytes
  }

  full (): boolean {
    return this.items.length >= this.size || (this.maxBytes > 0 && this.bytes >= this.maxBytes)
  }

  count (): number {
    return this.items.length
  }

  reset (): void {
    this.items.length = 0
    this.bytes = 0
  }
}
