import { sql } from 'kysely'
import type { Db } from './db/connect.js'
import type { Message } from './db/schema.js'
import { messageFromJson } from './db/json-rows.js'
import { messageColumnList } from './db/message-columns.js'

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
  /**
   * The position this page was read from: the one asked for, cut back to what each of the user's rooms held (no seq
   * past the room's last, no change number past its last change), without the rooms the user is not in.
   */
  readFrom: Required<FeedPosition>
}

/**
 * One page of the feed, read in one statement (one snapshot) so that the items, the changes and the change numbers
 * agree: every change a page's messages already hold is at or below `changesUpTo`, and every later one comes once,
 * as a change. The user's rooms and watermarks are read in the same statement: a poll is one round trip. Plain
 * functions over the database, so any transport (long-poll, push) can serve the same feed.
 *
 * Items are ordered by message id: within one room ids grow with seq (both are taken under the room lock), so a
 * page holds, for each room, a gapless run from its watermark, and the page's highest seq per room is a safe ack.
 *
 * Whatever a position claims, the page is read from no further than each room held in this same snapshot: a cursor
 * never moves its reader past a message that did not exist yet, so none is skipped when it comes.
 */
export async function readUnseenPage (db: Db, userId: number, position: FeedPosition, limit: number): Promise<UnseenPage> {
  const changesAfter = position.changesAfter ?? new Map<number, number>()
  const { rows: [page] } = await sql<{ latest: LatestRow[] | null, items: Array<Record<string, unknown>> | null, changes: Array<Record<string, unknown>> | null }>`
    with w as (
      -- Each claim is cut back to what the room holds. A room the position does not name has no claim (least() alone
      -- would skip the null and make one).
      select rm.room_id, rm.last_read_seq as stored, r.last_change_seq,
        case when a.room_id is not null then least(a.seq, r.last_seq) end as seen_seq,
        case when c.room_id is not null then least(c.after_change, r.last_change_seq) end as after_change,
        greatest(rm.last_read_seq, least(coalesce(a.seq, 0), r.last_seq)) as up_to_seq
      from room_members rm
      join rooms r on r.id = rm.room_id
      left join unnest(${[...position.seenUpTo.keys()]}::bigint[], ${[...position.seenUpTo.values()]}::bigint[]) as a(room_id, seq)
        on a.room_id = rm.room_id
      left join unnest(${[...changesAfter.keys()]}::bigint[], ${[...changesAfter.values()]}::bigint[]) as c(room_id, after_change)
        on c.room_id = rm.room_id
      where rm.user_id = ${userId}
    ), items as (
      -- Each room gives at most limit rows, read along its (room_id, seq) index, so a page costs the same with 5 or
      -- 5,000 messages pending; within a room id order is seq order, so the first limit by id are among them.
      select m.* from w cross join lateral (
        select ${messageColumnList()} from messages
        where room_id = w.room_id and seq > w.up_to_seq and sender_id is distinct from ${userId} and deleted_at is null
        order by seq limit ${limit}
      ) as m
      order by m.id limit ${limit}
    ), changes as (
      -- A room without a change number yet has none: it starts at its current one.
      select ${messageColumnList('m')} from messages m join w on m.room_id = w.room_id and m.change_seq > w.after_change and m.seq <= w.up_to_seq
      where m.sender_id is distinct from ${userId} and (m.edited_at is not null or m.deleted_at is not null)
      order by m.room_id, m.change_seq limit ${limit + 1}
    )
    select
      (select json_agg(json_build_array(w.room_id, w.last_change_seq, w.stored, w.seen_seq, w.after_change)) from w) as latest,
      (select json_agg(i order by i.id) from items i) as items,
      (select json_agg(c order by c.room_id, c.change_seq) from changes c) as changes`.execute(db)
  const items = (page?.items ?? []).map(messageFromJson)
  const found = (page?.changes ?? []).map(messageFromJson)
  const changes = found.slice(0, limit)

  // A full page stops in one room: rooms before it are told everything, that room up to its last change given.
  const cut = found.length > limit ? changes.at(-1) : undefined
  const changesUpTo = new Map<number, number>()
  const watermarks = new Map<number, number>()
  const readFrom = { seenUpTo: new Map<number, number>(), changesAfter: new Map<number, number>() }
  for (const [roomId, last, stored, seenSeq, after] of page?.latest ?? []) {
    watermarks.set(roomId, stored)
    if (seenSeq !== null) readFrom.seenUpTo.set(roomId, seenSeq)
    if (after !== null) readFrom.changesAfter.set(roomId, after)
    if (after === null || cut === undefined || roomId < cut.room_id) changesUpTo.set(roomId, last)
    else changesUpTo.set(roomId, roomId === cut.room_id ? cut.change_seq : after)
  }
  return { items, changes, changesUpTo, watermarks, readFrom }
}

/** Per room of the user: its id, last change number and stored watermark, and the position's claims as cut back. */
type LatestRow = [roomId: number, lastChange: number, stored: number, seenSeq: number | null, afterChange: number | null]

/**
 * Whether a position claims more than its rooms hold: a seq past a room's last, or a change number past its last
 * change (a room that does not exist holds nothing). The server never makes such a position.
 */
export async function claimsBeyondRooms (db: Db, position: FeedPosition): Promise<boolean> {
  const changesAfter = position.changesAfter ?? new Map<number, number>()
  const { rows: [row] } = await sql<{ beyond: boolean }>`
    select exists (
      select from unnest(${[...position.seenUpTo.keys()]}::bigint[], ${[...position.seenUpTo.values()]}::bigint[]) as a(room_id, seq)
      left join rooms r on r.id = a.room_id
      where a.seq > coalesce(r.last_seq, 0)
    ) or exists (
      select from unnest(${[...changesAfter.keys()]}::bigint[], ${[...changesAfter.values()]}::bigint[]) as c(room_id, after_change)
      left join rooms r on r.id = c.room_id
      where c.after_change > coalesce(r.last_change_seq, 0)
    ) as beyond`.execute(db)
  return row?.beyond === true
}

/**
 * What is new in one room since the lowest position of the readers who asked, read once for all of them (an instance's
 * waiting polls, streams and sockets in that room) in one statement: the room's ends, the stored watermarks of those
 * readers who are still members, its messages past `fromSeq` (any sender's, deleted ones left out) and its edits and
 * deletes past `fromChange`, each list at most `limit` + 1 long, so a reader can tell when it was cut.
 */
export interface RoomRead {
  roomId: number
  fromSeq: number
  /** Undefined when no reader asked for changes (none held a change number for the room). */
  fromChange: number | undefined
  lastSeq: number
  lastChangeSeq: number
  /** The asking readers who are members now, with their stored read watermark. */
  members: Map<number, number>
  items: Message[]
  changes: Message[]
  limit: number
}

export async function readRoom (db: Db, roomId: number, asked: { fromSeq: number, fromChange: number | undefined, userIds: number[], limit: number }): Promise<RoomRead | undefined> {
  const { fromSeq, fromChange, userIds, limit } = asked
  const { rows: [row] } = await sql<{ last_seq: number, last_change_seq: number, members: Array<[number, number]> | null, items: Array<Record<string, unknown>> | null, changes: Array<Record<string, unknown>> | null }>`
    select r.last_seq, r.last_change_seq,
      (select json_agg(json_build_array(rm.user_id, rm.last_read_seq)) from room_members rm
        where rm.room_id = r.id and rm.user_id = any(${userIds}::bigint[])) as members,
      (select json_agg(m order by m.seq) from (
        select ${messageColumnList()} from messages where room_id = r.id and seq > ${fromSeq} and deleted_at is null order by seq limit ${limit + 1}
      ) as m) as items,
      (select json_agg(c order by c.change_seq) from (
        select ${messageColumnList()} from messages
        where room_id = r.id and change_seq > ${fromChange ?? null}::bigint and (edited_at is not null or deleted_at is not null)
        order by change_seq limit ${limit + 1}
      ) as c) as changes
    from rooms r where r.id = ${roomId}`.execute(db)
  if (row === undefined) return undefined
  return {
    roomId,
    fromSeq,
    fromChange,
    lastSeq: Number(row.last_seq),
    lastChangeSeq: Number(row.last_change_seq),
    members: new Map((row.members ?? []).map(([userId, stored]) => [Number(userId), Number(stored)])),
    items: (row.items ?? []).map(messageFromJson),
    changes: (row.changes ?? []).map(messageFromJson),
    limit
  }
}

/** What a reader knew after its last read of the whole feed: its position, cut back as read, and its rooms' watermarks. */
export interface KnownFeed {
  seenUpTo: ReadonlyMap<number, number>
  changesAfter: ReadonlyMap<number, number>
  watermarks: ReadonlyMap<number, number>
}

/** Where a reader needs a room read from: past its seq there (or its watermark), past its change number there. */
export function roomReadFrom (known: KnownFeed, roomId: number): { seq: number, change: number | undefined } {
  return {
    seq: Math.max(known.watermarks.get(roomId) ?? 0, known.seenUpTo.get(roomId) ?? 0),
    change: known.changesAfter.get(roomId)
  }
}

/**
 * The page `readUnseenPage` would give this reader if nothing but this room had changed since it knew `known`, made
 * from a room read shared with other readers: the same rules, applied here to the room's rows (the reader is still a
 * member; not its own messages; nothing deleted among the new ones; changes only of messages it has, in change order;
 * a claim cut back to the room's ends). Undefined when the read cannot answer for this reader (it left the room, or
 * the read was cut before what it needs): the reader then reads its whole feed.
 */
export function roomPageFor (read: RoomRead, userId: number, known: KnownFeed, limit: number): UnseenPage | undefined {
  const stored = read.members.get(userId)
  if (stored === undefined || limit > read.limit) return undefined
  const roomId = read.roomId
  const claim = known.seenUpTo.get(roomId)
  const seenSeq = claim === undefined ? undefined : Math.min(claim, read.lastSeq)
  const upTo = Math.max(stored, seenSeq ?? 0)
  const asked = known.changesAfter.get(roomId)
  const after = asked === undefined ? undefined : Math.min(asked, read.lastChangeSeq)
  if (upTo < read.fromSeq || (after !== undefined && (read.fromChange === undefined || after < read.fromChange))) return undefined

  const newer = read.items.filter((message) => message.seq > upTo && message.sender_id !== userId)
  // Cut: the messages past the read's last row are unknown, so only a full page of the ones before it is an answer.
  if (read.items.length > read.limit && newer.length < limit) return undefined
  const found = after === undefined ? [] : read.changes.filter((message) => message.change_seq > after && message.seq <= upTo && message.sender_id !== userId)
  if (read.changes.length > read.limit) return undefined
  const changes = found.slice(0, limit)
  const cut = found.length > limit ? changes.at(-1) : undefined

  const seenUpTo = new Map(known.seenUpTo)
  if (seenSeq === undefined) seenUpTo.delete(roomId)
  else seenUpTo.set(roomId, seenSeq)
  const changesAfter = new Map(known.changesAfter)
  if (after === undefined) changesAfter.delete(roomId)
  else changesAfter.set(roomId, after)
  return {
    items: newer.slice(0, limit),
    changes,
    changesUpTo: new Map(known.changesAfter).set(roomId, cut?.change_seq ?? read.lastChangeSeq),
    watermarks: new Map(known.watermarks).set(roomId, stored),
    readFrom: { seenUpTo, changesAfter }
  }
}
