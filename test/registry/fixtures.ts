/**
 * Shared fixtures for the registry tests: fresh Ed25519 identities, fixed
 * resources (so descriptors do not depend on this machine), descriptors
 * signed the normal way, and a raw compact-JWS signer for forgeries (any
 * header/payload, any key, any `iss`).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { buildDescriptor, signDescriptor, verifyDescriptor } from '../../src/registry/index.js'
import { identityFromPrivateKey } from '../../src/identity/index.js'
import { createPrng } from '../../src/latency/prng.js'
import type { DetectedResources, EdgeNodeDescriptor, RegistryEntry } from '../../src/registry/index.js'
import type { NodeIdentity } from '../../src/identity/index.js'

export const DETECTED: DetectedResources = {
  cpu: { cores: 4, model: 'test-cpu' },
  memoryMb: 8192,
  arch: 'amd64',
  platform: 'linux',
  accelerators: [],
  load: { cpu: 0.25, memory: 0.5 },
  freeMemoryMb: 4096
}

export async function newIdentity (): Promise<NodeIdentity> {
  return identityFromPrivateKey(await generateKeyPair('Ed25519'))
}

export function nowSeconds (): number {
  return Math.floor(Date.now() / 1000)
}

export interface EndOptions {
  now?: number
  ttlSeconds?: number
  region?: string
  zone?: string
  detected?: DetectedResources
  overrides?: Parameters<typeof buildDescriptor>[0]['overrides']
  credentials?: string[]
}

export function makeEnd (id: NodeIdentity, o: EndOptions = {}): EdgeNodeDescriptor {
  const region = o.region ?? 'eu-west'
  return buildDescriptor({
    did: id.did,
    peerId: id.peerId.toString(),
    multiaddrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${id.peerId.toString()}`],
    region,
    zone: o.zone ?? `${region}-a`,
    overrides: o.overrides,
    credentials: o.credentials,
    software: { name: 'dcis-mesh', version: '0.0.0-test' },
    now: o.now ?? nowSeconds(),
    ttlSeconds: o.ttlSeconds ?? 600,
    detected: o.detected ?? DETECTED
  })
}

export async function signedEnd (id: NodeIdentity, o: EndOptions = {}): Promise<string> {
  return signDescriptor(id, makeEnd(id, o))
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url')
const b64json = (v: unknown): string => b64(new TextEncoder().encode(JSON.stringify(v)))

/**
 * A compact JWS over any header and payload, signed with `key` — whatever
 * `iss` says. This is how an attacker forges: our own signJwt always sets
 * `iss` to the signer's DID.
 */
export async function signRaw (key: NodeIdentity['privateKey'], payload: Record<string, unknown>, header: Record<string, unknown> = { alg: 'EdDSA', typ: 'JWT' }): Promise<string> {
  const input = `${b64json(header)}.${b64json(payload)}`
  const sig = await key.sign(new TextEncoder().encode(input))
  return `${input}.${b64(sig)}`
}

/** The decoded payload of a compact JWS (no verification). */
export function payloadOf (jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>
}

/** The same JWS with bit `bit` of signature byte `index` flipped. */
export function flipSignatureBit (jwt: string, index = 0, bit = 0): string {
  const [h, p, s] = jwt.split('.')
  const sig = Buffer.from(s, 'base64url')
  sig[index] ^= 1 << bit
  return `${h}.${p}.${sig.toString('base64url')}`
}

/** The descriptor's payload with `mutate` applied to a copy of its END (and its times moved by `shiftSeconds`), signed by `signer` with `iss` kept. */
export async function resignedWith (jwt: string, signer: NodeIdentity, mutate: (end: EdgeNodeDescriptor) => void = () => {}, shiftSeconds = 0): Promise<string> {
  const payload = structuredClone(payloadOf(jwt)) as { vc: { credentialSubject: EdgeNodeDescriptor }, iat: number, exp: number, nbf?: number } & Record<string, unknown>
  mutate(payload.vc.credentialSubject)
  if (shiftSeconds !== 0) {
    // a "newer" forgery: iat/nbf/exp and the END's dates all moved
    payload.iat += shiftSeconds
    payload.exp += shiftSeconds
    if (payload.nbf != null) payload.nbf += shiftSeconds
    const end = payload.vc.credentialSubject
    end.issuedAt = new Date(payload.iat * 1000).toISOString()
    end.expiresAt = new Date(payload.exp * 1000).toISOString()
  }
  return signRaw(signer.privateKey, payload, { alg: 'EdDSA', typ: 'JWT', kid: `${String(payload.iss)}#${String(payload.iss).slice(8)}` })
}

/** A verified registry entry as the registry would hold it. */
export async function entryOf (jwt: string, extra: Partial<RegistryEntry> = {}, now?: number): Promise<RegistryEntry> {
  const v = await verifyDescriptor(jwt, { now })
  return { ...v, cid: null, source: 'gossip', receivedAt: Date.now(), trustLevel: 0, trustSource: 'self-asserted', attestedRegion: null, ...extra }
}

/** A small seeded PRNG for reproducible fuzzing (the project's sfc32, src/latency/prng.ts). */
export function prng (seed: number): () => number {
  const p = createPrng(seed)
  return () => p.next()
}

/** The seed of a randomized test: DCIS_TEST_SEED if set, else a fresh one (printed on failure). */
export function testSeed (): number {
  const env = process.env.DCIS_TEST_SEED
  return env != null && env !== '' ? Number(env) >>> 0 : (Math.random() * 2 ** 32) >>> 0
}
