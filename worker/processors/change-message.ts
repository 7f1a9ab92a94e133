import { UnrecoverableError, type Job } from 'bullmq'
import { Value } from 'typebox/value'
import type { Db } from '../../core/db/connect.js'
import type { Log } from '../../core/log.js'
import { applyMessageChange } from '../../core/message-changes.js'
import { ChangeMessagePayloadSchema, type ChangeMessagePayload, type Queues } from '../../core/queue.js'
import type { RedisClient } from '../../core/redis.js'
import { taskKinds } from '../../core/db/schema.js'
import { removeTaskJobs, taskFinished, TaskRefusal } from '../../core/tasks.js'
import { publishWakeups, type Wakeup } from '../../core/wakeups.js'
import type { PersistMessageResult } from './persist-message.js'

/**
 * Applies an edit or a delete (the job's name says which), records the task's outcome, then wakes the room's
 * pollers so they fetch the change. Anything thrown but a refusal is transient: BullMQ retries it, as for a send.
 */
export function createChangeMessage ({ db, redis, redisPrefix, log, queues }: { db: Db, redis: RedisClient, redisPrefix: string, log: Log, queues: Queues }) {
  return async (job: Job<ChangeMessagePayload>): Promise<PersistMessageResult | null> => {
    const isEdit = job.name === taskKinds.editMessage
    if (job.id === undefined || !Value.Check(ChangeMessagePayloadSchema, job.data) || isEdit !== (job.data.text !== undefined)) {
      throw new UnrecoverableError('INVALID_PAYLOAD: the job does not carry a valid edit or delete')
    }
    const { messageId, editorId, requestId } = job.data
    const outcome = await applyMessageChange(db, { taskId: job.id, messageId, editorId, text: job.data.text ?? null })
    if (outcome.kind === 'gone') {
      log.info({ reqId: requestId, taskId: job.id }, 'task already finished or unknown: nothing to do')
      return null
    }

    // After COMMIT; published again on a retry too: a lost wake-up would cost a poller the change until its next poll.
    const wakeups: Wakeup[] = [taskFinished({ id: job.id, ownerId: editorId })]
    if (outcome.kind === 'applied' && outcome.changed) {
      const { message } = outcome
      wakeups.unshift({ type: 'room-message', roomId: message.room_id, seq: message.seq, acceptedAt: job.timestamp })
    }
    await publishWakeups(redis, redisPrefix, wakeups)

    if (outcome.kind === 'refused') {
      log.info({ reqId: requestId, taskId: job.id, messageId, editorId, code: outcome.code }, 'change refused')
      throw new TaskRefusal({ code: outcome.code, message: outcome.message })
    }
    // A deleted message's texts leave Redis now, with the finished jobs that carried them, not when BullMQ trims them.
    await removeTaskJobs(queues, outcome.textTaskIds)
    const { message } = outcome
    log.info({ reqId: requestId, taskId: job.id, messageId, changeSeq: message.change_seq, kind: job.name }, 'message changed')
    return { messageId: message.id, roomId: message.room_id, seq: message.seq }
  }
}
