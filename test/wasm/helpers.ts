/**
 * Test helpers: WAT fixtures compiled with the `wabt` package, CIDs of
 * module bytes (CIDv1, raw, sha2-256, as the function store computes them).
 * To wait for a condition use `waitFor` from test/helpers/wait.ts.
 */
import { readFile } from 'node:fs/promises'
import wabtInit from 'wabt'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

type Wabt = Awaited<ReturnType<typeof wabtInit>>
let wabtPromise: Promise<Wabt> | undefined

export async function watToWasm (text: string, filename = 'inline.wat', features: Record<string, boolean> = {}): Promise<Uint8Array> {
  wabtPromise ??= wabtInit()
  const wabt = await wabtPromise
  const mod = wabt.parseWat(filename, text, features)
  try {
    mod.resolveNames()
    mod.validate()
    return new Uint8Array(mod.toBinary({}).buffer)
  } finally {
    mod.destroy()
  }
}

/** compile test/wasm/fixtures/<name>.wat */
export async function fixture (name: string): Promise<Uint8Array> {
  const url = new URL(`./fixtures/${name}.wat`, import.meta.url)
  return await watToWasm(await readFile(url, 'utf8'), `${name}.wat`)
}

export async function cidOf (bytes: Uint8Array): Promise<string> {
  return CID.create(1, raw.code, await sha256.digest(bytes)).toString()
}

const EXAMPLES_BUILD = new URL('../../examples/functions/build/', import.meta.url)
const EXAMPLES_BUILD_SCRIPT = new URL('../../examples/functions/build.mjs', import.meta.url).href

/** compiles examples/functions/build/*.wasm with asc if missing or stale (a fresh clone has none) */
export async function buildExamples (): Promise<void> {
  const { build } = await import(EXAMPLES_BUILD_SCRIPT) as { build: (o: { quiet: boolean }) => Promise<string[]> }
  await build({ quiet: true })
}

/** the bytes of examples/functions/build/<name>.wasm (after buildExamples) */
export async function example (name: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(new URL(`${name}.wasm`, EXAMPLES_BUILD)))
}

export const enc = new TextEncoder()
export const dec = new TextDecoder()
