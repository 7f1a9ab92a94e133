import { sql } from 'kysely'
import type { Db } from './db/connect.js'
import type { Message } from './db/schema.js'
import { listUnseen } from './messages.js'

/**
 * Where a client of the unseen feed stands. `seenUpTo`: per room, the seq up to which the user has the messages
 * (the watermark, raised by what the client acknowledged). `changesAfter`: per room, the change number up to which
 * the client was told of edits and deletes; a room without one starts at its current change number.
 */
export interface FeedPosition {
  seenUpTo: ReadonlyMap<number, number>
  changesAfter: ReadonlyMap<number, number>
}

export interface FeedPage {
  /** Unseen messages, oldest first, as they are now: an edit made before they came is already in them. */
  items: Message[]
  /** Edits and deletes, after `changesAfter`, of messages at or below `seenUpTo` (ones the client has), as they are now. */
  changes: Message[]
  /** Per room of the user, the change number this page brings the client up to: the next `changesAfter`. */
  changesUpTo: Map<number, number>
}

/**
 * One page of the feed, read in one snapshot so that the items, the changes and the change numbers agree: every
 * change a page's messages already hold is at or below `changesUpTo`, and every later one comes once as a change.
 * Plain functions over the database, so any transport (long-poll, push) can serve the same feed.
 */
export async function readFeed (db: Db, userId: number, position: FeedPosition, limit: number): Promise<FeedPage> {
  const roomIds = [...position.seenUpTo.keys()]
  if (roomIds.length === 0) return { items: [], changes: [], changesUpTo: new Map() }
  return await db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(async (trx) => {
    const rooms = await trx.selectFrom('rooms').select(['id', 'last_change_seq']).where('id', 'in', roomIds).execute()
    const latest = new Map(rooms.map((room) => [room.id, room.last_change_seq]))
    const items = await listUnseen(trx, userId, position.seenUpTo, limit)

    const known = roomIds.filter((roomId) => position.changesAfter.has(roomId) && latest.has(roomId))
    const { rows } = known.length === 0
      ? { rows: [] as Message[] }
      : await sql<Message>`
        select m.* from messages m
        join unnest(${known}::bigint[], ${known.map((id) => position.seenUpTo.get(id) ?? 0)}::bigint[],
          ${known.map((id) => position.changesAfter.get(id) ?? 0)}::bigint[]) as w(room_id, up_to_seq, after_change)
          on m.room_id = w.room_id and m.change_seq > w.after_change and m.seq <= w.up_to_seq
        where m.sender_id is distinct from ${userId} and (m.edited_at is not null or m.deleted_at is not null)
        order by m.room_id, m.change_seq
        limit ${limit + 1}`.execute(trx)
    const changes = rows.slice(0, limit)

    // A full page stops in one room: rooms before it are told everything, that room up to its last change given.
    const cut = rows.length > limit ? changes.at(-1) : undefined
    const changesUpTo = new Map<number, number>()
    for (const [roomId, last] of latest) {
      const after = position.changesAfter.get(roomId)
      if (after === undefined || cut === undefined || roomId < cut.room_id) changesUpTo.set(roomId, last)
      else changesUpTo.set(roomId, roomId === cut.room_id ? cut.change_seq : after)
    }
    return { items, changes, changesUpTo }
  })
}
