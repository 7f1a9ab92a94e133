import type { Log } from '../core/log.js'
import { addWithin, type Queues } from '../core/queue.js'
import { isConnected } from '../core/redis.js'

/** How long acknowledgements gather before they go to a worker together: short beside any poll's wait. */
const gatherMs = 50

/**
 * Acknowledgements from the unseen feed, handed to a worker in bulk: those that arrive within `gatherMs` of each
 * other go in one job, so a feed of many small polls costs a job per batch, not one per poll.
 *
 * Nothing here needs to be kept: a client's cursor holds what it acknowledged and the feed already counts it as
 * seen, so an acknowledgement lost with Redis or with this process is simply made again by the next poll.
 */
export function createAcknowledgements (queues: Queues, log: Log) {
  let gathered: Array<{ userId: number, roomId: number, seq: number }> = []
  let timer: NodeJS.Timeout | undefined

  async function handOver (): Promise<void> {
    const acks = gathered
    gathered = []
    timer = undefined
    if (!isConnected(queues.connection)) return
    // Acknowledgements are idempotent (watermarks only move forward), so a slow add may finish in the background.
    await addWithin(queues.markSeen.add('mark-seen', { acks }), 2000)
      .catch((error: unknown) => log.warn({ err: error, acks: acks.length }, 'could not enqueue acknowledgements; the cursors keep them'))
  }

  /** Hands the user's acknowledgements (room → seq) to a worker soon, without holding the caller. */
  return function acknowledge (userId: number, seenUpTo: ReadonlyMap<number, number>): void {
    for (const [roomId, seq] of seenUpTo) gathered.push({ userId, roomId, seq })
    // handOver logs its own failure and never rejects.
    // Unref'd: a process stopping in between loses nothing a cursor does not hold.
    if (gathered.length > 0 && timer === undefined) timer = setTimeout(() => { handOver().catch(() => {}) }, gatherMs).unref()
  }
}
