import type { Db } from '../core/db/connect.js'
import type { Message } from '../core/db/schema.js'
import { claimsBeyondRooms, readUnseenPage, type FeedPosition, type UnseenPage } from '../core/unseen-feed.js'
import type { Cursors } from './cursor.js'
import { invalidCursor } from './errors.js'
import { longPoll } from './long-poll.js'
import type { Waiters } from './waiters.js'

/**
 * The unseen feed, written once for every way of reading it: a long poll, a Server-Sent Events stream and a
 * WebSocket. Each reader keeps a position (per room: the highest seq it was given, and the change number up to
 * which it was told of edits and deletes) and passes it back; what a position acknowledges counts as seen at once
 * and is handed to a worker.
 */

export interface FeedDeps {
  db: Db
  /** Waiters on a user's feed, woken by the wake-ups of every API process. */
  feeds: Waiters<number>
  /** Counts each query, for the channel's metric. */
  reads: { inc: () => void }
  /** Hands acknowledgements (room → seq) to a worker, in bulk (api/acknowledgements.ts). */
  acknowledge: (userId: number, seenUpTo: ReadonlyMap<number, number>) => void
}

export interface FeedRead {
  userId: number
  /** What the reader already holds: the cursor it passed (or, in a stream, everything sent so far). */
  position: FeedPosition
  /** Hand `position.seenUpTo` to a worker as an acknowledgement (a client passed it back), or only read past it. */
  acknowledge: boolean
  limit: number
  /** Seconds to wait for something new when nothing is unseen; 0 answers at once. */
  wait: number
  signal: AbortSignal
}

/**
 * Where a reader starts: the position its cursor holds, or the start without one. A cursor from before cursors were
 * sealed is still taken while it claims nothing its rooms did not hold; one that does was not made by the server,
 * and is refused as malformed rather than acknowledging everything up to where the rooms are now.
 */
export async function startingPosition (deps: { db: Db, cursors: Cursors }, userId: number, cursor: string | undefined): Promise<FeedPosition> {
  const { position, trusted } = deps.cursors.openFeed(userId, cursor)
  if (!trusted && await claimsBeyondRooms(deps.db, position)) throw invalidCursor()
  return position
}

/**
 * How long a push channel waits on its feed before reading it again anyway. Wake-ups end a wait at once; this only
 * bounds what a lost one could delay. Heartbeats run on their own timer, so idle channels cost no queries.
 */
export const idleRereadSeconds = 300

/**
 * One event of the feed, and the position that acknowledges it and everything before it: a new message, or an edit
 * or a delete of one the reader already has (the message as it is now).
 */
export interface FeedEvent {
  type: 'message.created' | 'message.edited' | 'message.deleted'
  message: Message
  position: Required<FeedPosition>
}

export interface FeedResult {
  /** Changes first, then new messages: so a reader resuming from any event's position misses nothing. */
  events: FeedEvent[]
  /**
   * The position after the last event. With no events, the one passed in as far as the rooms held it (so an unchanged
   * cursor seals to the same text), the user's rooms it did not cover at their current change numbers.
   */
  position: Required<FeedPosition>
}

/** The acknowledgements (room → seq) that the stored watermarks of the user's rooms do not hold yet. */
function unapplied (acked: ReadonlyMap<number, number>, stored: Map<number, number>): Map<number, number> {
  return new Map([...acked].filter(([roomId, seq]) => stored.has(roomId) && seq > (stored.get(roomId) ?? 0)))
}

/**
 * Reads what is unseen (and what changed) past `position`, waiting up to `wait` seconds when there is nothing.
 * Membership is read at every query, so a room the user left gives nothing more, and a room just joined is included.
 */
export async function readFeed (deps: FeedDeps, read: FeedRead): Promise<FeedResult> {
  const { db } = deps
  let seenUpTo = read.position.seenUpTo
  let changesAfter: ReadonlyMap<number, number> = new Map(read.position.changesAfter ?? [])
  let passedChangesAfter: ReadonlyMap<number, number> | undefined

  const result = await longPoll({
    waiters: deps.feeds,
    key: read.userId,
    seconds: read.wait,
    signal: read.signal,
    ready: ({ page }) => page.items.length > 0 || page.changes.length > 0,
    query: async () => {
      // One statement reads the user's rooms and watermarks with the page, at every query: after a wake-up (a join
      // or a leave, say) the rooms are the current ones. What the position acknowledges counts as seen at once.
      deps.reads.inc()
      const page = await readUnseenPage(db, read.userId, { seenUpTo, changesAfter }, read.limit)
      // From the first read on, the position is the one cut back to what the rooms held then: taken again later, a
      // claim past a room's end would reach the messages that came since, and skip them.
      seenUpTo = page.readFrom.seenUpTo
      const pending = unapplied(seenUpTo, page.watermarks)
      if (passedChangesAfter === undefined) {
        passedChangesAfter = page.readFrom.changesAfter
        // Handed to a worker before any wait, so unread counts move on at once, not after it.
        if (read.acknowledge) deps.acknowledge(read.userId, pending)
      }
      // Nothing for me up to these change numbers: a read woken later asks only for what came after them.
      if (page.items.length === 0 && page.changes.length === 0) changesAfter = page.changesUpTo
      return { pending, page }
    }
  })

  const { page, pending } = result
  if (page.items.length === 0 && page.changes.length === 0) {
    const passed = passedChangesAfter ?? new Map<number, number>()
    const covering = new Map([...page.changesUpTo].map(([roomId, upTo]) => [roomId, passed.get(roomId) ?? upTo]))
    return { events: [], position: { seenUpTo: new Map(page.readFrom.seenUpTo), changesAfter: covering } }
  }
  return { events: toEvents(page, pending), position: positionAfter(page, pending) }
}

/** The position after a whole page: every message it gave, every change it told (up to where a full page stopped). */
function positionAfter (page: UnseenPage, pending: Map<number, number>): Required<FeedPosition> {
  const seenUpTo = new Map(pending)
  for (const message of page.items) seenUpTo.set(message.room_id, Math.max(seenUpTo.get(message.room_id) ?? 0, message.seq))
  return { seenUpTo, changesAfter: new Map(page.changesUpTo) }
}

/**
 * A page as events, each with the position that acknowledges it. Changes (in room, change-number order) come first:
 * after one, its room is told up to it, the rooms before it up to the page's end, the rooms after it as asked. Then
 * the new messages, each raising its room's seq; they already hold every change up to the page's change numbers.
 */
function toEvents (page: UnseenPage, pending: Map<number, number>): FeedEvent[] {
  const events: FeedEvent[] = page.changes.map((message) => {
    const changesAfter = new Map([...page.changesUpTo].map(([roomId, upTo]) => {
      const asked = page.readFrom.changesAfter.get(roomId)
      if (roomId < message.room_id || asked === undefined) return [roomId, upTo]
      return [roomId, roomId === message.room_id ? message.change_seq : asked]
    }))
    return { type: message.deleted_at === null ? 'message.edited' : 'message.deleted', message, position: { seenUpTo: new Map(pending), changesAfter } }
  })
  const seenUpTo = new Map(pending)
  for (const message of page.items) {
    seenUpTo.set(message.room_id, Math.max(seenUpTo.get(message.room_id) ?? 0, message.seq))
    events.push({ type: 'message.created', message, position: { seenUpTo: new Map(seenUpTo), changesAfter: new Map(page.changesUpTo) } })
  }
  return events
}
