/**
 * HTTPS for the API: a self-signed certificate bound to the peer's key
 * (subject and SAN name its DID, the certificate key is its Ed25519 key);
 * a client pinning it gets the API over TLS, a client that does not trust it
 * is refused; with a client CA, a client without a certificate is refused at
 * the handshake (mutual TLS).
 */
import assert from 'node:assert/strict'
import { request } from 'node:https'
import { X509Certificate } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identityFromPrivateKey, publicKeyFromDid } from '../../src/identity/index.js'
import { selfSignedCertificate } from '../../src/protection/index.js'
import { startHarness } from './fixtures.js'

async function get (url: string, ca?: string): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { ...(ca !== undefined ? { ca } : {}), timeout: 10_000 }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    })
    req.on('error', reject)
    req.on('timeout', () => { req.destroy(new Error('timeout')) })
    req.end()
  })
}

describe('api: HTTPS', function () {
  this.timeout(30_000)

  it('self-signed with the peer key: served over TLS to a client that pins it, refused by one that does not', async () => {
    const key = await generateKeyPair('Ed25519')
    const id = identityFromPrivateKey(key)
    const tls = selfSignedCertificate({ ed25519Raw: key.raw, did: id.did, hosts: ['127.0.0.1'] })
    const x = new X509Certificate(tls.cert)
    assert.ok(x.subjectAltName?.includes(`URI:${id.did}`))
    // the certificate key is the peer key: the DID pins it
    const raw = x.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
    assert.deepEqual(new Uint8Array(raw), publicKeyFromDid(id.did))
    assert.ok(x.verify(x.publicKey))
    const h = await startHarness({ https: { key: tls.key, cert: tls.cert } })
    try {
      assert.ok(h.server.url.startsWith('https://'))
      const ok = await get(h.url('/healthz'), tls.cert)
      assert.equal(ok.status, 200)
      assert.equal(JSON.parse(ok.body).status, 'ok')
      await assert.rejects(get(h.url('/healthz')), /self-signed|self signed|certificate/i)
    } finally {
      await h.server.stop()
    }
  })

  it('mutual TLS: with a client CA, a client without a certificate is refused at the handshake', async () => {
    const key = await generateKeyPair('Ed25519')
    const id = identityFromPrivateKey(key)
    const tls = selfSignedCertificate({ ed25519Raw: key.raw, did: id.did, hosts: ['127.0.0.1'] })
    const caKey = await generateKeyPair('Ed25519')
    const ca = selfSignedCertificate({ ed25519Raw: caKey.raw, did: identityFromPrivateKey(caKey).did, hosts: [] })
    const h = await startHarness({ https: { key: tls.key, cert: tls.cert, ca: ca.cert } })
    try {
      await assert.rejects(get(h.url('/healthz'), tls.cert), (err: Error & { code?: string }) => err.code !== undefined || /certificate|alert|socket hang up|ECONNRESET/i.test(err.message))
    } finally {
      await h.server.stop()
    }
  })
})
