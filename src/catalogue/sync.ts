/**
 * Anti-entropy of the catalogue over `/dcis/catalogue/1.0.0`: one
 * push-pull exchange of three length-prefixed frames (the CRDT sync frames
 * of src/crdt/replication/wire.ts, object "catalogue"):
 *
 *   initiator -> digest (its causal context)
 *   responder -> reply  (what the initiator lacks + the responder's digest)
 *   initiator -> push   (what the responder lacks)
 *
 * Frames are decoded strictly and every record is checked (the owner's
 * `ingest`) before it is joined; a peer that is not a federation member is
 * refused.
 */
import { lpStream } from '@libp2p/utils'
import { digest, planSync } from '../crdt/index.js'
import type { ORMap } from '../crdt/index.js'
import { CATALOGUE_SECTIONS, decodeSyncFrame, encodeSyncFrame, ReplicationFrameError } from '../crdt/replication/index.js'
import type { SyncPart } from '../crdt/replication/index.js'
import { CATALOGUE_OBJECT, CATALOGUE_PROTOCOL } from './constants.js'
import type { CatalogueComponents } from './index.js'
import type { CatalogueMetrics } from './metrics.js'
import type { Logger } from '../telemetry/index.js'
import type { PeerId, Stream } from '@libp2p/interface'

const PROTOCOL = CATALOGUE_PROTOCOL
const OBJECT = CATALOGUE_OBJECT

export interface SyncComponents {
  libp2p: Pick<NonNullable<CatalogueComponents['libp2p']>, 'handle' | 'unhandle' | 'dialProtocol'>
  logger?: Logger
  metrics?: CatalogueMetrics
  /** may this peer sync with us? */
  allowed: (peerId: string) => boolean
  state: () => ORMap
  /** checks and joins received state; false when refused */
  ingest: (delta: ORMap, from: string) => boolean
}

export class CatalogueSync {
  private readonly c: SyncComponents
  private readonly maxBytes: number
  private readonly timeoutMs: number
  private readonly inflight = new Set<string>()
  private shutdown = new AbortController()

  constructor (components: SyncComponents, init: { maxMessageBytes: number, callTimeoutMs: number }) {
    this.c = components
    this.maxBytes = init.maxMessageBytes
    this.timeoutMs = init.callTimeoutMs
  }

  async start (): Promise<void> {
    this.shutdown = new AbortController()
    await this.c.libp2p.handle(PROTOCOL, async (stream, connection) => { await this.serve(stream, connection.remotePeer.toString()) }, { maxInboundStreams: 16, runOnLimitedConnection: true })
  }

  async stop (): Promise<void> {
    this.shutdown.abort()
    await this.c.libp2p.unhandle(PROTOCOL).catch(() => {})
  }

  private typesOf (object: string): typeof CATALOGUE_SECTIONS | undefined {
    return object === OBJECT ? CATALOGUE_SECTIONS : undefined
  }

  private part (m: ORMap, remote: Parameters<typeof planSync>[1]): SyncPart {
    const p = planSync(m, remote)
    if (p.kind === 'none') return { mode: 'none' }
    return p.kind === 'delta' ? { mode: 'delta', state: p.delta } : { mode: 'full', state: p.state }
  }

  private received (parts: SyncPart[], from: string): void {
    const p = parts[0]
    if (p == null || p.mode === 'none') return
    if (!this.c.ingest(p.state, from)) throw new ReplicationFrameError('parts[0]', 'holds an invalid catalogue record')
  }

  /** one exchange with `peer` (skipped when one is already running) */
  async syncWith (peer: PeerId, signal: AbortSignal): Promise<void> {
    const id = peer.toString()
    if (this.inflight.has(id)) return
    this.inflight.add(id)
    let stream: Stream | undefined
    try {
      stream = await this.c.libp2p.dialProtocol(peer, PROTOCOL, { signal, runOnLimitedConnection: true })
      const lp = lpStream(stream, { maxDataLength: this.maxBytes })
      await lp.write(encodeSyncFrame({ kind: 'digest', object: OBJECT, digests: [digest(this.c.state())] }), { signal })
      const reply = decodeSyncFrame((await lp.read({ signal })).subarray(), (o) => this.typesOf(o), this.maxBytes)
      if (reply.kind === 'refuse') {
        this.c.metrics?.syncs.inc({ result: 'refused' })
        await stream.close({ signal }).catch(() => {})
        return
      }
      if (reply.kind !== 'reply') throw new ReplicationFrameError('kind', `expected a reply, got ${reply.kind}`)
      this.received(reply.parts, id)
      await lp.write(encodeSyncFrame({ kind: 'push', object: OBJECT, parts: [this.part(this.c.state(), reply.digests[0])] }), { signal })
      await stream.close({ signal }).catch(() => {})
      this.c.metrics?.syncs.inc({ result: 'ok' })
    } catch (err) {
      stream?.abort(err as Error)
      this.countBad(err)
      this.c.metrics?.syncs.inc({ result: 'error' })
      throw err
    } finally {
      this.inflight.delete(id)
    }
  }

  private countBad (err: unknown): void {
    const name = (err as Error).name
    if (err instanceof ReplicationFrameError || name === 'CrdtDecodeError') this.c.metrics?.rejected.inc({ reason: 'malformed' })
    else if (name === 'InvalidDataLengthError') this.c.metrics?.rejected.inc({ reason: 'oversized' })
  }

  private async serve (stream: Stream, remote: string): Promise<void> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.timeoutMs)])
    const lp = lpStream(stream, { maxDataLength: this.maxBytes })
    try {
      if (!this.c.allowed(remote)) {
        this.c.metrics?.rejected.inc({ reason: 'unverified-peer' })
        await lp.write(encodeSyncFrame({ kind: 'refuse', object: OBJECT, reason: 'not a verified federation member (yet)' }), { signal })
        await stream.close({ signal })
        return
      }
      const req = decodeSyncFrame((await lp.read({ signal })).subarray(), (o) => this.typesOf(o), this.maxBytes)
      if (req.kind !== 'digest') throw new ReplicationFrameError('kind', `expected a digest, got ${req.kind}`)
      const state = this.c.state()
      await lp.write(encodeSyncFrame({ kind: 'reply', object: OBJECT, parts: [this.part(state, req.digests[0])], digests: [digest(state)] }), { signal })
      const push = decodeSyncFrame((await lp.read({ signal })).subarray(), (o) => this.typesOf(o), this.maxBytes)
      if (push.kind !== 'push') throw new ReplicationFrameError('kind', `expected a push, got ${push.kind}`)
      this.received(push.parts, remote)
      await stream.close({ signal })
    } catch (err) {
      this.countBad(err)
      this.c.logger?.debug({ remote, err: (err as Error).message }, 'catalogue anti-entropy (serving) failed')
      stream.abort(err as Error)
    }
  }
}
