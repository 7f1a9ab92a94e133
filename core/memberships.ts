import { sql } from 'kysely'
import type { Db } from './db/connect.js'
import type { MemberRole, RoomKind } from './db/schema.js'
import { isPublicRoom } from './rooms.js'

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

export type JoinOutcome = 'joined' | 'already-member' | 'not-found'

/** Joins a public group room; a new member starts with the room's history already seen. A private room is not found. */
export async function joinGroupRoom (db: Db, roomId: number, userId: number): Promise<JoinOutcome> {
  // A member of a private room is in already; anyone else may not learn it exists.
  if (!await isPublicRoom(db, roomId)) return 'not-found'
  return await addToGroupRoom(db, roomId, userId)
}

/** Adds a user to a group room (whatever its visibility: the caller decided they may), history counted as seen. */
export async function addToGroupRoom (db: Db, roomId: number, userId: number): Promise<JoinOutcome> {
  const inserted = await db.insertInto('room_members')
    .values({ room_id: roomId, user_id: userId, last_read_seq: sql`(select last_seq from rooms where id = ${roomId})` })
    .onConflict((oc) => oc.columns(['room_id', 'user_id']).doNothing())
    .returning('user_id').executeTakeFirst()
  return inserted === undefined ? 'already-member' : 'joined'
}

export type LeaveOutcome = 'left' | 'not-member' | 'direct'

export async function leaveRoom (db: Db, roomId: number, userId: number): Promise<LeaveOutcome> {
  const room = await db.selectFrom('rooms as r').innerJoin('room_members as rm', 'rm.room_id', 'r.id')
    .select('r.kind').where('r.id', '=', roomId).where('rm.user_id', '=', userId).executeTakeFirst()
  if (room === undefined) return 'not-member'
  if (room.kind === 'direct') return 'direct'
  await removeFromGroupRoom(db, roomId, userId)
  return 'left'
}

/**
 * Takes a user out of a group room. A room is never left without an owner while it has members: when its last owner
 * goes, its longest-standing member becomes one.
 */
export async function removeFromGroupRoom (db: Db, roomId: number, userId: number): Promise<boolean> {
  return await db.transaction().execute(async (trx) => {
    // Under the room's lock, so two owners leaving at once cannot both see the other one stay.
    await trx.selectFrom('rooms').select('id').where('id', '=', roomId).forUpdate().execute()
    const removed = await trx.deleteFrom('room_members').where('room_id', '=', roomId).where('user_id', '=', userId)
      .returning('role').executeTakeFirst()
    if (removed?.role === 'owner') {
      await sql`
        update room_members set role = 'owner'
        where room_id = ${roomId}
          and not exists (select 1 from room_members where room_id = ${roomId} and role = 'owner')
          and user_id = (select user_id from room_members where room_id = ${roomId} order by joined_at, user_id limit 1)`.execute(trx)
    }
    return removed !== undefined
  })
}

/** How many members a room has, when the user is one of them; undefined when they are not (or there is no room). */
export async function memberCountFor (db: Db, roomId: number, userId: number): Promise<number | undefined> {
  const row = await db.selectFrom('room_members as rm').where('rm.room_id', '=', roomId).where('rm.user_id', '=', userId)
    .select(sql<number>`(select count(*)::int from room_members where room_id = ${roomId})`.as('members')).executeTakeFirst()
  return row?.members
}

/** The rooms a user is in, by id. */
export async function roomIdsOf (db: Db, userId: number): Promise<number[]> {
  const rows = await db.selectFrom('room_members').select('room_id').where('user_id', '=', userId).execute()
  return rows.map((row) => row.room_id)
}
