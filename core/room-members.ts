import { sql } from 'kysely'
import type { Db } from './db/connect.js'
import type { MemberRole, RoomKind, RoomVisibility } from './db/schema.js'
import { pageOf } from './paging.js'

/** The caller's place in a room: its kind and the caller's role; undefined when the caller is not a member. */
export async function membershipOf (db: Db, roomId: number, userId: number): Promise<{ kind: RoomKind, role: MemberRole } | undefined> {
  return await db.selectFrom('room_members as rm').innerJoin('rooms as r', 'r.id', 'rm.room_id')
    .select(['r.kind', 'rm.role']).where('rm.room_id', '=', roomId).where('rm.user_id', '=', userId).executeTakeFirst()
}

/** Makes a member an owner; false when the user is not a member. */
export async function grantOwner (db: Db, roomId: number, userId: number): Promise<boolean> {
  const updated = await db.updateTable('room_members').set({ role: 'owner' })
    .where('room_id', '=', roomId).where('user_id', '=', userId).returning('user_id').executeTakeFirst()
  return updated !== undefined
}

export async function updateGroupRoom (db: Db, roomId: number, change: { name?: string, visibility?: RoomVisibility }): Promise<void> {
  if (change.name === undefined && change.visibility === undefined) return
  await db.updateTable('rooms').set(change).where('id', '=', roomId).where('kind', '=', 'group').execute()
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
