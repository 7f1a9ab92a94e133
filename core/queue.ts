import { Queue, type DefaultJobOptions } from 'bullmq'
import type { Redis } from 'ioredis'
import { Type, type Static } from 'typebox'
import { typedTextPattern } from './text.js'

export const MessageTextSchema = Type.String({
  minLength: 1,
  maxLength: 4000,
  pattern: typedTextPattern,
  description: '1–4000 characters (code points), not only white space, no U+0000',
  examples: ['Hello from Pigeon!']
})

/** What the API enqueues for a send and the persist-message worker reads. */
export const SendMessagePayloadSchema = Type.Object({
  roomId: Type.Integer({ minimum: 1 }),
  senderId: Type.Integer({ minimum: 1 }),
  text: MessageTextSchema,
  /** The HTTP request that enqueued the job, so one send can be followed through the logs. */
  requestId: Type.String()
})
export type SendMessagePayload = Static<typeof SendMessagePayloadSchema>

/** What the unseen feed enqueues when a cursor acknowledges messages: per room, the highest seq seen. */
export const MarkSeenPayloadSchema = Type.Object({
  userId: Type.Integer({ minimum: 1 }),
  seenUpTo: Type.Record(Type.String({ pattern: '^[1-9][0-9]*$' }), Type.Integer({ minimum: 0 })),
  requestId: Type.String()
})
export type MarkSeenPayload = Static<typeof MarkSeenPayloadSchema>

export const queueNames = {
  sendMessage: 'send-message',
  markSeen: 'mark-seen'
} as const

/** BullMQ gets the deployment prefix as a hash tag, so each queue's keys share one Redis Cluster slot. */
export function bullPrefix (redisPrefix: string): string {
  return `{${redisPrefix}}`
}

export const defaultJobOptions: DefaultJobOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 500 },
  // Bounded retention keeps Redis memory flat; outcomes live on in Postgres (the tasks table).
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 24 * 3600, count: 10_000 }
}

export interface Queues {
  sendMessage: Queue<SendMessagePayload>
  markSeen: Queue<MarkSeenPayload>
}

/** Producers for the API: they share the caller's connection, and fail fast when Redis is away. */
export function createQueues (connection: Redis, redisPrefix: string): Queues {
  const options = { connection, prefix: bullPrefix(redisPrefix), defaultJobOptions, skipWaitingForReady: true }
  return {
    sendMessage: new Queue<SendMessagePayload>(queueNames.sendMessage, options),
    markSeen: new Queue<MarkSeenPayload>(queueNames.markSeen, options)
  }
}

export async function closeQueues (queues: Queues): Promise<void> {
  await Promise.all([queues.sendMessage.close(), queues.markSeen.close()])
}
