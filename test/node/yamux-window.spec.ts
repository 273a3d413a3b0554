import assert from 'node:assert/strict'
import { defaultLogger } from '@libp2p/logger'
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'
import { Uint8ArrayList } from 'uint8arraylist'
import { deferYamuxWindowUpdates } from '../../src/node/yamux-window.js'

/** yamux frame types (spec): 0 data, 1 window update */
const DATA = 0
const WINDOW_UPDATE = 1

interface Header { type: number, flag: number, streamID: number, length: number }

function stream (state: StreamState): { s: YamuxStream, sent: Header[] } {
  const sent: Header[] = []
  const s = new YamuxStream({
    id: '1',
    streamId: 1,
    state,
    direction: 'inbound',
    log: defaultLogger().forComponent('test:yamux'),
    sendFrame: (h: Header) => { sent.push(h); return true },
    getRTT: () => -1
  } as never)
  return { s, sent }
}

function receive (s: YamuxStream, bytes: number): void {
  (s as unknown as { handleData: (f: unknown) => void }).handleData({
    header: { type: DATA, flag: 0, streamID: 1, length: bytes },
    data: new Uint8ArrayList(new Uint8Array(bytes))
  })
}

describe('node/yamux-window: window updates at half a window', () => {
  before(() => { deferYamuxWindowUpdates() })

  it('credits the sender once half the window is used, not after every frame, and never lets it run dry', () => {
    const { s, sent } = stream(StreamState.Established)
    const window = 256 * 1024
    let credit = window
    let updates = 0
    for (let i = 0; i < 4000; i++) {
      receive(s, 100)
      credit -= 100
      for (const h of sent.splice(0)) {
        if (h.type === WINDOW_UPDATE) { credit += h.length; updates++ }
      }
      // what the remote may still send before it needs an update
      assert.ok(credit >= window / 2 - 100, `frame ${i}: remote credit ${credit}`)
    }
    // 400 000 bytes in 100-byte frames: three updates, where yamux alone sends 4 000
    assert.equal(updates, 3)
    const fields = s as unknown as { recvWindowCapacity: number }
    assert.equal(credit, fields.recvWindowCapacity)
  })

  it('a new inbound stream still acknowledges at once (the ACK flag goes through yamux unchanged)', () => {
    const { s, sent } = stream(StreamState.SYNReceived)
    receive(s, 10)
    assert.equal(sent.length, 1)
    assert.equal(sent[0].type, WINDOW_UPDATE)
    assert.notEqual(sent[0].flag & 2, 0, 'ACK flag')
    assert.equal(s.state, StreamState.Established)
    // and then no update for a small frame
    receive(s, 10)
    assert.equal(sent.length, 1)
  })

  it('is idempotent', () => {
    deferYamuxWindowUpdates()
    const { s, sent } = stream(StreamState.Established)
    for (let i = 0; i < 1400; i++) receive(s, 100)
    assert.equal(sent.filter(h => h.type === WINDOW_UPDATE).length, 1)
  })
})
