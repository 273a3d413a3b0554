/**
 * Coalesced durable writes of a replica's current state: writes run one at
 * a time, and calls made while a write is queued (not yet started) share
 * it. Each call resolves once a write that started after the call is done.
 */
export class CoalescedWriter {
  private saving: Promise<void> = Promise.resolve()
  private queued: Promise<void> | null = null
  private readonly save: () => Promise<void>

  /** `save` stores the state as it is when it runs */
  constructor (save: () => Promise<void>) {
    this.save = save
  }

  async write (): Promise<void> {
    if (this.queued != null) return this.queued
    const p = this.saving.then(async () => {
      this.queued = null
      await this.save()
    })
    this.queued = p
    this.saving = p.catch(() => {})
    return p
  }

  /** resolves once every write started so far has finished (failed or not) */
  async flushed (): Promise<void> {
    await this.saving
  }
}
