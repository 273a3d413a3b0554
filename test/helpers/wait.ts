/**
 * Polls `condition` until it returns a truthy value or `timeoutMs` passes.
 * The error names what was awaited and the last failure, so a timeout says
 * something useful.
 */
export async function waitFor<T> (what: string, condition: () => Promise<T | undefined | null | false> | T | undefined | null | false, options: { timeoutMs?: number, intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000)
  let lastError: unknown
  while (true) {
    try {
      const value = await condition()
      if (value != null && value !== false) return value
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) {
      const reason = lastError != null ? `; last error: ${(lastError as Error).message}` : ''
      throw new Error(`timed out after ${options.timeoutMs ?? 30_000} ms waiting for ${what}${reason}`)
    }
    await new Promise(resolve => setTimeout(resolve, options.intervalMs ?? 200))
  }
}
