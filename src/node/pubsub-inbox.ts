import type { MeshLibp2p } from './libp2p.js'
import type { Message } from '@libp2p/gossipsub'

export interface InboxMessage {
  from: string
  topic: string
  data: string
  sequenceNumber: string
  receivedAt: number
}

/** Topics under this prefix belong to the protocols; HTTP users may not use them. */
export const RESERVED_TOPIC_PREFIX = 'dcis/'
export const TOPIC_PATTERN = /^[a-z0-9][a-z0-9/_.-]{0,127}$/

/**
 * Operator-facing gossip: topics a user subscribed to through the API, each
 * keeping its most recent messages in a bounded ring. Protocol topics
 * (`dcis/...`) are handled by their capabilities, never here.
 */
export class PubsubInbox {
  private readonly libp2p: MeshLibp2p
  private readonly topics = new Map<string, InboxMessage[]>()
  private readonly maxPerTopic: number
  private readonly maxTopics: number
  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    const ring = this.topics.get(msg.topic)
    if (ring == null || msg.type !== 'signed') return
    ring.push({
      from: msg.from.toString(),
      topic: msg.topic,
      data: new TextDecoder().decode(msg.data),
      sequenceNumber: msg.sequenceNumber.toString(),
      receivedAt: Date.now()
    })
    while (ring.length > this.maxPerTopic) ring.shift()
  }

  constructor (libp2p: MeshLibp2p, init: { maxPerTopic?: number, maxTopics?: number } = {}) {
    this.libp2p = libp2p
    this.maxPerTopic = init.maxPerTopic ?? 100
    this.maxTopics = init.maxTopics ?? 32
  }

  start (): void {
    this.libp2p.services.pubsub.addEventListener('message', this.onMessage)
  }

  stop (): void {
    this.libp2p.services.pubsub.removeEventListener('message', this.onMessage)
    for (const topic of this.topics.keys()) this.libp2p.services.pubsub.unsubscribe(topic)
    this.topics.clear()
  }

  /** returns false when the topic limit is reached */
  subscribe (topic: string): boolean {
    if (this.topics.has(topic)) return true
    if (this.topics.size >= this.maxTopics) return false
    this.topics.set(topic, [])
    this.libp2p.services.pubsub.subscribe(topic)
    return true
  }

  messages (topic: string): InboxMessage[] | undefined {
    return this.topics.get(topic)
  }

  async publish (topic: string, data: string): Promise<number> {
    const result = await this.libp2p.services.pubsub.publish(topic, new TextEncoder().encode(data))
    return result.recipients.length
  }
}
