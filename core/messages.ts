import { sql } from 'kysely'
import type { Db } from './db/connect.js'
import type { Message } from './db/schema.js'

export interface SendTask {
  id: string
  kind: string
  createdAt: Date
  attempts: number
}

export type PersistOutcome =
  | { stored: true, message: Message, created: boolean, memberIds: number[] }
  | { stored: false, code: 'NOT_A_MEMBER' }

const uniqueViolation = '23505'

/**
 * Stores one message for one task, exactly once, and records the task as completed in the same transaction.
 *
 * The room row is locked while its next `seq` is taken and the message inserted, so seqs are gapless and
 * increase in commit order even with many workers. A task that already stored its message (a retry, or a
 * stalled job run twice) gets the stored message back; the unique task id settles any race between two runs.
 */
export async function persistMessage (db: Db, task: SendTask, input: { roomId: number, senderId: number, text: string }): Promise<PersistOutcome> {
  const existing = await findMessageByTask(db, task.id)
  if (existing !== undefined) return { stored: true, message: existing, created: false, memberIds: await memberIdsOf(db, existing.room_id) }
  try {
    return await db.transaction().execute(async (trx) => {
      // FOR SHARE: a concurrent leave waits for this send, and a send after the leave sees it.
      const member = await trx.selectFrom('room_members').select('user_id')
        .where('room_id', '=', input.roomId).where('user_id', '=', input.senderId)
        .forShare().executeTakeFirst()
      if (member === undefined) return { stored: false, code: 'NOT_A_MEMBER' } as const

      const room = await trx.updateTable('rooms').set({ last_seq: sql`last_seq + 1` })
        .where('id', '=', input.roomId).returning('last_seq').executeTakeFirstOrThrow()
      const message = await trx.insertInto('messages')
        .values({ room_id: input.roomId, seq: room.last_seq, sender_id: input.senderId, text: input.text, task_id: task.id })
        .returningAll().executeTakeFirstOrThrow()
      await trx.insertInto('tasks').values({
        id: task.id,
        kind: task.kind,
        owner_id: input.senderId,
        state: 'completed',
        attempts: task.attempts,
        message_id: message.id,
        created_at: task.createdAt
      }).execute()
      return { stored: true, message, created: true, memberIds: await memberIdsOf(trx, input.roomId) }
    })
  } catch (error) {
    if ((error as { code?: string }).code !== uniqueViolation) throw error
    // Another run of the same task committed first: its message is the one.
    const message = await findMessageByTask(db, task.id)
    if (message === undefined) throw error
    return { stored: true, message, created: false, memberIds: await memberIdsOf(db, message.room_id) }
  }
}

export async function findMessageByTask (db: Db, taskId: string): Promise<Message | undefined> {
  return await db.selectFrom('messages').selectAll().where('task_id', '=', taskId).executeTakeFirst()
}

async function memberIdsOf (db: Db, roomId: number): Promise<number[]> {
  const rows = await db.selectFrom('room_members').select('user_id').where('room_id', '=', roomId).execute()
  return rows.map((row) => row.user_id)
}

/** History, newest first: messages with seq below `beforeSeq`. */
export async function listRoomMessages (db: Db, roomId: number, beforeSeq: number, limit: number): Promise<{ rows: Message[], hasMore: boolean }> {
  const rows = await db.selectFrom('messages').selectAll()
    .where('room_id', '=', roomId).where('seq', '<', beforeSeq).where('deleted_at', 'is', null)
    .orderBy('seq', 'desc').limit(limit + 1).execute()
  return { rows: rows.slice(0, limit), hasMore: rows.length > limit }
}

/**
 * Messages the user has not seen, oldest first, in the user's rooms, not sent by the user.
 * `seenUpTo` (room id → seq) raises the stored watermarks for acknowledgements a worker has not applied yet.
 *
 * Ordered by message id: within one room ids grow with seq (both are taken under the room lock), so a page
 * holds, for each room, a gapless run from its watermark, and the page's highest seq per room is a safe ack.
 */
export async function listUnseen (db: Db, userId: number, watermarks: Map<number, number>, limit: number): Promise<Message[]> {
  if (watermarks.size === 0) return []
  const { rows } = await sql<Message>`
    select m.* from messages m
    join unnest(${[...watermarks.keys()]}::bigint[], ${[...watermarks.values()]}::bigint[]) as w(room_id, after_seq)
      on m.room_id = w.room_id and m.seq > w.after_seq
    where m.sender_id is distinct from ${userId} and m.deleted_at is null
    order by m.id
    limit ${limit}`.execute(db)
  return rows
}
