import { sql, type Selectable } from 'kysely'
import { jsonObjectFrom } from 'kysely/helpers/postgres'
import type { Db } from './db/connect.js'
import { messageFromJson } from './db/json-rows.js'
import { messageColumns } from './db/message-columns.js'
import type { MessagesTable, RoomKind, RoomVisibility } from './db/schema.js'
import { pageOf } from './paging.js'

export interface RoomSummary {
  id: number
  kind: RoomKind
  name: string | null
  visibility: RoomVisibility | null
  created_at: Date
  member_ids: number[]
  owner_ids: number[]
  unread_count: number
  last_message: Selectable<MessagesTable> | null
}

/** A member's view of rooms: members, unread count (not sent by them, above their watermark), last message. */
function roomSummaries (db: Db, userId: number) {
  return db.selectFrom('room_members as rm')
    .innerJoin('rooms as r', 'r.id', 'rm.room_id')
    .where('rm.user_id', '=', userId)
    .select((eb) => [
      'r.id', 'r.kind', 'r.name', 'r.visibility', 'r.created_at',
      sql<number[]>`(select array_agg(user_id order by user_id) from room_members where room_id = r.id)`.as('member_ids'),
      sql<number[]>`(select coalesce(array_agg(user_id order by user_id), '{}') from room_members where room_id = r.id and role = 'owner')`.as('owner_ids'),
      eb.selectFrom('messages as m').select((eb) => eb.fn.countAll<number>().as('n'))
        .whereRef('m.room_id', '=', 'r.id').whereRef('m.seq', '>', 'rm.last_read_seq')
        .where(sql<boolean>`m.sender_id is distinct from ${userId}`).where('m.deleted_at', 'is', null)
        .as('unread_count'),
      jsonObjectFrom(eb.selectFrom('messages as m').select(messageColumns)
        .whereRef('m.room_id', '=', 'r.id').where('m.deleted_at', 'is', null)
        .orderBy('m.seq', 'desc').limit(1)).as('last_message')
    ])
}

export async function findRoomForMember (db: Db, roomId: number, userId: number): Promise<RoomSummary | undefined> {
  const row = await roomSummaries(db, userId).where('r.id', '=', roomId).executeTakeFirst()
  return row === undefined ? undefined : normalise(row)
}

export async function listRoomsForMember (db: Db, userId: number, afterId: number, limit: number): Promise<{ rows: RoomSummary[], hasMore: boolean }> {
  const page = pageOf(await roomSummaries(db, userId).where('r.id', '>', afterId).orderBy('r.id').limit(limit + 1).execute(), limit)
  return { rows: page.rows.map(normalise), hasMore: page.hasMore }
}

// JSON built by Postgres carries timestamps as strings and bigints as numbers; make them Dates again.
type RoomSummaryRow = Omit<RoomSummary, 'last_message' | 'unread_count'> & {
  unread_count: number | string | null
  last_message: Record<string, unknown> | null
}

function normalise (row: RoomSummaryRow): RoomSummary {
  const m = row.last_message
  return {
    ...row,
    unread_count: Number(row.unread_count),
    last_message: m === null ? null : messageFromJson(m)
  }
}

export interface PublicRoomRow { id: number, name: string, member_count: number, created_at: Date, joined: boolean }

/** Public group rooms in id order, with their member counts; `nameContains` filters by name in any letter case. */
export async function listPublicRooms (db: Db, input: { userId: number, afterId: number, limit: number, nameContains?: string }): Promise<{ rows: PublicRoomRow[], hasMore: boolean }> {
  let query = db.selectFrom('rooms as r')
    .select([
      'r.id', 'r.created_at',
      sql<string>`r.name`.as('name'),
      sql<number>`(select count(*) from room_members where room_id = r.id)::int`.as('member_count'),
      sql<boolean>`exists (select 1 from room_members where room_id = r.id and user_id = ${input.userId})`.as('joined')
    ])
    .where('r.visibility', '=', 'public').where('r.id', '>', input.afterId)
  if (input.nameContains !== undefined) {
    // strpos, not LIKE: a `%` or `_` in the search text is matched as itself.
    query = query.where(sql<boolean>`strpos(lower(r.name), lower(${input.nameContains})) > 0`)
  }
  return pageOf(await query.orderBy('r.id').limit(input.limit + 1).execute(), input.limit)
}

/** Whether a room is a public group room: listed for anyone, and anyone may join it. */
export async function isPublicRoom (db: Db, roomId: number): Promise<boolean> {
  const room = await db.selectFrom('rooms').select('id')
    .where('id', '=', roomId).where('kind', '=', 'group').where('visibility', '=', 'public').executeTakeFirst()
  return room !== undefined
}

/** A new group room's visibility when its creator does not say: public, as a new channel is in Slack or Zulip. */
export const defaultVisibility: RoomVisibility = 'public'

/** A group room; its creator is its first owner. */
export async function createGroupRoom (db: Db, input: { name: string, creatorId: number, memberIds: readonly number[], visibility?: RoomVisibility }): Promise<number> {
  return await db.transaction().execute(async (trx) => {
    const room = await trx.insertInto('rooms').values({ kind: 'group', name: input.name, created_by: input.creatorId, visibility: input.visibility ?? defaultVisibility })
      .returning('id').executeTakeFirstOrThrow()
    const members = [...new Set([input.creatorId, ...input.memberIds])]
    await trx.insertInto('room_members')
      .values(members.map((userId) => ({ room_id: room.id, user_id: userId, role: userId === input.creatorId ? 'owner' as const : 'member' as const })))
      .execute()
    return room.id
  })
}

/** The one direct room of a pair, created on first use; two first sends at once still make one room. */
export async function ensureDirectRoom (db: Db, userId: number, otherId: number): Promise<number> {
  const pair = [userId, otherId].sort((a, b) => a - b)
  const directKey = pair.join(':')
  // Looked up first: every direct send passes here, and an INSERT … ON CONFLICT spends a room id even when it inserts nothing.
  const existing = await db.selectFrom('rooms').select('id').where('direct_key', '=', directKey).executeTakeFirst()
  if (existing !== undefined) return existing.id
  return await db.transaction().execute(async (trx) => {
    const created = await trx.insertInto('rooms').values({ kind: 'direct', direct_key: directKey, created_by: userId })
      .onConflict((oc) => oc.column('direct_key').doNothing())
      .returning('id').executeTakeFirst()
    if (created === undefined) {
      const room = await trx.selectFrom('rooms').select('id').where('direct_key', '=', directKey).executeTakeFirstOrThrow()
      return room.id
    }
    await trx.insertInto('room_members').values(pair.map((id) => ({ room_id: created.id, user_id: id }))).execute()
    return created.id
  })
}

export async function updateGroupRoom (db: Db, roomId: number, change: { name?: string, visibility?: RoomVisibility }): Promise<void> {
  if (change.name === undefined && change.visibility === undefined) return
  await db.updateTable('rooms').set(change).where('id', '=', roomId).where('kind', '=', 'group').execute()
}
