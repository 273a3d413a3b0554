/**
 * A self-signed X.509 v3 certificate bound to the peer's key: the
 * certificate's key IS the peer's Ed25519 identity key, its subject names the
 * peer's DID, and its subjectAltName lists the DID (URI), the API host
 * names/addresses and localhost. A client that knows the peer's DID can pin
 * the certificate by its public key (the DID encodes it). DER is written
 * here (no X.509 library in the tree); node:crypto signs it.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign, X509Certificate } from 'node:crypto'
import { isIP } from 'node:net'
import type { KeyObject } from 'node:crypto'

function len (n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  while (n > 0) { bytes.unshift(n & 0xff); n >>= 8 }
  return Buffer.from([0x80 | bytes.length, ...bytes])
}
const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), len(body.byteLength), body])
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts))
const set = (...parts: Buffer[]): Buffer => tlv(0x31, Buffer.concat(parts))
function oid (dotted: string): Buffer {
  const p = dotted.split('.').map(Number)
  const out = [40 * p[0] + p[1]]
  for (const v of p.slice(2)) {
    const b = [v & 0x7f]
    let x = v >> 7
    while (x > 0) { b.unshift(0x80 | (x & 0x7f)); x >>= 7 }
    out.push(...b)
  }
  return tlv(0x06, Buffer.from(out))
}
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'))
function time (d: Date): Buffer {
  // GeneralizedTime YYYYMMDDHHMMSSZ (valid for every year)
  const s = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'
  return tlv(0x18, Buffer.from(s, 'ascii'))
}
function ipBytes (ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number))
  // IPv6: expand ::
  const [head, tail] = ip.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined ? [] : tail === '' ? [] : tail.split(':')
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t]
  return Buffer.from(groups.flatMap(g => { const n = parseInt(g, 16); return [n >> 8, n & 0xff] }))
}

const ED25519 = '1.3.101.112'

export interface SelfSignedInit {
  /** the peer's Ed25519 private key, raw (seed || public key, as libp2p holds it) */
  ed25519Raw: Uint8Array
  did: string
  /** host names and IP addresses the API is reached at (localhost, 127.0.0.1 and ::1 are always added) */
  hosts: string[]
  /** validity in days (default 365) */
  days?: number
}

/** PEM key and certificate for `https` (Ed25519, TLS 1.3). */
export function selfSignedCertificate (init: SelfSignedInit): { key: string, cert: string, fingerprint256: string } {
  const seed = Buffer.from(init.ed25519Raw.subarray(0, 32))
  // PKCS#8 of an Ed25519 seed: fixed prefix + the 32 bytes
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed])
  const privateKey: KeyObject = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  const name = seq(set(seq(oid('2.5.4.3'), utf8(init.did.slice(0, 64)))), set(seq(oid('2.5.4.10'), utf8('dcis-mesh peer'))))
  const now = Date.now()
  const notBefore = new Date(now - 60_000)
  const notAfter = new Date(now + (init.days ?? 365) * 86_400_000)
  const serial = randomBytes(16)
  serial[0] &= 0x7f
  const hosts = [...new Set(['localhost', '127.0.0.1', '::1', ...init.hosts.filter(h => h !== '0.0.0.0' && h !== '::')])]
  const alt = hosts.map(h => isIP(h) !== 0 ? tlv(0x87, ipBytes(h)) : tlv(0x82, Buffer.from(h, 'ascii')))
  alt.push(tlv(0x86, Buffer.from(init.did, 'ascii')))
  const extensions = tlv(0xa3, seq(
    seq(oid('2.5.29.17'), tlv(0x04, seq(...alt))),
    seq(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, seq())), // basicConstraints: critical, not a CA
    seq(oid('2.5.29.37'), tlv(0x04, seq(oid('1.3.6.1.5.5.7.3.1')))) // extKeyUsage: serverAuth
  ))
  const algo = seq(oid(ED25519))
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // v3
    tlv(0x02, serial),
    algo,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    spki,
    extensions
  )
  const signature = sign(null, tbs, privateKey)
  const der = seq(tbs, algo, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])))
  const cert = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)?.join('\n') ?? ''}\n-----END CERTIFICATE-----\n`
  const key = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  return { key, cert, fingerprint256: new X509Certificate(cert).fingerprint256 }
}
