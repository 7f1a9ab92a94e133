import type { FastifyBaseLogger } from 'fastify'
import type { Db } from '../core/db/connect.js'
import type { Message } from '../core/db/schema.js'
import { listUnseen } from '../core/messages.js'
import { addWithin, type Queues } from '../core/queue.js'
import { isConnected } from '../core/redis.js'
import { watermarksOf } from '../core/rooms.js'
import { longPoll } from './long-poll.js'
import type { Waiters } from './waiters.js'

/**
 * The unseen feed, written once for every way of reading it: a long poll, a Server-Sent Events stream and a
 * WebSocket. Each reader keeps a cursor (room → highest seq it was given) and passes it back; what a cursor
 * acknowledges counts as seen at once and is handed to a worker.
 */

export interface FeedDeps {
  db: Db
  queues: Queues
  /** Waiters on a user's feed, woken by the wake-ups of every API process. */
  feeds: Waiters<number>
  log: FastifyBaseLogger
}

export interface FeedRead {
  userId: number
  /** What the reader already holds: the cursor it passed (or, in a stream, everything sent so far). */
  seenUpTo: ReadonlyMap<number, number>
  /** Hand `seenUpTo` to a worker as an acknowledgement (a client passed it back), or only read past it. */
  acknowledge: boolean
  limit: number
  /** Seconds to wait for something new when nothing is unseen; 0 answers at once. */
  wait: number
  signal: AbortSignal
  requestId: string
}

/**
 * How long a push channel waits on its feed before reading it again anyway. Wake-ups end a wait at once; this only
 * bounds what a lost one could delay. Heartbeats run on their own timer, so idle channels cost no queries.
 */
export const idleRereadSeconds = 300

/** One event of the feed: what happened, and the cursor that acknowledges it and everything before it. */
export type FeedEvent = { type: 'message.created', message: Message, seenUpTo: Map<number, number> }

export interface FeedPage {
  events: FeedEvent[]
  /** The cursor after the last event; what was passed in when there was none. */
  seenUpTo: Map<number, number>
}

/** The acknowledgements (room → seq) that the stored watermarks of the user's rooms do not hold yet. */
function unapplied (acked: ReadonlyMap<number, number>, stored: Map<number, number>): Map<number, number> {
  return new Map([...acked].filter(([roomId, seq]) => stored.has(roomId) && seq > (stored.get(roomId) ?? 0)))
}

/**
 * Hands acknowledgements the database does not hold yet to a worker. If Redis is away they stay in the
 * cursor and go again with the next read, so nothing is lost and nothing is marked seen early.
 */
async function acknowledge (deps: FeedDeps, read: FeedRead, pending: Map<number, number>): Promise<void> {
  if (pending.size === 0 || !isConnected(deps.queues.connection)) return
  const add = deps.queues.markSeen.add('mark-seen', { userId: read.userId, seenUpTo: Object.fromEntries(pending), requestId: read.requestId })
  // Acknowledgements are idempotent (watermarks only move forward), so a slow add may finish in the background.
  await addWithin(add, 2000)
    .catch((error: unknown) => deps.log.warn({ err: error }, 'could not enqueue an acknowledgement; the cursor keeps it'))
}

/**
 * Reads what is unseen past `seenUpTo`, waiting up to `wait` seconds when there is nothing. Membership is
 * read at every query, so a room the user left gives nothing more, and a room just joined is included.
 */
export async function readFeed (deps: FeedDeps, read: FeedRead): Promise<FeedPage> {
  const { db } = deps
  // Hand the acknowledgement to a worker before waiting, so unread counts move on at once, not after the wait.
  let watermarks: Map<number, number> | undefined = await watermarksOf(db, read.userId)
  if (read.acknowledge) await acknowledge(deps, read, unapplied(read.seenUpTo, watermarks))

  const result = await longPoll({
    waiters: deps.feeds,
    key: read.userId,
    seconds: read.wait,
    signal: read.signal,
    ready: (page) => page.items.length > 0,
    query: async () => {
      // The first query reuses the watermarks just read; after a wake-up (a join or a leave, say) they are read again.
      const stored = watermarks ?? await watermarksOf(db, read.userId)
      watermarks = undefined
      // What the cursor holds counts as seen now, whether or not a worker has applied it yet.
      const pending = unapplied(read.seenUpTo, stored)
      const effective = new Map([...stored].map(([roomId, seq]) => [roomId, Math.max(seq, pending.get(roomId) ?? 0)]))
      return { pending, items: await listUnseen(db, read.userId, effective, read.limit) }
    }
  })

  const seenUpTo = new Map(result.pending)
  const events = result.items.map((message): FeedEvent => {
    seenUpTo.set(message.room_id, Math.max(seenUpTo.get(message.room_id) ?? 0, message.seq))
    return { type: 'message.created', message, seenUpTo: new Map(seenUpTo) }
  })
  return { events, seenUpTo: events.length === 0 ? new Map(read.seenUpTo) : seenUpTo }
}
