/**
 * Federation trust: credentials issued by trust anchors, revocation lists,
 * the trust policy and the trust-anchors file.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identityFromPrivateKey, signJwt } from '../../src/identity/index.js'
import {
  CredentialRejectedError,
  MAX_CREDENTIAL_BYTES,
  RevocationStore,
  TrustAnchorsError,
  TrustPolicy,
  issueCredential,
  issueRevocationList,
  loadTrustAnchors,
  parseTrustAnchors,
  verifyCredential,
  verifyRevocationList
} from '../../src/identity/federation/index.js'
import type { CredentialRejectReason, TrustAnchors } from '../../src/identity/federation/index.js'
import type { NodeIdentity } from '../../src/identity/index.js'

const FED = 'test-fed'
const now = (): number => Math.floor(Date.now() / 1000)

async function newIdentity (): Promise<NodeIdentity> {
  return identityFromPrivateKey(await generateKeyPair('Ed25519'))
}

function flipSig (jwt: string): string {
  const [h, p, s] = jwt.split('.')
  const sig = Buffer.from(s, 'base64url')
  sig[10] ^= 0x20
  return `${h}.${p}.${sig.toString('base64url')}`
}

async function rejectsWith (p: Promise<unknown>, reason: CredentialRejectReason, match?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CredentialRejectedError, `expected CredentialRejectedError, got ${String(err)}`)
    assert.equal(err.reason, reason, err.message)
    assert.equal(err.code, 'CREDENTIAL_REJECTED')
    assert.equal(err.name, 'CredentialRejectedError')
    if (match != null) assert.match(err.message, match)
    return true
  })
}

describe('identity/federation', function () {
  let anchor: NodeIdentity
  let anchor2: NodeIdentity
  let stranger: NodeIdentity
  let peer: NodeIdentity
  let other: NodeIdentity
  let anchors: Set<string>

  before(async function () {
    [anchor, anchor2, stranger, peer, other] = await Promise.all([0, 1, 2, 3, 4].map(async () => newIdentity()))
    anchors = new Set([anchor.did, anchor2.did])
  })

  describe('credentials', function () {
    it('issues a VC-JWT that verifies with its claims', async function () {
      const jwt = await issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 7, region: 'eu-west', ttlSeconds: 3600 })
      const c = await verifyCredential(jwt, { anchors, federation: FED, subject: peer.did })
      assert.equal(c.issuer, anchor.did)
      assert.deepEqual(c.claims, { id: peer.did, federation: FED, trustLevel: 7, region: 'eu-west' })
      assert.equal(c.exp - c.iat, 3600)
      assert.match(c.jti, /^urn:dcis:cred:[0-9a-f]{24}$/)
      assert.equal(c.jwt, jwt)
      // without a region, and without a subject check
      const plain = await verifyCredential(await issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 0 }), { anchors, federation: FED })
      assert.deepEqual(plain.claims, { id: peer.did, federation: FED, trustLevel: 0 })
      assert.equal(plain.exp - plain.iat, 30 * 86400, 'default lifetime 30 days')
    })

    it('gives every credential its own jti', async function () {
      const a = await verifyCredential(await issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 1 }), { anchors, federation: FED })
      const b = await verifyCredential(await issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 1 }), { anchors, federation: FED })
      assert.notEqual(a.jti, b.jti)
    })

    it('refuses to issue a bad trust level, a non-did:key subject or a bad region', async function () {
      for (const trustLevel of [-1, 11, 2.5, Number.NaN]) {
        await assert.rejects(issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel }), RangeError)
      }
      await assert.rejects(issueCredential(anchor, { subject: 'did:web:x.example', federation: FED, trustLevel: 1 }), RangeError)
      await assert.rejects(issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 1, region: 'EU West' }), RangeError)
    })

    it('rejects an unknown issuer (unknown-issuer)', async function () {
      const jwt = await issueCredential(stranger, { subject: peer.did, federation: FED, trustLevel: 9 })
      await rejectsWith(verifyCredential(jwt, { anchors, federation: FED, subject: peer.did }), 'unknown-issuer', new RegExp(stranger.did))
      await rejectsWith(verifyCredential(jwt, { anchors: new Set(), federation: FED }), 'unknown-issuer')
    })

    it('rejects a credential presented by another DID (wrong-subject)', async function () {
      const jwt = await issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 5 })
      await rejectsWith(verifyCredential(jwt, { anchors, federation: FED, subject: other.did }), 'wrong-subject')
    })

    it('rejects a credentialSubject.id that differs from sub (wrong-subject)', async function () {
      // sub names the presenter, the claims another DID: must not count for either
      const jwt = await signJwt(anchor, {
        jti: 'urn:dcis:cred:x',
        vc: { '@context': [], type: ['VerifiableCredential', 'FederationCredential'], credentialSubject: { id: other.did, federation: FED, trustLevel: 9 } }
      }, { subject: peer.did, expiresInSeconds: 600 })
      await rejectsWith(verifyCredential(jwt, { anchors, federation: FED, subject: peer.did }), 'wrong-subject')
      await rejectsWith(verifyCredential(jwt, { anchors, federation: FED, subject: other.did }), 'wrong-subject')
    })

    it('rejects another federation\'s credential (wrong-federation)', async function () {
      const jwt = await issueCredential(anchor, { subject: peer.did, federation: 'elsewhere', trustLevel: 5 })
      await rejectsWith(verifyCredential(jwt, { anchors, federation: FED, subject: peer.did }), 'wrong-federation')
    })

    it('rejects an expired credential and one from the future (expired, future)', async function () {
      const t = now()
      const old = await issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 5, issuedAt: t - 7200, ttlSeconds: 3600 })
      await rejectsWith(verifyCredential(old, { anchors, federation: FED, subject: peer.did }), 'expired')
      const future = await issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 5, issuedAt: t + 3600 })
      await rejectsWith(verifyCredential(future, { anchors, federation: FED, subject: peer.did }), 'future')
      // the verifier's clock decides
      await verifyCredential(old, { anchors, federation: FED, now: t - 5000 })
    })

    it('rejects a bad signature, also when re-signed by another key with iss kept (bad-signature)', async function () {
      const jwt = await issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 5 })
      await rejectsWith(verifyCredential(flipSig(jwt), { anchors, federation: FED, subject: peer.did }), 'bad-signature')
      // raise the level under the anchor's name and sign with the stranger's key
      const [h, p] = jwt.split('.')
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as { vc: { credentialSubject: { trustLevel: number } } }
      payload.vc.credentialSubject.trustLevel = 10
      const input = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
      const sig = await stranger.privateKey.sign(new TextEncoder().encode(input))
      await rejectsWith(verifyCredential(`${input}.${Buffer.from(sig).toString('base64url')}`, { anchors, federation: FED, subject: peer.did }), 'bad-signature')
    })

    it('rejects a revoked credential (revoked) and only that one', async function () {
      const jwt = await issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 5 })
      const keep = await issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 4 })
      const { jti } = await verifyCredential(jwt, { anchors, federation: FED })
      const store = new RevocationStore()
      const list = await verifyRevocationList(await issueRevocationList(anchor, FED, [jti]), { anchors, federation: FED })
      assert.equal(store.offer(list), true)
      const isRevoked = (issuer: string, id: string): boolean => store.isRevoked(issuer, id)
      await rejectsWith(verifyCredential(jwt, { anchors, federation: FED, subject: peer.did, isRevoked }), 'revoked', new RegExp(jti))
      await verifyCredential(keep, { anchors, federation: FED, subject: peer.did, isRevoked })
      // the same jti listed by another anchor does not revoke the first anchor's credential
      assert.equal(store.isRevoked(anchor2.did, jti), false)
    })

    it('rejects malformed input: garbage, oversized, a non-credential JWT, bad claims (malformed)', async function () {
      const opts = { anchors, federation: FED }
      await rejectsWith(verifyCredential('garbage', opts), 'malformed')
      await rejectsWith(verifyCredential('a.b.c', opts), 'malformed')
      await rejectsWith(verifyCredential('x'.repeat(MAX_CREDENTIAL_BYTES + 1), opts), 'malformed')
      await rejectsWith(verifyCredential(42 as unknown as string, opts), 'malformed')
      await rejectsWith(verifyCredential(await signJwt(anchor, { hello: 1 }, { expiresInSeconds: 60 }), opts), 'malformed')
      const bad = async (subject: Record<string, unknown>, extra: Record<string, unknown> = { jti: 'urn:x' }): Promise<string> => signJwt(anchor, {
        ...extra, vc: { type: ['VerifiableCredential', 'FederationCredential'], credentialSubject: subject }
      }, { subject: peer.did, expiresInSeconds: 600 })
      await rejectsWith(verifyCredential(await bad({ id: peer.did, federation: FED, trustLevel: 11 }), opts), 'malformed')
      await rejectsWith(verifyCredential(await bad({ id: peer.did, federation: FED, trustLevel: '9' }), opts), 'malformed')
      await rejectsWith(verifyCredential(await bad({ id: peer.did, federation: FED, trustLevel: 3, region: 'Not A Region' }), opts), 'malformed')
      await rejectsWith(verifyCredential(await bad({ id: peer.did, federation: FED, trustLevel: 3 }, {}), opts), 'malformed', /jti/)
    })
  })

  describe('revocation lists', function () {
    it('verifies a list of an anchor; refuses unknown issuers, other federations, the future, forgeries and non-lists', async function () {
      const jwt = await issueRevocationList(anchor, FED, ['urn:a', 'urn:b'])
      const list = await verifyRevocationList(jwt, { anchors, federation: FED })
      assert.deepEqual(list.revoked, ['urn:a', 'urn:b'])
      assert.equal(list.issuer, anchor.did)
      await rejectsWith(verifyRevocationList(await issueRevocationList(stranger, FED, ['urn:a']), { anchors, federation: FED }), 'unknown-issuer')
      await rejectsWith(verifyRevocationList(await issueRevocationList(anchor, 'elsewhere', ['urn:a']), { anchors, federation: FED }), 'wrong-federation')
      await rejectsWith(verifyRevocationList(await issueRevocationList(anchor, FED, [], now() + 3600), { anchors, federation: FED }), 'future')
      await rejectsWith(verifyRevocationList(flipSig(jwt), { anchors, federation: FED }), 'bad-signature')
      await rejectsWith(verifyRevocationList(await signJwt(anchor, { type: 'RevocationList', federation: FED, revoked: [1, 2] }), { anchors, federation: FED }), 'malformed')
      await rejectsWith(verifyRevocationList(await signJwt(anchor, { federation: FED, revoked: [] }), { anchors, federation: FED }), 'malformed')
      await assert.rejects(issueRevocationList(anchor, FED, Array.from({ length: 1001 }, (_, i) => `urn:${i}`)), RangeError)
    })

    it('RevocationStore keeps the newest list per anchor; an older or equal list changes nothing', async function () {
      const t = now()
      const store = new RevocationStore()
      const v = async (iat: number, revoked: string[], by = anchor): Promise<Awaited<ReturnType<typeof verifyRevocationList>>> =>
        verifyRevocationList(await issueRevocationList(by, FED, revoked, iat), { anchors, federation: FED })
      assert.equal(store.offer(await v(t - 100, ['urn:1'])), true)
      assert.equal(store.isRevoked(anchor.did, 'urn:1'), true)
      assert.equal(store.offer(await v(t - 50, ['urn:2'])), true)
      assert.equal(store.isRevoked(anchor.did, 'urn:1'), false, 'the newer list replaces the older (un-revocation is possible)')
      assert.equal(store.isRevoked(anchor.did, 'urn:2'), true)
      assert.equal(store.offer(await v(t - 100, ['urn:1'])), false, 'a replayed older list is ignored')
      assert.equal(store.offer(await v(t - 50, ['urn:3'])), false, 'same iat is ignored')
      assert.equal(store.isRevoked(anchor.did, 'urn:2'), true)
      assert.equal(store.offer(await v(t - 10, ['urn:9'], anchor2)), true)
      assert.equal(store.all().length, 2)
    })
  })

  describe('TrustPolicy', function () {
    let policyAnchors: TrustAnchors
    before(function () {
      policyAnchors = { federation: FED, anchors: [{ did: anchor.did, maxTrust: 5 }, { did: anchor2.did, maxTrust: 10 }] }
    })

    it('without credentials the level is 0 and self-asserted', async function () {
      const p = new TrustPolicy(policyAnchors, new RevocationStore())
      assert.deepEqual(await p.evaluate(peer.did, []), { level: 0, source: 'self-asserted', region: null, credentials: [] })
    })

    it('takes the highest valid level, capped by the anchor\'s maxTrust, with that credential\'s region', async function () {
      const p = new TrustPolicy(policyAnchors, new RevocationStore())
      const capped = await issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 9, region: 'eu-west' })
      const t = await p.evaluate(peer.did, [capped])
      assert.equal(t.level, 5, 'anchor 1 may grant at most 5')
      assert.equal(t.source, 'credential')
      assert.equal(t.region, 'eu-west')
      const higher = await issueCredential(anchor2, { subject: peer.did, federation: FED, trustLevel: 7, region: 'us-east' })
      for (const order of [[capped, higher], [higher, capped]]) {
        const r = await p.evaluate(peer.did, order)
        assert.equal(r.level, 7)
        assert.equal(r.region, 'us-east')
        assert.equal(r.credentials.length, 2)
      }
    })

    it('ignores (and reports) credentials of strangers, of other subjects, revoked or expired ones', async function () {
      const reasons: CredentialRejectReason[] = []
      const store = new RevocationStore()
      const p = new TrustPolicy(policyAnchors, store, r => { reasons.push(r) })
      const good = await issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 2 })
      const revoked = await issueCredential(anchor2, { subject: peer.did, federation: FED, trustLevel: 9 })
      const { jti } = await verifyCredential(revoked, { anchors, federation: FED })
      store.offer(await verifyRevocationList(await issueRevocationList(anchor2, FED, [jti]), { anchors, federation: FED }))
      const creds = [
        await issueCredential(stranger, { subject: peer.did, federation: FED, trustLevel: 10 }),
        await issueCredential(anchor2, { subject: other.did, federation: FED, trustLevel: 10 }),
        await issueCredential(anchor2, { subject: peer.did, federation: FED, trustLevel: 10, issuedAt: now() - 7200, ttlSeconds: 60 }),
        revoked,
        'not.a.jwt',
        good
      ]
      const t = await p.evaluate(peer.did, creds)
      assert.equal(t.level, 2)
      assert.equal(t.source, 'credential')
      assert.deepEqual(reasons.sort(), ['expired', 'malformed', 'revoked', 'unknown-issuer', 'wrong-subject'])
      // all bad: self-asserted
      assert.equal((await p.evaluate(peer.did, creds.slice(0, 5))).source, 'self-asserted')
    })

    it('a credential for level 0 from an anchor still makes the source credential', async function () {
      const p = new TrustPolicy(policyAnchors, new RevocationStore())
      const t = await p.evaluate(peer.did, [await issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 0, region: 'ap-south' })])
      assert.deepEqual({ level: t.level, source: t.source, region: t.region }, { level: 0, source: 'credential', region: 'ap-south' })
    })

    it('an anchor with maxTrust 0 grants nothing above 0', async function () {
      const p = new TrustPolicy({ federation: FED, anchors: [{ did: anchor.did, maxTrust: 0 }] }, new RevocationStore())
      assert.equal((await p.evaluate(peer.did, [await issueCredential(anchor, { subject: peer.did, federation: FED, trustLevel: 10 })])).level, 0)
    })
  })

  describe('trust anchors file', function () {
    it('parses a good file; maxTrust defaults to 10; name is kept', function () {
      const text = JSON.stringify({ federation: FED, anchors: [{ did: anchor.did, name: 'ops' }, { did: anchor2.did, maxTrust: 3 }] })
      assert.deepEqual(parseTrustAnchors(text, 'a.json', FED), {
        federation: FED,
        anchors: [{ did: anchor.did, maxTrust: 10, name: 'ops' }, { did: anchor2.did, maxTrust: 3 }]
      })
      assert.deepEqual(parseTrustAnchors(JSON.stringify({ federation: FED, anchors: [] }), 'a.json', FED).anchors, [])
    })

    const bad: Array<[string, string, RegExp]> = [
      ['not JSON', '{"federation":', /not JSON/],
      ['JSON null', 'null', /expected \{"federation", "anchors"/],
      ['an array', '[]', /expected \{"federation", "anchors"/],
      ['anchors not a list', JSON.stringify({ federation: FED, anchors: {} }), /expected/],
      ['another federation', JSON.stringify({ federation: 'other', anchors: [] }), /federation is "other", expected "test-fed"/],
      ['no federation', JSON.stringify({ anchors: [] }), /federation is undefined/],
      ['an anchor without did', JSON.stringify({ federation: FED, anchors: [{ name: 'x' }] }), /anchors\[0\]\.did is required/],
      ['a null anchor', JSON.stringify({ federation: FED, anchors: [null] }), /anchors\[0\]\.did is required/],
      ['a did that is not a did:key', JSON.stringify({ federation: FED, anchors: [{ did: 'did:web:example.com' }] }), /anchors\[0\]\.did/],
      ['a maxTrust of 11', JSON.stringify({ federation: FED, anchors: [{ did: 'DID', maxTrust: 11 }] }), /anchors\[0\]\.maxTrust must be 0\.\.10/],
      ['a fractional maxTrust', JSON.stringify({ federation: FED, anchors: [{ did: 'DID', maxTrust: 2.5 }] }), /anchors\[0\]\.maxTrust/],
      ['a text maxTrust', JSON.stringify({ federation: FED, anchors: [{ did: 'DID', maxTrust: '5' }] }), /anchors\[0\]\.maxTrust/]
    ]
    for (const [what, text, msg] of bad) {
      it(`rejects ${what} with a message naming the file and the field`, function () {
        assert.throws(() => parseTrustAnchors(text.replace('DID', anchor.did), 'bootstrap/test-fed/trust-anchors.json', FED), (err: unknown) => {
          assert.ok(err instanceof TrustAnchorsError, String(err))
          assert.equal(err.code, 'INVALID_TRUST_ANCHORS')
          assert.match(err.message, /^trust anchors bootstrap\/test-fed\/trust-anchors\.json: /)
          assert.match(err.message, msg)
          return true
        })
      })
    }

    it('reports the index of the bad anchor in a longer list', function () {
      const text = JSON.stringify({ federation: FED, anchors: [{ did: anchor.did }, { did: anchor2.did }, { did: 'did:key:z6MkBroken' }] })
      assert.throws(() => parseTrustAnchors(text, 'f.json', FED), /anchors\[2\]\.did/)
    })

    it('loadTrustAnchors: a missing file means no anchors; a bad file throws; a good file loads', async function () {
      const dir = await mkdtemp(join(tmpdir(), 'dcis-anchors-'))
      try {
        assert.deepEqual(await loadTrustAnchors(join(dir, 'absent.json'), FED), { federation: FED, anchors: [] })
        const file = join(dir, 'trust-anchors.json')
        await writeFile(file, '{ nope')
        await assert.rejects(loadTrustAnchors(file, FED), (err: unknown) => err instanceof TrustAnchorsError && err.message.includes(file))
        await writeFile(file, JSON.stringify({ federation: FED, anchors: [{ did: anchor.did, maxTrust: 4 }] }))
        assert.deepEqual(await loadTrustAnchors(file, FED), { federation: FED, anchors: [{ did: anchor.did, maxTrust: 4 }] })
        // a directory where the file should be
        await assert.rejects(loadTrustAnchors(dir, FED), TrustAnchorsError)
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
  })
})
