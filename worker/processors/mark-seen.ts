import { UnrecoverableError, type Job } from 'bullmq'
import { Value } from 'typebox/value'
import type { Db } from '../../core/db/connect.js'
import { createGroupCommit } from '../../core/group-commit.js'
import type { Log } from '../../core/log.js'
import { MarkSeenPayloadSchema, type MarkSeenPayload } from '../../core/queue.js'
import { markSeenMany } from '../../core/read-state.js'
import type { RedisClient } from '../../core/redis.js'
import { publishWakeups } from '../../core/wakeups.js'

/**
 * Applies acknowledgements from the unseen feed: each room's watermark moves up to the acknowledged seq.
 * The API sends them in bulk, and jobs running at once are applied together, in one statement.
 */
export function createMarkSeen ({ db, redis, redisPrefix, log, maxBatch }: { db: Db, redis: RedisClient, redisPrefix: string, log: Log, maxBatch: number }) {
  const apply = createGroupCommit(async (payloads: MarkSeenPayload[]) => {
    const applied = await markSeenMany(db, payloads.flatMap((payload) => payload.acks))
    // After the statement committed: the users' sockets learn where their watermarks are. Losing this tells no one late.
    await publishWakeups(redis, redisPrefix, applied.map(({ userId, roomId, seq }) => ({ type: 'read-updated' as const, userId, roomId, seq })))
      .catch((error: unknown) => log.warn({ err: error }, 'could not publish read updates'))
    return payloads.map(() => undefined)
  }, { maxBatch })

  return async (job: Job<MarkSeenPayload>): Promise<void> => {
    if (!Value.Check(MarkSeenPayloadSchema, job.data)) {
      throw new UnrecoverableError('INVALID_PAYLOAD: the job does not carry a valid acknowledgement')
    }
    await apply(job.data)
    log.debug({ jobId: job.id, acks: job.data.acks.length }, 'messages marked seen')
  }
}
