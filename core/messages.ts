import { sql } from 'kysely'
import type { Db } from './db/connect.js'
import type { Message } from './db/schema.js'
import { finishTask, lockTask } from './tasks.js'

export type PersistOutcome =
  | { kind: 'stored', message: Message, created: boolean, memberIds: number[] }
  | { kind: 'refused', code: 'NOT_A_MEMBER', reason: string }
  /** The task finished before this run (it failed at its deadline, say), or was never accepted: nothing to do. */
  | { kind: 'gone' }

/**
 * Stores the message of one send task, exactly once, and records the task's outcome in the same transaction.
 *
 * The task row is locked first, so two runs of one task (a retry, a stalled job, a job re-created after Redis
 * lost it) take turns and the second finds it finished. The room row is locked while its next `seq` is taken
 * and the message inserted, so seqs are gapless and increase in commit order however many workers run.
 */
export async function persistMessage (db: Db, taskId: string, input: { roomId: number, senderId: number, text: string }): Promise<PersistOutcome> {
  return await db.transaction().execute(async (trx): Promise<PersistOutcome> => {
    const task = await lockTask(trx, taskId)
    if (task === undefined || task.state === 'failed') return { kind: 'gone' }
    if (task.state === 'completed') {
      const message = await trx.selectFrom('messages').selectAll().where('task_id', '=', taskId).executeTakeFirstOrThrow()
      return { kind: 'stored', message, created: false, memberIds: await memberIdsOf(trx, message.room_id) }
    }

    // FOR SHARE: a concurrent leave waits for this send, and a send after the leave sees it.
    const member = await trx.selectFrom('room_members').select('user_id')
      .where('room_id', '=', input.roomId).where('user_id', '=', input.senderId)
      .forShare().executeTakeFirst()
    if (member === undefined) {
      const refusal = { code: 'NOT_A_MEMBER', reason: 'The sender is not a member of the room.' } as const
      await finishTask(trx, taskId, { state: 'failed', code: refusal.code, message: refusal.reason })
      return { kind: 'refused', ...refusal }
    }

    const room = await trx.updateTable('rooms').set({ last_seq: sql`last_seq + 1` })
      .where('id', '=', input.roomId).returning('last_seq').executeTakeFirstOrThrow()
    const message = await trx.insertInto('messages')
      .values({ room_id: input.roomId, seq: room.last_seq, sender_id: input.senderId, text: input.text, task_id: taskId })
      .returningAll().executeTakeFirstOrThrow()
    await finishTask(trx, taskId, { state: 'completed', messageId: message.id })
    return { kind: 'stored', message, created: true, memberIds: await memberIdsOf(trx, input.roomId) }
  })
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
