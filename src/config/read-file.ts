import fs from 'node:fs/promises'

/**
 * Reads a UTF-8 file that must be a regular file of at most `maxBytes`.
 * Throws the fs error (or an Error saying why) for the caller to wrap in
 * its ConfigError.
 */
export async function readBoundedTextFile (file: string, maxBytes: number, signal?: AbortSignal): Promise<string> {
  const st = await fs.stat(file)
  if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' })
  if (st.size > maxBytes) throw new Error(`${st.size} bytes, more than ${maxBytes}`)
  return await fs.readFile(file, { encoding: 'utf8', signal })
}
