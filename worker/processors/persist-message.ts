import { UnrecoverableError, type Job } from 'bullmq'
import type { Redis } from 'ioredis'
import { Value } from 'typebox/value'
import type { Db } from '../../core/db/connect.js'
import type { Log } from '../../core/log.js'
import { persistMessage } from '../../core/messages.js'
import { SendMessagePayloadSchema, type SendMessagePayload } from '../../core/queue.js'
import { recordTaskFailure, taskKinds } from '../../core/tasks.js'
import { publishWakeup } from '../../core/wakeups.js'

export interface PersistMessageResult { messageId: number, roomId: number, seq: number }

/** Stores a sent message (once, whatever the retries), records the task's outcome, then wakes the room's pollers. */
export function createPersistMessage ({ db, redis, redisPrefix, log }: { db: Db, redis: Redis, redisPrefix: string, log: Log }) {
  return async (job: Job<SendMessagePayload>): Promise<PersistMessageResult> => {
    if (job.id === undefined || !Value.Check(SendMessagePayloadSchema, job.data)) {
      throw new UnrecoverableError('INVALID_PAYLOAD: the job does not carry a valid send')
    }
    const { roomId, senderId, text, requestId } = job.data
    const task = { id: job.id, kind: taskKinds.sendMessage, createdAt: new Date(job.timestamp), attempts: job.attemptsMade + 1 }
    const outcome = await persistMessage(db, task, { roomId, senderId, text })

    if (!outcome.stored) {
      await recordTaskFailure(db, { ...task, ownerId: senderId, code: outcome.code, message: 'The sender is not a member of the room.' })
      await publishWakeup(redis, redisPrefix, { type: 'task-finished', taskId: job.id, ownerId: senderId })
      log.info({ reqId: requestId, taskId: job.id, roomId, senderId }, 'send refused: not a member')
      throw new UnrecoverableError(`${outcome.code}: the sender is not a member of the room`)
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
    await publishWakeup(redis, redisPrefix, { type: 'task-finished', taskId: job.id, ownerId: senderId })
    log.info({ reqId: requestId, taskId: job.id, roomId, seq: message.seq, messageId: message.id, created: outcome.created }, 'message stored')
    return { messageId: message.id, roomId, seq: message.seq }
  }
}
