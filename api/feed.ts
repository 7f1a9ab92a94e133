import type { Db } from '../core/db/connect.js'
import type { Message } from '../core/db/schema.js'
import { claimsBeyondRooms, readUnseenPage, roomPageFor, roomReadFrom, type FeedPosition, type KnownFeed, type UnseenPage } from '../core/unseen-feed.js'
import type { Cursors } from './cursor.js'
import { invalidCursor } from './errors.js'
import type { FeedWatch, ParkedReader } from './feed-watches.js'
import type { RoomReads } from './room-reads.js'

/**
 * The unseen feed, written once for every way of reading it: a long poll, a Server-Sent Events stream and a
 * WebSocket. Each reader keeps a position (per room: the highest seq it was given, and the change number up to
 * which it was told of edits and deletes) and passes it back; what a position acknowledges counts as seen at once
 * and is handed to a worker.
 */

export interface FeedDeps {
  db: Db
  /** Counts each whole-feed query, for the channel's metric. */
  reads: { inc: () => void }
  /** Hands acknowledgements (room → seq) to a worker, in bulk (api/acknowledgements.ts). */
  acknowledge: (userId: number, seenUpTo: ReadonlyMap<number, number>) => void
  /** A room's news read once for all the readers it woke here; without it each reader reads its whole feed. */
  roomReads?: RoomReads
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
  /** The reader's registration for wake-ups: a long poll's own, or a push channel's for as long as it is open; none when it does not wait. */
  watch?: FeedWatch
  /**
   * A push channel's sink for the events a room read shared with other readers finds for it while it waits: called
   * synchronously, in the pass that hands the read to every reader it woke here, and the channel waits on from the
   * position after them. Without it (a long poll) such an answer ends the wait and is returned.
   */
  deliver?: (events: FeedEvent[]) => void
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
 * Membership is read at every whole-feed query, so a room the user left gives nothing more, and a room just joined is
 * included. A wake-up about one room (a message, an edit) reads only that room, once for every reader it woke here,
 * and a reader that was waiting takes its part without resuming (a push channel's events go out through `deliver`);
 * anything else, or a room read that cannot answer, reads the whole feed. A push channel that comes back with the
 * position its last answer gave, that answer not cut by `limit`, waits before it reads: its watch has been registered
 * all along, so whatever came since woke it.
 */
export async function readFeed (deps: FeedDeps, read: FeedRead): Promise<FeedResult> {
  const { db, roomReads } = deps
  const { watch, userId, limit } = read
  const deadline = Date.now() + read.wait * 1000
  let seenUpTo = read.position.seenUpTo
  let changesAfter: ReadonlyMap<number, number> = new Map(read.position.changesAfter ?? [])
  let known = watch?.resume(read.position)
  let passedChangesAfter: ReadonlyMap<number, number> | undefined = known === undefined ? undefined : changesAfter

  // What a page leaves the reader knowing, when it found nothing: the next read asks only for what came after.
  const found = (page: UnseenPage) => {
    seenUpTo = page.readFrom.seenUpTo
    const pending = unapplied(seenUpTo, page.watermarks)
    // Nothing for me up to these change numbers: a read woken later asks only for what came after them.
    if (!hasNews(page)) changesAfter = page.changesUpTo
    known = { seenUpTo, changesAfter, watermarks: page.watermarks }
    return { pending, page }
  }

  // One statement reads the user's rooms and watermarks with the page: after a wake-up (a join or a leave, say) the
  // rooms are the current ones. What the position acknowledges counts as seen at once.
  const readAll = async () => {
    for (;;) {
      const mark = watch?.take().mark ?? 0
      deps.reads.inc()
      const page = await readUnseenPage(db, userId, { seenUpTo, changesAfter }, limit)
      if (passedChangesAfter === undefined) {
        passedChangesAfter = page.readFrom.changesAfter
        // Handed to a worker before any wait, so unread counts move on at once, not after it.
        if (read.acknowledge) deps.acknowledge(userId, unapplied(page.readFrom.seenUpTo, page.watermarks))
      }
      // From the first read on, the position is the one cut back to what the rooms held then: taken again later, a
      // claim past a room's end would reach the messages that came since, and skip them.
      const result = found(page)
      // A room whose channel was not subscribed before this read began may have had news during it: read again.
      if (watch === undefined || !await watch.cover(page.watermarks.keys(), mark)) return result
    }
  }

  // The wake-ups were taken just before: this reads the one room they name.
  const readRoomOf = async (roomId: number, knownFeed: KnownFeed) => {
    const from = roomReadFrom(knownFeed, roomId)
    const shared = await roomReads?.read(roomId, { userId, seq: from.seq, change: from.change, limit })
    const page = shared === undefined ? undefined : roomPageFor(shared, userId, knownFeed, limit)
    return page === undefined ? await readAll() : found(page)
  }

  let result: ReturnType<typeof found> | undefined

  // While it waits, a wake-up about one of its rooms is answered from that room's read, shared with every reader the
  // wake-up reached here, in the one synchronous pass that hands the read to them all: no reader resumes for it. A push
  // channel sends its events there and then, and waits on as if it had come back with the position after them.
  const parkedOn = (rooms: RoomReads): ParkedReader => ({
    ask (roomId, take) {
      if (known === undefined) {
        take(undefined)
        return
      }
      const from = roomReadFrom(known, roomId)
      rooms.ask(roomId, { userId, seq: from.seq, change: from.change, limit }, take)
    },
    answer (shared) {
      const page = shared === undefined || known === undefined ? undefined : roomPageFor(shared, userId, known, limit)
      if (page === undefined) return 'read'
      const answer = found(page)
      if (!hasNews(page) || read.deliver === undefined) {
        result = answer
        return hasNews(page) ? 'answered' : 'kept'
      }
      const position = positionAfter(page, answer.pending)
      result = undefined
      seenUpTo = position.seenUpTo
      changesAfter = position.changesAfter
      passedChangesAfter = position.changesAfter
      known = { ...position, watermarks: page.watermarks }
      read.deliver(toEvents(page, answer.pending))
      // A full page: what it left out is read at once.
      return isCut(page, limit) ? 'read' : 'kept'
    }
  })
  const parked = roomReads === undefined ? undefined : parkedOn(roomReads)

  if (known === undefined) await watch?.ready()
  if (known === undefined) result = await readAll()
  for (;;) {
    if (result !== undefined && hasNews(result.page)) break
    const remaining = deadline - Date.now()
    if (watch === undefined || remaining <= 0) break
    if (await watch.wait(remaining, read.signal, known === undefined ? undefined : parked) !== 'woken') break
    // Answered while it waited (a long poll).
    if (result !== undefined && hasNews(result.page)) break
    const wakes = watch.take()
    const [roomId] = wakes.rooms
    result = !wakes.full && wakes.rooms.size === 1 && roomId !== undefined && known !== undefined && roomReads !== undefined
      ? await readRoomOf(roomId, known)
      : await readAll()
  }

  if (result === undefined) return { events: [], position: { seenUpTo: new Map(seenUpTo), changesAfter: new Map(changesAfter) } }
  const { page, pending } = result
  if (!hasNews(page)) {
    const passed = passedChangesAfter ?? new Map<number, number>()
    const covering = new Map([...page.changesUpTo].map(([roomId, upTo]) => [roomId, passed.get(roomId) ?? upTo]))
    return { events: [], position: { seenUpTo: new Map(page.readFrom.seenUpTo), changesAfter: covering } }
  }
  const position = positionAfter(page, pending)
  // A page that was not cut told everything up to its position: the next read there may wait first.
  if (!isCut(page, limit)) watch?.keep(position, { ...position, watermarks: page.watermarks })
  return { events: toEvents(page, pending), position }
}

function hasNews (page: UnseenPage): boolean {
  return page.items.length > 0 || page.changes.length > 0
}

/** A page as long as the limit: there may be more past it. */
function isCut (page: UnseenPage, limit: number): boolean {
  return page.items.length >= limit || page.changes.length >= limit
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
