import { Queue, type DefaultJobOptions } from 'bullmq'
import { Type, type Static } from 'typebox'
import type { RedisClient } from './redis.js'
import { typedTextPattern } from './text.js'

export const MessageTextSchema = Type.String({
  minLength: 1,
  maxLength: 4000,
  pattern: typedTextPattern,
  description: '1–4000 characters (code points), not only white space or invisible characters, no U+0000 and no lone UTF-16 surrogate',
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

/** What the API enqueues for an edit (with `text`) or a delete (without) of a message, beside sends on the same queue. */
export const ChangeMessagePayloadSchema = Type.Object({
  messageId: Type.Integer({ minimum: 1 }),
  /** Who asked: only the message's sender may change it, checked again when the change is applied. */
  editorId: Type.Integer({ minimum: 1 }),
  text: Type.Optional(MessageTextSchema),
  requestId: Type.String()
})
export type ChangeMessagePayload = Static<typeof ChangeMessagePayloadSchema>

/** Every job of the task queue: sends, edits and deletes go one way, so they share its guarantees. */
export type TaskPayload = SendMessagePayload | ChangeMessagePayload

/** Acknowledgements of the unseen feed, of any number of users and rooms: each watermark moves up to its seq. */
export const MarkSeenPayloadSchema = Type.Object({
  acks: Type.Array(Type.Object({
    userId: Type.Integer({ minimum: 1 }),
    roomId: Type.Integer({ minimum: 1 }),
    seq: Type.Integer({ minimum: 0 })
  }), { minItems: 1 })
})
export type MarkSeenPayload = Static<typeof MarkSeenPayloadSchema>

export const queueNames = {
  // Until 0.1 this queue was called `send-message` in Redis. Jobs left there by an upgrade are not lost: every task
  // is in Postgres, and the reconciler re-creates the job of any unfinished task whose job it cannot find here.
  tasks: 'tasks',
  markSeen: 'mark-seen'
} as const

/**
 * Each queue's keys in a hash tag of its own (`{pigeon:tasks}:tasks:…`): all of one queue's keys share a Redis
 * Cluster slot, as BullMQ's scripts need, and different queues can live on different masters. Earlier versions gave
 * every queue the deployment's tag (`{pigeon}:tasks:…`); jobs an upgrade leaves there are re-created from their
 * tasks by the reconciler, and a lost acknowledgement is made again by the next poll.
 */
export function bullPrefix (redisPrefix: string, queueName: string): string {
  return `{${redisPrefix}:${queueName}}`
}

/** How long a retry waits: doubling from a quarter second, never more than 10 s, so work resumes within seconds of an outage ending. */
export function retryDelayMs (attemptsMade: number): number {
  return Math.min(250 * 2 ** Math.max(0, attemptsMade - 1), 10_000)
}

export const retryBackoff = 'capped-exponential'

export const defaultJobOptions: DefaultJobOptions = {
  // A send is retried until its task's deadline (a reconciler fails it then), not for a number of attempts.
  attempts: 1_000_000_000,
  backoff: { type: retryBackoff },
  // Bounded retention keeps Redis memory flat; tasks live on in Postgres. A finished job is only there to be looked
  // at (the queue dashboard): the last thousand completed, for at most an hour; a failed one for a day, to be read
  // (at most five thousand). At 4,000 characters of text a job, that is at most about 100 MB, and far less in practice.
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 24 * 3600, count: 5000 }
}

export interface Queues {
  /** The producers' connection: `isConnected(queues.connection)` says whether adding a job can succeed now. */
  connection: RedisClient
  /** The task queue: sends, and edits and deletes of messages (the job's name is the task's kind). */
  tasks: Queue<TaskPayload>
  markSeen: Queue<MarkSeenPayload>
}

/** Producers on a patient connection (see core/redis.ts): they work as soon as Redis does, whatever the start order. */
export function createQueues (connection: RedisClient, redisPrefix: string): Queues {
  const options = (name: string) => ({ connection, prefix: bullPrefix(redisPrefix, name), defaultJobOptions })
  return {
    connection,
    tasks: new Queue<TaskPayload>(queueNames.tasks, options(queueNames.tasks)),
    markSeen: new Queue<MarkSeenPayload>(queueNames.markSeen, options(queueNames.markSeen))
  }
}

export async function closeQueues (queues: Queues): Promise<void> {
  await Promise.all([queues.tasks.close(), queues.markSeen.close()])
}

/**
 * Adds a job without letting a Redis that went away mid-request hold the caller: false when the add has not
 * settled within `ms` (it goes on in the background). Only for jobs whose loss something else repairs.
 */
export async function addWithin (add: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => { timer = setTimeout(resolve, ms, false) })
  try {
    return await Promise.race([add.then(() => true as const), late])
  } finally {
    clearTimeout(timer)
  }
}
