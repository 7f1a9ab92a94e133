import type { Db } from '../core/db/connect.js'
import { persistMessages, type PersistOutcome } from '../core/messages.js'
import { hashPassword } from '../core/password.js'
import { markSeenUpTo } from '../core/read-state.js'
import { createGroupRoom, ensureDirectRoom } from '../core/rooms.js'
import { taskKinds } from '../core/db/schema.js'
import { createTasks } from '../core/tasks.js'
import { findUserByUsername, insertUser } from '../core/users.js'
import {
  demoDirectRooms, demoGroupRooms, demoPassword, demoReadUpTo, demoUsers,
  type DemoLine, type DemoUser
} from './demo-data.js'

export interface SeedSummary {
  usersCreated: number
  messagesStored: number
  /** Lines whose sender is no longer a member of the room (a demo user left it): skipped, not fatal. */
  messagesSkipped: string[]
}

/**
 * Seeds the demo, idempotently: users, group rooms and direct rooms that exist are reused, and every
 * message carries a fixed task id (`seed:<room>:<n>`), which is stored at most once.
 */
export async function seedDemo (db: Db): Promise<SeedSummary> {
  const summary: SeedSummary = { usersCreated: 0, messagesStored: 0, messagesSkipped: [] }

  const userIds = new Map<string, number>()
  for (const user of demoUsers) {
    const { id, created } = await ensureUser(db, user)
    userIds.set(user.username, id)
    if (created) summary.usersCreated++
  }
  const idOf = (username: string): number => {
    const id = userIds.get(username)
    if (id === undefined) throw new Error(`the demo data names an unknown user ${username}`)
    return id
  }

  const roomIds = new Map<string, number>()
  const seedRoom = async (label: string, roomId: number, lines: DemoLine[]) => {
    roomIds.set(label, roomId)
    const { stored, skipped } = await seedMessages(db, label, roomId, lines, idOf)
    summary.messagesStored += stored
    summary.messagesSkipped.push(...skipped)
  }

  for (const room of demoGroupRooms) {
    const creatorId = idOf(room.creator)
    const roomId = await findSeededGroupRoom(db, room.name, creatorId) ??
      await createGroupRoom(db, { name: room.name, creatorId, memberIds: room.members.map(idOf), visibility: room.visibility })
    // A demo seeded before rooms had a visibility was made private by the migration: give it the demo's.
    await db.updateTable('rooms').set({ visibility: room.visibility }).where('id', '=', roomId).execute()
    await seedRoom(room.name, roomId, room.lines)
  }

  for (const room of demoDirectRooms) {
    const [a, b] = room.between
    const roomId = await ensureDirectRoom(db, idOf(a), idOf(b))
    await seedRoom(`direct-${a}-${b}`, roomId, room.lines)
  }

  // Watermarks only move forward, so a rerun (or a demo user who read further) keeps what is there.
  for (const { username, room, seq } of demoReadUpTo) {
    const roomId = roomIds.get(room)
    if (roomId !== undefined) await markSeenUpTo(db, idOf(username), new Map([[roomId, seq]]))
  }

  return summary
}

/** Hashes a password only for a user that does not exist yet (scrypt is slow on purpose). */
async function ensureUser (db: Db, user: DemoUser): Promise<{ id: number, created: boolean }> {
  const existing = await findUserByUsername(db, user.username)
  if (existing !== undefined) {
    if (user.isAdmin === true && !existing.is_admin) {
      await db.updateTable('users').set({ is_admin: true }).where('id', '=', existing.id).execute()
    }
    return { id: existing.id, created: false }
  }
  const inserted = await insertUser(db, {
    username: user.username,
    password_hash: await hashPassword(demoPassword),
    display_name: user.displayName,
    status: user.status,
    status_message: user.statusMessage,
    is_admin: user.isAdmin
  })
  if (inserted !== undefined) return { id: inserted.id, created: true }
  // Someone registered the name between our look-up and insert: theirs is the account.
  const raced = await findUserByUsername(db, user.username)
  if (raced === undefined) throw new Error(`could not create or find user ${user.username}`)
  return { id: raced.id, created: false }
}

/** Group names are not unique, so the seed recognises its own room by name and creator. */
export async function findSeededGroupRoom (db: Db, name: string, creatorId: number): Promise<number | undefined> {
  const room = await db.selectFrom('rooms').select('id')
    .where('kind', '=', 'group').where('name', '=', name).where('created_by', '=', creatorId)
    .orderBy('id').limit(1).executeTakeFirst()
  return room?.id
}

/** Stores a room's lines in order; returns how many were new and the task ids it could not store. */
async function seedMessages (db: Db, label: string, roomId: number, lines: DemoLine[], idOf: (username: string) => number) {
  let stored = 0
  const skipped: string[] = []
  for (const [index, line] of lines.entries()) {
    const taskId = `seed:${label}:${index + 1}`
    const outcome = await seedMessage(db, taskId, { roomId, senderId: idOf(line.from), text: line.text })
    if (outcome.kind !== 'stored') skipped.push(taskId)
    else if (outcome.created) stored++
  }
  return { stored, skipped }
}

/** Stores a message at once, as a worker would, under a fixed task id: a second run finds the task completed. */
export async function seedMessage (db: Db, taskId: string, send: { roomId: number, senderId: number, text: string }): Promise<PersistOutcome> {
  await createTasks(db, [{ id: taskId, kind: taskKinds.sendMessage, ownerId: send.senderId, payload: { ...send, requestId: 'seed' } }])
  const [outcome] = await persistMessages(db, [{ taskId, ...send }])
  return outcome ?? { kind: 'gone' }
}
