import assert from 'node:assert/strict'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { yamux } from '@libp2p/yamux'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import {
  decodePreamble, emulatedTcp, encodePreamble, LinkEmulatorConfigError, LinkFaults, LinkFaultsFile, linkFaultsDigest, parseLinkFaults,
  PREAMBLE_VERSION, PREAMBLE_VERSION_SITE
} from '../../src/latency/emulator/index.js'
import { EmulatedLinkConnection } from '../../src/latency/emulator/link-connection.js'
import { waitFor } from '../helpers/wait.js'
import { FakeClock } from './emulator-fake-clock.js'
import type { EmulatorLog, LinkFaultSet } from '../../src/latency/emulator/index.js'
import type { Libp2p, MultiaddrConnection } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'

const quiet: EmulatorLog = { warn: () => {}, debug: () => {} }

function block (from: string[], to: string[]): LinkFaultSet['rules'][number] {
  return { from, to, action: 'block' }
}

describe('latency/emulator: link faults', () => {
  describe('rules', () => {
    it('a digest names the rules in force: same rules, same digest; any change, another', () => {
      const a = { rules: [block(['a'], ['b'])] }
      const faults = new LinkFaults()
      const empty = faults.digest
      assert.match(empty, /^[0-9a-f]{16}$/)
      assert.equal(empty, linkFaultsDigest({ rules: [] }))
      faults.set(a)
      assert.equal(faults.digest, linkFaultsDigest(JSON.parse(JSON.stringify(a))))
      assert.equal(faults.size, 1)
      assert.notEqual(faults.digest, empty)
      assert.notEqual(linkFaultsDigest({ rules: [block(['a'], ['c'])] }), faults.digest)
      assert.notEqual(linkFaultsDigest({ rules: [{ from: ['a'], to: ['b'], action: 'delay', delayMs: 5 }] }), faults.digest)
      faults.set({ rules: [] })
      assert.equal(faults.digest, empty)
      assert.throws(() => linkFaultsDigest({ rules: [{ from: [], to: ['b'], action: 'block' }] }), LinkEmulatorConfigError)
    })

    it('parses block and delay rules and answers per direction', () => {
      const faults = new LinkFaults(parseLinkFaults({
        rules: [
          block(['a'], ['b']),
          { from: ['a', 'c'], to: ['b'], action: 'delay', delayMs: 30 },
          { from: ['a'], to: ['b'], action: 'delay', delayMs: 5 }
        ]
      }))
      assert.deepEqual(faults.state('a', 'b'), { blocked: true, resetAfterMs: 60_000, extraDelayMs: 35 })
      assert.equal(faults.state('b', 'a').blocked, false, 'a rule is one-way')
      assert.deepEqual(faults.state('c', 'b'), { blocked: false, resetAfterMs: 60_000, extraDelayMs: 30 })
      assert.deepEqual(faults.state('x', 'y'), { blocked: false, resetAfterMs: 60_000, extraDelayMs: 0 })
    })

    it('rejects bad rule sets naming the field', () => {
      const bad: Array<[unknown, string]> = [
        [null, 'faults'],
        [[], 'faults'],
        [{ rules: [], extra: 1 }, 'faults.extra'],
        [{ rules: 'x' }, 'faults.rules'],
        [{ rules: [{ from: [], to: ['b'], action: 'block' }] }, 'faults.rules[0].from'],
        [{ rules: [{ from: ['a'], to: ['b c'], action: 'block' }] }, 'faults.rules[0].to[0]'],
        [{ rules: [{ from: ['a'], to: [7], action: 'block' }] }, 'faults.rules[0].to[0]'],
        [{ rules: [{ from: ['a'], to: ['b'], action: 'drop' }] }, 'faults.rules[0].action'],
        [{ rules: [{ from: ['a'], to: ['b'], action: 'delay' }] }, 'faults.rules[0].delayMs'],
        [{ rules: [{ from: ['a'], to: ['b'], action: 'delay', delayMs: -1 }] }, 'faults.rules[0].delayMs'],
        [{ rules: [{ from: ['a'], to: ['b'], action: 'block', delayMs: 3 }] }, 'faults.rules[0].delayMs'],
        [{ rules: [{ from: ['a'], to: ['b'], action: 'block', resetAfterMs: 0 }] }, 'faults.rules[0].resetAfterMs'],
        [{ rules: [{ from: ['a'], to: ['b'], action: 'block', why: 'x' }] }, 'faults.rules[0].why']
      ]
      for (const [value, field] of bad) {
        assert.throws(() => parseLinkFaults(value), (err: unknown) => err instanceof LinkEmulatorConfigError && err.field === field, `${JSON.stringify(value)} -> ${field}`)
      }
    })

    it('tells subscribers about changes until they unsubscribe', () => {
      const faults = new LinkFaults()
      let calls = 0
      const off = faults.subscribe(() => { calls++ })
      faults.set({ rules: [block(['a'], ['b'])] })
      off()
      faults.set({ rules: [] })
      assert.equal(calls, 1)
      assert.equal(faults.subscribers, 0)
    })
  })

  describe('preamble with a site', () => {
    it('writes version 1 when the site is the region and version 2 otherwise; decodes both', () => {
      const v1 = encodePreamble('eu-west')
      assert.equal(v1[4], PREAMBLE_VERSION)
      assert.deepEqual(decodePreamble(v1), { done: true, region: 'eu-west', site: 'eu-west', consumed: v1.length })
      const v2 = encodePreamble('eu-west', 'peer-3')
      assert.equal(v2[4], PREAMBLE_VERSION_SITE)
      assert.deepEqual(decodePreamble(v2), { done: true, region: 'eu-west', site: 'peer-3', consumed: v2.length })
      for (let n = 0; n < v2.length; n++) assert.deepEqual(decodePreamble(v2.subarray(0, n)), { done: false }, `prefix of ${n} bytes`)
      const withTail = new Uint8Array([...v2, 9, 9])
      assert.equal((decodePreamble(withTail) as { consumed: number }).consumed, v2.length)
    })

    it('rejects a bad site length or site characters', () => {
      const v2 = encodePreamble('a', 'bb')
      const zeroLen = Uint8Array.from(v2.subarray(0, 8)); zeroLen[7] = 0
      assert.throws(() => decodePreamble(zeroLen), { name: 'PreambleError', reason: 'BAD_REGION_LENGTH' })
      const badChar = Uint8Array.from(v2); badChar[9] = 0x20
      assert.throws(() => decodePreamble(badChar), { name: 'PreambleError', reason: 'BAD_REGION_CHARS' })
      assert.throws(() => encodePreamble('a', 'b c'), { name: 'PreambleError' })
    })
  })

  describe('a link under a block rule (fake clock)', () => {
    const open: MultiaddrConnection[] = []
    afterEach(() => { for (const c of open.splice(0)) c.abort(new Error('test over')) })

    async function openLink (clock: FakeClock, faults: LinkFaults, maxQueuedBytes = 1 << 20): Promise<{ link: EmulatedLinkConnection, got: Uint8ArrayList, remote: MultiaddrConnection }> {
      const [local, remote] = multiaddrConnectionPair()
      open.push(local, remote)
      const got = new Uint8ArrayList()
      let preambleSeen = false
      remote.addEventListener('message', evt => {
        if (!preambleSeen) { preambleSeen = true; return }
        got.append(evt.data)
      })
      const opening = EmulatedLinkConnection.open(local, {
        localRegion: 'r', localSite: 'a', faults, oneWayDelayMs: () => 10, jitter: () => 0, scheduler: clock, handshakeTimeoutMs: 1_000, maxQueuedBytes
      })
      remote.send(encodePreamble('r', 'b'))
      const link = await opening
      open.push(link)
      assert.equal(link.remoteSite, 'b')
      return { link, got, remote }
    }

    it('holds sent bytes while blocked and releases them in order on heal', async () => {
      const clock = new FakeClock()
      const faults = new LinkFaults()
      const { link, got } = await openLink(clock, faults)
      link.send(Uint8Array.of(1))
      clock.advance(10)
      await waitFor('first byte', () => got.byteLength === 1, { timeoutMs: 2_000, intervalMs: 1 })
      faults.set({ rules: [block(['a'], ['b'])] })
      link.send(Uint8Array.of(2))
      link.send(Uint8Array.of(3))
      clock.advance(5_000)
      for (let i = 0; i < 10; i++) await new Promise(resolve => setImmediate(resolve)) // let the in-memory pair deliver what is in flight
      assert.equal(got.byteLength, 1, 'nothing crosses a blocked link')
      faults.set({ rules: [block(['b'], ['a'])] }) // the other direction only: ours flows again
      clock.advance(10)
      await waitFor('held bytes', () => got.byteLength === 3, { timeoutMs: 2_000, intervalMs: 1 })
      assert.deepEqual([...got.subarray()], [1, 2, 3])
      assert.equal(faults.subscribers, 1)
      link.abort(new Error('done'))
      assert.equal(faults.subscribers, 0, 'a closed link unsubscribes')
    })

    it('resets a connection blocked longer than resetAfterMs', async () => {
      const clock = new FakeClock()
      const faults = new LinkFaults({ rules: [{ from: ['a'], to: ['b'], action: 'block', resetAfterMs: 500 }] })
      const { link } = await openLink(clock, faults)
      let closed: Error | undefined = undefined as Error | undefined
      link.addEventListener('close', (evt) => { closed = evt.error ?? new Error('closed') })
      clock.advance(499)
      assert.equal(closed, undefined)
      clock.advance(2)
      await waitFor('reset', () => closed != null, { timeoutMs: 2_000, intervalMs: 1 })
      assert.equal((closed as unknown as { code?: string }).code, 'LINK_EMULATOR_FAULT_RESET')
    })

    it('resets a connection that holds more than its byte budget', async () => {
      const clock = new FakeClock()
      const faults = new LinkFaults({ rules: [block(['a'], ['b'])] })
      const { link } = await openLink(clock, faults, 1_000)
      let closed: Error | undefined = undefined as Error | undefined
      link.addEventListener('close', (evt) => { closed = evt.error ?? new Error('closed') })
      link.send(new Uint8Array(600))
      link.send(new Uint8Array(600))
      await waitFor('reset', () => closed != null, { timeoutMs: 2_000, intervalMs: 1 })
      assert.equal((closed as unknown as { code?: string }).code, 'LINK_EMULATOR_FAULT_RESET')
    })
  })

  describe('the rules file', () => {
    let dir: string
    beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dcis-faults-')) })
    afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

    async function writeAtomic (file: string, text: string): Promise<void> {
      await writeFile(`${file}.tmp`, text)
      await rename(`${file}.tmp`, file)
    }

    it('follows the file: missing = none, valid = applied, invalid = previous rules kept', async () => {
      const file = join(dir, 'faults.json')
      const faults = new LinkFaults()
      const warnings: string[] = []
      const watcher = new LinkFaultsFile({ path: file, faults, log: { warn: (_c, m) => { warnings.push(m) }, debug: () => {} } })
      await watcher.check()
      assert.equal(faults.get().rules.length, 0)
      await writeAtomic(file, JSON.stringify({ rules: [block(['a'], ['b'])] }))
      await watcher.check()
      assert.equal(faults.state('a', 'b').blocked, true)
      await writeAtomic(file, '{"rules": [{"from": ["a"]}]}')
      await watcher.check()
      assert.equal(faults.state('a', 'b').blocked, true, 'a bad file keeps the previous rules')
      assert.ok(warnings.some(w => w.includes('invalid')), 'the bad file is logged')
      await writeAtomic(file, 'not json')
      await watcher.check()
      assert.equal(faults.state('a', 'b').blocked, true)
      await rm(file)
      await watcher.check()
      assert.equal(faults.state('a', 'b').blocked, false, 'a removed file clears the rules')
    })
  })

  describe('between two real libp2p nodes', function () {
    this.timeout(60_000)
    type Node = Libp2p<{ ping: Ping }>
    const nodes: Node[] = []
    const watchers: LinkFaultsFile[] = []
    let dir: string
    beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dcis-faults-')) })
    afterEach(async () => {
      await Promise.all(watchers.splice(0).map(async w => { await w.stop() }))
      await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
      await rm(dir, { recursive: true, force: true })
    })

    async function startNode (site: string, file: string): Promise<Node> {
      const faults = new LinkFaults()
      const watcher = new LinkFaultsFile({ path: file, faults, log: quiet, pollMs: 50 })
      await watcher.start()
      watchers.push(watcher)
      const node = await createLibp2p({
        addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        transports: [emulatedTcp({ region: 'r', site, faults, logger: quiet })],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: { identify: identify(), ping: ping() }
      })
      nodes.push(node)
      return node
    }

    it('partitions, then heals on the same connection', async () => {
      const file = join(dir, 'faults.json')
      const a = await startNode('a', file)
      const b = await startNode('b', file)
      const target = b.getMultiaddrs()[0]
      await a.services.ping.ping(target, { signal: AbortSignal.timeout(10_000) })
      const conn = a.getConnections(b.peerId)[0]
      assert.ok(conn != null)

      await writeFile(`${file}.tmp`, JSON.stringify({ rules: [block(['a'], ['b']), block(['b'], ['a'])] }))
      await rename(`${file}.tmp`, file)
      // wait until both sides follow the rules: a ping then times out
      await waitFor('partition in force', async () => {
        try {
          await a.services.ping.ping(target, { signal: AbortSignal.timeout(300) })
          return false
        } catch { return true }
      }, { timeoutMs: 10_000, intervalMs: 50 })
      await assert.rejects(a.services.ping.ping(target, { signal: AbortSignal.timeout(1_000) }))

      await writeFile(`${file}.tmp`, JSON.stringify({ rules: [] }))
      await rename(`${file}.tmp`, file)
      await waitFor('healed', async () => {
        try {
          await a.services.ping.ping(target, { signal: AbortSignal.timeout(1_000) })
          return true
        } catch { return false }
      }, { timeoutMs: 10_000, intervalMs: 50 })
      assert.equal(a.getConnections(b.peerId)[0]?.id, conn.id, 'the held connection survived a short partition')
    })
  })
})
