import { UnrecoverableError, type Job } from 'bullmq'
import { Value } from 'typebox/value'
import type { Db } from '../../core/db/connect.js'
import type { Log } from '../../core/log.js'
import { MarkSeenPayloadSchema, type MarkSeenPayload } from '../../core/queue.js'
import { markSeenUpTo } from '../../core/rooms.js'

/** Applies an acknowledgement from the unseen feed: each room's watermark moves up to the acknowledged seq. */
export function createMarkSeen ({ db, log }: { db: Db, log: Log }) {
  return async (job: Job<MarkSeenPayload>): Promise<{ rooms: number }> => {
    if (!Value.Check(MarkSeenPayloadSchema, job.data)) {
      throw new UnrecoverableError('INVALID_PAYLOAD: the job does not carry a valid acknowledgement')
    }
    const { userId, seenUpTo, requestId } = job.data
    const watermarks = new Map(Object.entries(seenUpTo).map(([roomId, seq]) => [Number(roomId), seq]))
    const moved = await markSeenUpTo(db, userId, watermarks)
    log.debug({ reqId: requestId, userId, rooms: moved.size }, 'messages marked seen')
    return { rooms: moved.size }
  }
}
