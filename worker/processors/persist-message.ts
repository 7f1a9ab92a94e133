import { UnrecoverableError, type Job } from 'bullmq'
import type { Redis } from 'ioredis'
import { Value } from 'typebox/value'
import type { Db } from '../../core/db/connect.js'
import type { Log } from '../../core/log.js'
import { persistMessage } from '../../core/messages.js'
import { SendMessagePayloadSchema, type SendMessagePayload } from '../../core/queue.js'
import { publishTaskFinished, startAttempt, TaskRefusal } from '../../core/tasks.js'
import { publishWakeup } from '../../core/wakeups.js'

export interface PersistMessageResult { messageId: number, roomId: number, seq: number }

/**
 * Stores a sent message (once, whatever the retries), records the task's outcome, then wakes the room's pollers.
 * Anything thrown but a refusal is transient (Postgres or Redis away): BullMQ retries it until the task's deadline.
 */
export function createPersistMessage ({ db, redis, redisPrefix, log }: { db: Db, redis: Redis, redisPrefix: string, log: Log }) {
  return async (job: Job<SendMessagePayload>): Promise<PersistMessageResult | null> => {
    // The API checked this payload against the same schema: a job failing it was not made by Pigeon.
    if (job.id === undefined || !Value.Check(SendMessagePayloadSchema, job.data)) {
      throw new UnrecoverableError('INVALID_PAYLOAD: the job does not carry a valid send')
    }
    const { roomId, senderId, text, requestId } = job.data
    await startAttempt(db, job.id)
    const outcome = await persistMessage(db, job.id, { roomId, senderId, text })
    const finished = { id: job.id, ownerId: senderId }

    if (outcome.kind === 'gone') {
      log.info({ reqId: requestId, taskId: job.id }, 'task already finished or unknown: nothing to do')
      return null
    }
    if (outcome.kind === 'refused') {
      await publishTaskFinished(redis, redisPrefix, finished)
      log.info({ reqId: requestId, taskId: job.id, roomId, senderId, code: outcome.code }, 'send refused')
      throw new TaskRefusal(outcome.code, outcome.reason)
    }

    const { message } = outcome
    // Published again on a retry too: a wake-up lost to a crash after COMMIT costs a poller nothing but a re-read.
    await publishWakeup(redis, redisPrefix, {
      type: 'room-message',
      roomId,
      seq: message.seq,
      userIds: outcome.memberIds.filter((id) => id !== senderId),
      acceptedAt: job.timestamp
    })
    await publishTaskFinished(redis, redisPrefix, finished)
    log.info({ reqId: requestId, taskId: job.id, roomId, seq: message.seq, messageId: message.id, created: outcome.created }, 'message stored')
    return { messageId: message.id, roomId, seq: message.seq }
  }
}
