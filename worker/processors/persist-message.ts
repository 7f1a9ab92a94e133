import { UnrecoverableError, type Job } from 'bullmq'
import { Value } from 'typebox/value'
import type { Db } from '../../core/db/connect.js'
import type { Log } from '../../core/log.js'
import { persistMessages, type PersistOutcome, type SendToStore } from '../../core/messages.js'
import { SendMessagePayloadSchema, type SendMessagePayload } from '../../core/queue.js'
import type { RedisClient } from '../../core/redis.js'
import { taskFinished, TaskRefusal } from '../../core/tasks.js'
import { publishWakeups, type Wakeup } from '../../core/wakeups.js'
import { createGroupCommit } from '../../core/group-commit.js'

export interface PersistMessageResult { messageId: number, roomId: number, seq: number }

type StoreRequest = SendToStore & { ownerId: number, acceptedAt: number }

/** After COMMIT: one wake-up per room that got messages, one per finished task. */
function wakeupsFor (requests: StoreRequest[], outcomes: PersistOutcome[]): Wakeup[] {
  const wakeups: Wakeup[] = []
  const rooms = new Map<number, { seq: number, acceptedAt: number }>()
  requests.forEach((request, i) => {
    const outcome = outcomes[i]
    if (outcome === undefined || outcome.kind === 'gone') return
    // A task this run completed carries its answer: its owner's waiting requests answer from it, not from Postgres.
    const answer = outcome.kind === 'stored' && outcome.task !== undefined ? { task: outcome.task, message: outcome.message as unknown as Record<string, unknown> } : undefined
    wakeups.push(taskFinished({ id: request.taskId, ownerId: request.ownerId }, answer))
    if (outcome.kind !== 'stored') return
    const room = rooms.get(request.roomId) ?? { seq: 0, acceptedAt: request.acceptedAt }
    room.seq = Math.max(room.seq, outcome.message.seq)
    room.acceptedAt = Math.min(room.acceptedAt, request.acceptedAt)
    rooms.set(request.roomId, room)
  })
  for (const [roomId, room] of rooms) wakeups.unshift({ type: 'room-message', roomId, ...room })
  return wakeups
}

/**
 * Stores sent messages (each once, whatever the retries), records each task's outcome, then wakes the rooms'
 * pollers. Jobs running at once are stored together (group commit): one transaction per batch, whatever its rooms.
 * Anything thrown but a refusal is transient (Postgres or Redis away): BullMQ retries it until the task's deadline.
 */
export function createPersistMessage ({ db, redis, redisPrefix, log, maxBatch }: { db: Db, redis: RedisClient, redisPrefix: string, log: Log, maxBatch: number }) {
  const store = createGroupCommit(async (requests: StoreRequest[]) => {
    const outcomes = await persistMessages(db, requests)
    // Published again on a retry too: a wake-up lost to a crash after COMMIT costs a poller nothing but a re-read.
    await publishWakeups(redis, redisPrefix, wakeupsFor(requests, outcomes))
    return outcomes
  }, { maxBatch })

  return async (job: Job<SendMessagePayload>): Promise<PersistMessageResult | null> => {
    // The API checked this payload against the same schema: a job failing it was not made by Pigeon.
    if (job.id === undefined || !Value.Check(SendMessagePayloadSchema, job.data)) {
      throw new UnrecoverableError('INVALID_PAYLOAD: the job does not carry a valid send')
    }
    const { roomId, senderId, text, requestId } = job.data
    const outcome = await store({ taskId: job.id, roomId, senderId, text, ownerId: senderId, acceptedAt: job.timestamp })

    if (outcome.kind === 'gone') {
      log.info({ reqId: requestId, taskId: job.id }, 'task already finished or unknown: nothing to do')
      return null
    }
    if (outcome.kind === 'refused') {
      log.info({ reqId: requestId, taskId: job.id, roomId, senderId, code: outcome.code }, 'send refused')
      throw new TaskRefusal({ code: outcome.code, message: outcome.message })
    }
    const { message } = outcome
    log.info({ reqId: requestId, taskId: job.id, roomId, seq: message.seq, messageId: message.id, created: outcome.created }, 'message stored')
    return { messageId: message.id, roomId, seq: message.seq }
  }
}
