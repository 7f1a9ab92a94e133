import { sql } from 'kysely'
import type { Db } from './db/connect.js'
import type { Message } from './db/schema.js'
import { messageFromJson } from './db/json-rows.js'

/**
 * Where a reader of the unseen feed stands (what its cursor holds). `seenUpTo`: per room, the highest seq the reader
 * has; the user has the messages up to the higher of that and the stored read watermark. `changesAfter`: per
 * room, the change number up to which the reader was told of edits and deletes; a room without one starts at its
 * current change number, and so does every room when there is none at all (a cursor from before changes were told).
 */
export interface FeedPosition {
  seenUpTo: ReadonlyMap<number, number>
  changesAfter?: ReadonlyMap<number, number>
}

export interface UnseenPage {
  /** Unseen messages, oldest first, as they are now: an edit made before they came is already in them. */
  items: Message[]
  /** Edits and deletes, after `changesAfter`, of messages at or below `seenUpTo` (ones the client has), as they are now. */
  changes: Message[]
  /** Per room of the user, the change number this page brings the client up to: the next `changesAfter`. */
  changesUpTo: Map<number, number>
  /** The user's rooms, each with its stored read watermark, as this page found them. */
  watermarks: Map<number, number>
}

/**
 * One page of the feed, read in one statement (one snapshot) so that the items, the changes and the change numbers
 * agree: every change a page's messages already hold is at or below `changesUpTo`, and every later one comes once,
 * as a change. The user's rooms and watermarks are read in the same statement: a poll is one round trip. Plain
 * functions over the database, so any transport (long-poll, push) can serve the same feed.
 *
 * Items are ordered by message id: within one room ids grow with seq (both are taken under the room lock), so a
 * page holds, for each room, a gapless run from its watermark, and the page's highest seq per room is a safe ack.
 */
export async function readUnseenPage (db: Db, userId: number, position: FeedPosition, limit: number): Promise<UnseenPage> {
  const changesAfter = position.changesAfter ?? new Map<number, number>()
  const { rows: [page] } = await sql<{ latest: Array<[number, number, number]> | null, items: Array<Record<string, unknown>> | null, changes: Array<Record<string, unknown>> | null }>`
    with w as (
      select rm.room_id, rm.last_read_seq as stored, greatest(rm.last_read_seq, coalesce(a.seq, 0)) as up_to_seq, c.after_change
      from room_members rm
      left join unnest(${[...position.seenUpTo.keys()]}::bigint[], ${[...position.seenUpTo.values()]}::bigint[]) as a(room_id, seq)
        on a.room_id = rm.room_id
      left join unnest(${[...changesAfter.keys()]}::bigint[], ${[...changesAfter.values()]}::bigint[]) as c(room_id, after_change)
        on c.room_id = rm.room_id
      where rm.user_id = ${userId}
    ), items as (
      -- Each room gives at most limit rows, read along its (room_id, seq) index, so a page costs the same with 5 or
      -- 5,000 messages pending; within a room id order is seq order, so the first limit by id are among them.
      select m.* from w cross join lateral (
        select * from messages
        where room_id = w.room_id and seq > w.up_to_seq and sender_id is distinct from ${userId} and deleted_at is null
        order by seq limit ${limit}
      ) as m
      order by m.id limit ${limit}
    ), changes as (
      -- A room without a change number yet has none: it starts at its current one.
      select m.* from messages m join w on m.room_id = w.room_id and m.change_seq > w.after_change and m.seq <= w.up_to_seq
      where m.sender_id is distinct from ${userId} and (m.edited_at is not null or m.deleted_at is not null)
      order by m.room_id, m.change_seq limit ${limit + 1}
    )
    select
      (select json_agg(json_build_array(r.id, r.last_change_seq, w.stored)) from rooms r join w on r.id = w.room_id) as latest,
      (select json_agg(i order by i.id) from items i) as items,
      (select json_agg(c order by c.room_id, c.change_seq) from changes c) as changes`.execute(db)
  const items = (page?.items ?? []).map(messageFromJson)
  const found = (page?.changes ?? []).map(messageFromJson)
  const changes = found.slice(0, limit)

  // A full page stops in one room: rooms before it are told everything, that room up to its last change given.
  const cut = found.length > limit ? changes.at(-1) : undefined
  const changesUpTo = new Map<number, number>()
  const watermarks = new Map<number, number>()
  for (const [roomId, last, stored] of page?.latest ?? []) {
    watermarks.set(roomId, stored)
    const after = changesAfter.get(roomId)
    if (after === undefined || cut === undefined || roomId < cut.room_id) changesUpTo.set(roomId, last)
    else changesUpTo.set(roomId, roomId === cut.room_id ? cut.change_seq : after)
  }
  return { items, changes, changesUpTo, watermarks }
}
