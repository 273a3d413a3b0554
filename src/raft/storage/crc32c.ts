/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table driven with
 * slicing-by-8. Used for every WAL record and snapshot file.
 *
 * `crc32c(data)` computes a fresh checksum; `crc32cUpdate(crc, data)` continues
 * a running one, so a record's checksum can cover non-contiguous pieces.
 */

const POLY = 0x82F63B78

function makeTables (): Uint32Array[] {
  const t0 = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) {
      c = (c & 1) !== 0 ? (c >>> 1) ^ POLY : c >>> 1
    }
    t0[n] = c >>> 0
  }
  const tables = [t0]
  for (let s = 1; s < 8; s++) {
    const prev = tables[s - 1]
    const t = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      t[n] = ((prev[n] >>> 8) ^ t0[prev[n] & 0xff]) >>> 0
    }
    tables.push(t)
  }
  return tables
}

// Constant lookup tables: pure data computed once, not mutable state.
const [T0, T1, T2, T3, T4, T5, T6, T7] = makeTables()

/**
 * Continue a CRC-32C over `data[start, end)`. `crc` is the value returned by a
 * previous call (or 0 to start).
 */
export function crc32cUpdate (crc: number, data: Uint8Array, start = 0, end = data.length): number {
  let c = ~crc >>> 0
  let i = start
  // slicing-by-8: consume 8 bytes per step
  while (end - i >= 8) {
    const lo = (c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))) >>> 0
    c = T7[lo & 0xff] ^ T6[(lo >>> 8) & 0xff] ^ T5[(lo >>> 16) & 0xff] ^ T4[lo >>> 24] ^
      T3[data[i + 4]] ^ T2[data[i + 5]] ^ T1[data[i + 6]] ^ T0[data[i + 7]]
    i += 8
  }
  while (i < end) {
    c = T0[(c ^ data[i]) & 0xff] ^ (c >>> 8)
    i++
  }
  return ~c >>> 0
}

/** CRC-32C of `data[start, end)`. */
export function crc32c (data: Uint8Array, start = 0, end = data.length): number {
  return crc32cUpdate(0, data, start, end)
}
