import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

/** The id of a module: CIDv1, raw codec (0x55), sha2-256 of the bytes, base32 text. */
export async function moduleCid (bytes: Uint8Array): Promise<CID> {
  return CID.create(1, raw.code, await sha256.digest(bytes))
}

/** Parses a function id that is a CID; undefined when the text is not one. */
export function parseModuleCid (text: string): CID | undefined {
  if (text.length < 20 || text.length > 128) return undefined
  try {
    const cid = CID.parse(text)
    return cid.version === 1 && cid.code === raw.code ? cid : undefined
  } catch {
    return undefined
  }
}

/** Joins what a blockstore `get` yields (bytes, or chunks) into one array. */
export async function collectBytes (value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, limit: number): Promise<Uint8Array> {
  if (value instanceof Uint8Array) return value
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const c of value) {
    size += c.byteLength
    if (size > limit) throw new RangeError(`block larger than ${limit} bytes`)
    chunks.push(c)
  }
  if (chunks.length === 1) return chunks[0]
  const out = new Uint8Array(size)
  let o = 0
  for (const c of chunks) { out.set(c, o); o += c.byteLength }
  return out
}
