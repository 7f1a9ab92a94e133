import { sql } from 'kysely'
import type { Db } from './db/connect.js'
import { hashPassword, verifyPassword } from './password.js'
import type { NewUser, User, UserUpdate } from './db/schema.js'
import { pageOf } from './paging.js'

export const publicUserColumns = ['id', 'username', 'display_name', 'status', 'status_message', 'created_at'] as const
export type PublicUserRow = Pick<User, typeof publicUserColumns[number]>

export async function findUserByUsername (db: Db, username: string): Promise<User | undefined> {
  return await db.selectFrom('users').selectAll()
    .where(sql<string>`lower(username)`, '=', username.toLowerCase())
    .executeTakeFirst()
}

export async function findUserById (db: Db, id: number): Promise<PublicUserRow | undefined> {
  return await db.selectFrom('users').select(publicUserColumns).where('id', '=', id).executeTakeFirst()
}

// Checked against unknown usernames too, so a wrong name costs as long as a wrong password. Made on first use.
let decoyHash: Promise<string> | undefined

/** The user with this username (any letter case) and password, or undefined. */
export async function checkCredentials (db: Db, username: string, password: string): Promise<User | undefined> {
  const user = await findUserByUsername(db, username)
  decoyHash ??= hashPassword('not-a-real-password')
  const valid = await verifyPassword(password, user?.password_hash ?? await decoyHash)
  return valid ? user : undefined
}

/** Whether `password` is the user's (a missing user has none). */
export async function isPasswordOf (db: Db, userId: number, password: string): Promise<boolean> {
  const user = await db.selectFrom('users').select('password_hash').where('id', '=', userId).executeTakeFirst()
  decoyHash ??= hashPassword('not-a-real-password')
  return await verifyPassword(password, user?.password_hash ?? await decoyHash)
}

/** Returns undefined when the username is taken in any letter case. */
export async function insertUser (db: Db, user: NewUser): Promise<PublicUserRow | undefined> {
  return await db.insertInto('users').values(user)
    .onConflict((oc) => oc.expression(sql`lower(username)`).doNothing())
    .returning(publicUserColumns)
    .executeTakeFirst()
}

export async function updateUser (db: Db, id: number, changes: UserUpdate): Promise<PublicUserRow | undefined> {
  return await db.updateTable('users').set({ ...changes, updated_at: new Date() })
    .where('id', '=', id)
    .returning(publicUserColumns)
    .executeTakeFirst()
}

/** Keyset page in id order; fetches one extra row to know whether another page follows. */
export async function listUsers (db: Db, afterId: number, limit: number): Promise<{ rows: PublicUserRow[], hasMore: boolean }> {
  const rows = await db.selectFrom('users').select(publicUserColumns)
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit + 1)
    .execute()
  return pageOf(rows, limit)
}

export async function usersExist (db: Db, ids: readonly number[]): Promise<boolean> {
  if (ids.length === 0) return true
  const { count } = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('count'))
    .where('id', 'in', ids).executeTakeFirstOrThrow()
  return Number(count) === new Set(ids).size
}
