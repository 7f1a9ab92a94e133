import { UnrecoverableError, type Job } from 'bullmq'
import { Value } from 'typebox/value'
import type { Db } from '../../core/db/connect.js'
import { createGroupCommit } from '../../core/group-commit.js'
import type { Log } from '../../core/log.js'
import { MarkSeenPayloadSchema, type MarkSeenPayload } from '../../core/queue.js'
import { markSeenMany } from '../../core/rooms.js'

/**
 * Applies acknowledgements from the unseen feed: each room's watermark moves up to the acknowledged seq.
 * The API sends them in bulk, and jobs running at once are applied together, in one statement.
 */
export function createMarkSeen ({ db, log, maxBatch }: { db: Db, log: Log, maxBatch: number }) {
  const apply = createGroupCommit(async (payloads: MarkSeenPayload[]) => {
    await markSeenMany(db, payloads.flatMap((payload) => payload.acks))
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
