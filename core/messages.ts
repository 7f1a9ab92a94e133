import { sql } from 'kysely'
import type { Db } from './db/connect.js'
import type { Message } from './db/schema.js'
import { failTasks, isUnfinished, lockTasks } from './tasks.js'

export interface SendToStore { taskId: string, roomId: number, senderId: number, text: string }

export type PersistOutcome =
  | { kind: 'stored', message: Message, created: boolean, memberIds: number[] }
  | { kind: 'refused', code: 'NOT_A_MEMBER', reason: string }
  /** The task finished before this run (it failed at its deadline, say), or was never accepted: nothing to do. */
  | { kind: 'gone' }

const notAMember = { code: 'NOT_A_MEMBER', reason: 'The sender is not a member of the room.' } as const

/**
 * Stores the messages of many send tasks, each exactly once, and records each task's outcome with it: one
 * transaction per room (run side by side), answering one outcome per send, in order.
 *
 * The task rows are locked first, so two runs of one task (a retry, a stalled job, a job re-created after Redis
 * lost it) take turns and the second finds it finished. The room row is locked once while a range of seqs is
 * taken and the messages inserted, so seqs are gapless and increase in commit order however many workers run.
 */
export async function persistMessages (db: Db, sends: SendToStore[]): Promise<PersistOutcome[]> {
  const byRoom = new Map<number, SendToStore[]>()
  for (const send of sends) {
    const room = byRoom.get(send.roomId)
    if (room === undefined) byRoom.set(send.roomId, [send])
    else room.push(send)
  }
  const outcomes = new Map<string, PersistOutcome>()
  await Promise.all([...byRoom].map(async ([roomId, roomSends]) => {
    for (const [taskId, outcome] of await persistInRoom(db, roomId, roomSends)) outcomes.set(taskId, outcome)
  }))
  return sends.map((send) => outcomes.get(send.taskId) ?? { kind: 'gone' })
}

async function persistInRoom (db: Db, roomId: number, sends: SendToStore[]): Promise<Map<string, PersistOutcome>> {
  return await db.transaction().execute(async (trx) => {
    const outcomes = new Map<string, PersistOutcome>()
    const tasks = new Map((await lockTasks(trx, sends.map((send) => send.taskId))).map((task) => [task.id, task]))
    const open = uniqueBy(sends, (send) => send.taskId)
      .filter((send) => { const task = tasks.get(send.taskId); return task !== undefined && isUnfinished(task.state) })

    // FOR SHARE: a concurrent leave waits for these sends, and a send after the leave sees it.
    const members = new Set(open.length === 0
      ? []
      : (await trx.selectFrom('room_members').select('user_id')
          .where('room_id', '=', roomId).where('user_id', 'in', open.map((send) => send.senderId))
          .forShare().execute()).map((row) => row.user_id))
    const refused = open.filter((send) => !members.has(send.senderId))
    await failTasks(trx, refused.map((send) => send.taskId), { code: notAMember.code, message: notAMember.reason })
    for (const send of refused) outcomes.set(send.taskId, { kind: 'refused', ...notAMember })

    const storing = open.filter((send) => members.has(send.senderId))
    const created = storing.length === 0 ? [] : await insertMessages(trx, roomId, storing)

    // Runs that come after the task was completed answer with the message it stored.
    const done = [...tasks.values()].filter((task) => task.state === 'completed').map((task) => task.id)
    const earlier = done.length === 0 ? [] : await trx.selectFrom('messages').selectAll().where('task_id', 'in', done).execute()
    if (created.length + earlier.length > 0) {
      const memberIds = await memberIdsOf(trx, roomId)
      for (const message of created) outcomes.set(message.task_id, { kind: 'stored', message, created: true, memberIds })
      for (const message of earlier) outcomes.set(message.task_id, { kind: 'stored', message, created: false, memberIds })
    }
    return outcomes
  })
}

/**
 * Takes the room's next seqs and change numbers (one locked update for them all), inserts the messages in that order and marks their
 * tasks completed: one statement, one round trip.
 */
async function insertMessages (trx: Db, roomId: number, sends: SendToStore[]): Promise<Message[]> {
  const { rows } = await sql<Message>`
    with room as (
      update rooms set last_seq = last_seq + ${sends.length}, last_change_seq = last_change_seq + ${sends.length}
      where id = ${roomId} returning last_seq, last_change_seq
    ), stored as (
      insert into messages (room_id, seq, change_seq, sender_id, text, task_id)
      select ${roomId}, room.last_seq - ${sends.length} + s.n, room.last_change_seq - ${sends.length} + s.n, s.sender_id, s.text, s.task_id
      from room, unnest(${sends.map((send) => send.senderId)}::bigint[], ${sends.map((send) => send.text)}::text[],
        ${sends.map((send) => send.taskId)}::text[]) with ordinality as s(sender_id, text, task_id, n)
      returning *
    ), completed as (
      update tasks set state = 'completed', finished_at = now(), message_id = stored.id
      from stored where tasks.id = stored.task_id
    )
    select * from stored order by seq`.execute(trx)
  return rows
}

function uniqueBy<T, K> (items: T[], key: (item: T) => K): T[] {
  return [...new Map(items.map((item) => [key(item), item])).values()]
}

async function memberIdsOf (db: Db, roomId: number): Promise<number[]> {
  const rows = await db.selectFrom('room_members').select('user_id').where('room_id', '=', roomId).execute()
  return rows.map((row) => row.user_id)
}

/** History, newest first: messages with seq below `beforeSeq`, as they are now (a deleted one keeps its slot, without text). */
export async function listRoomMessages (db: Db, roomId: number, beforeSeq: number, limit: number): Promise<{ rows: Message[], hasMore: boolean }> {
  const rows = await db.selectFrom('messages').selectAll()
    .where('room_id', '=', roomId).where('seq', '<', beforeSeq)
    .orderBy('seq', 'desc').limit(limit + 1).execute()
  return { rows: rows.slice(0, limit), hasMore: rows.length > limit }
}
