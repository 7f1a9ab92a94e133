import { createGroupCommit } from '../core/group-commit.js'
import type { Log } from '../core/log.js'
import { addWithin, type Queues } from '../core/queue.js'
import { isConnected } from '../core/redis.js'

/**
 * Acknowledgements from the unseen feed, handed to a worker in bulk: those that arrive while one job is being
 * added go together in the next job, so a feed of many small polls costs a job per batch, not one per poll.
 *
 * Nothing here needs to be kept: a client's cursor holds what it acknowledged and the feed already counts it as
 * seen, so an acknowledgement lost with Redis or with this process is simply made again by the next poll.
 */
export function createAcknowledgements (queues: Queues, log: Log) {
  const enqueue = createGroupCommit(async (acks: Array<{ userId: number, roomId: number, seq: number }>) => {
    if (isConnected(queues.connection)) {
      // Acknowledgements are idempotent (watermarks only move forward), so a slow add may finish in the background.
      await addWithin(queues.markSeen.add('mark-seen', { acks }), 2000)
        .catch((error: unknown) => log.warn({ err: error, acks: acks.length }, 'could not enqueue acknowledgements; the cursors keep them'))
    }
    return acks.map(() => undefined)
  }, { maxBatch: 1000 })

  /** Hands the user's acknowledgements (room → seq) to a worker soon, without holding the caller. */
  return function acknowledge (userId: number, seenUpTo: ReadonlyMap<number, number>): void {
    // The batch's write logs its own failure and never rejects; the catch only keeps the promise from floating.
    for (const [roomId, seq] of seenUpTo) enqueue({ userId, roomId, seq }).catch(() => {})
  }
}
