import { sql } from 'kysely'
import type { Db } from './db/connect.js'
import type { Message } from './db/schema.js'
import { messageColumnList, messageColumns, messageViewColumnList } from './db/message-columns.js'
import { answeredTaskColumns, attemptTasks, failTasks, isUnfinished } from './tasks.js'

export interface SendToStore { taskId: string, roomId: number, senderId: number, text: string }

export type PersistOutcome =
  /** `task`: the task this run completed, as JSON (its answered columns), for its wake-up; none when an earlier run did. */
  | { kind: 'stored', message: Message, created: boolean, task?: Record<string, unknown> }
  | { kind: 'refused', code: 'NOT_A_MEMBER', message: string }
  /** The task finished before this run (it failed at its deadline, say), or was never accepted: nothing to do. */
  | { kind: 'gone' }

const notAMember = { code: 'NOT_A_MEMBER', message: 'The sender is not a member of the room.' } as const

/**
 * Stores the messages of many send tasks, in any number of rooms, each exactly once, and records each task's
 * outcome with it: one transaction for the lot, answering one outcome per send, in order.
 *
 * The tasks are taken up first (their rows locked, an attempt counted), so two runs of one task (a retry, a stalled
 * job, a job re-created after Redis lost it) take turns and the second finds it finished. Then the rooms, in id
 * order (as every transaction that locks several does, so none waits on another in a circle): while they are held
 * a range of seqs is taken per room and the messages inserted, so seqs are gapless and increase in commit order
 * however many workers run.
 */
export async function persistMessages (db: Db, sends: SendToStore[]): Promise<PersistOutcome[]> {
  const outcomes = await attemptTasks(db, sends.map((send) => send.taskId), async (trx, taken) => {
    const outcomes = new Map<string, PersistOutcome>()
    const tasks = new Map(taken.map((task) => [task.id, task]))
    const open = uniqueBy(sends, (send) => send.taskId)
      .filter((send) => { const task = tasks.get(send.taskId); return task !== undefined && isUnfinished(task.state) })
    const roomIds = [...new Set(open.map((send) => send.roomId))].sort((a, b) => a - b)
    if (roomIds.length > 0) await trx.selectFrom('rooms').select('id').where('id', 'in', roomIds).orderBy('id').forUpdate().execute()

    // FOR SHARE: a concurrent leave waits for these sends, and a send after the leave sees it.
    const members = new Set(open.length === 0
      ? []
      : (await sql<{ room_id: number, user_id: number }>`
          select m.room_id, m.user_id from room_members m
          join unnest(${open.map((send) => send.roomId)}::bigint[], ${open.map((send) => send.senderId)}::bigint[]) as s(room_id, user_id)
            on m.room_id = s.room_id and m.user_id = s.user_id
          order by m.room_id, m.user_id
          for share of m`.execute(trx)).rows.map((row) => `${row.room_id}:${row.user_id}`))
    const isMember = (send: SendToStore) => members.has(`${send.roomId}:${send.senderId}`)
    const refused = open.filter((send) => !isMember(send))
    await failTasks(trx, refused.map((send) => send.taskId), notAMember)
    for (const send of refused) outcomes.set(send.taskId, { kind: 'refused', ...notAMember })

    const storing = open.filter(isMember)
    const created = storing.length === 0 ? [] : await insertMessages(trx, storing)

    // Runs that come after the task was completed answer with the message it stored.
    const done = [...tasks.values()].filter((task) => task.state === 'completed').map((task) => task.id)
    const earlier = done.length === 0 ? [] : await trx.selectFrom('messages').select(messageColumns).where('task_id', 'in', done).execute()
    for (const { task, ...message } of created) outcomes.set(message.task_id, { kind: 'stored', message, created: true, task })
    for (const message of earlier) outcomes.set(message.task_id, { kind: 'stored', message, created: false })
    return outcomes
  })
  return sends.map((send) => outcomes.get(send.taskId) ?? { kind: 'gone' })
}

/**
 * Takes each room's next seqs and change numbers (one update per room, the rooms locked already), inserts the
 * messages in that order and marks their tasks completed: one statement, one round trip, for every room at once.
 * Each message comes with its task as completed, as JSON (what its owner's answer shows).
 */
async function insertMessages (trx: Db, sends: SendToStore[]): Promise<Array<Message & { task: Record<string, unknown> }>> {
  const { rows } = await sql<Message & { task: Record<string, unknown> }>`
    with s as (
      -- i: the send's place among its room's sends in this batch, in the order they came.
      select *, row_number() over (partition by room_id order by n) as i
      from unnest(${sends.map((send) => send.roomId)}::bigint[], ${sends.map((send) => send.senderId)}::bigint[],
        ${sends.map((send) => send.text)}::text[], ${sends.map((send) => send.taskId)}::text[])
        with ordinality as u(room_id, sender_id, text, task_id, n)
    ), counts as (
      select room_id, count(*) as k from s group by room_id
    ), room as (
      update rooms r set last_seq = r.last_seq + counts.k, last_change_seq = r.last_change_seq + counts.k
      from counts where r.id = counts.room_id
      returning r.id, r.last_seq - counts.k as seq_before, r.last_change_seq - counts.k as change_before
    ), stored as (
      insert into messages (room_id, seq, change_seq, sender_id, text, task_id)
      select s.room_id, room.seq_before + s.i, room.change_before + s.i, s.sender_id, s.text, s.task_id
      from s join room on room.id = s.room_id
      returning ${messageColumnList()}
    ), completed as (
      update tasks set state = 'completed', finished_at = now(), message_id = stored.id
      from stored where tasks.id = stored.task_id
      returning ${sql.raw(answeredTaskColumns.map((column) => `tasks.${column}`).join(', '))}
    )
    select stored.*, to_json(completed) as task from stored join completed on completed.id = stored.task_id
    order by stored.room_id, stored.seq`.execute(trx)
  return rows
}

function uniqueBy<T, K> (items: T[], key: (item: T) => K): T[] {
  return [...new Map(items.map((item) => [key(item), item])).values()]
}

/**
 * History, newest first: messages with seq below `beforeSeq`, as they are now (a deleted one keeps its slot, without
 * text). With `memberId`, only if that user is a member of the room (no rows otherwise), in the same statement.
 *
 * Answers the page as the JSON array of its messages as the answers show them (see messageViewColumnList), built by
 * Postgres, with the oldest seq on it (null for an empty page) and whether older messages follow.
 */
export async function readRoomHistoryJson (db: Db, roomId: number, beforeSeq: number, limit: number, memberId?: number): Promise<{ items: string, lastSeq: number | null, hasMore: boolean }> {
  const membership = memberId === undefined
    ? sql``
    : sql`and exists (select 1 from room_members where room_id = ${roomId} and user_id = ${memberId})`
  const { rows: [row] } = await sql<{ items: string | null, last_seq: number | null, has_more: boolean }>`
    with page as (
      select ${messageViewColumnList()} from messages
      where room_id = ${roomId} and seq < ${beforeSeq} ${membership}
      order by seq desc limit ${limit + 1}
    ), shown as (
      select * from page order by seq desc limit ${limit}
    )
    select (select '[' || string_agg(row_to_json(shown)::text, ',' order by seq desc) || ']' from shown) as items,
      (select min(seq) from shown) as last_seq,
      (select count(*) from page) > ${limit} as has_more`.execute(db)
  return { items: row?.items ?? '[]', lastSeq: row?.last_seq ?? null, hasMore: row?.has_more ?? false }
}

/** A message as a member of its room may see it; undefined for anyone else (and for a missing one). */
export async function findMessageForMember (db: Db, messageId: number, userId: number): Promise<Message | undefined> {
  return await db.selectFrom('messages as m').select(messageColumns)
    .where('m.id', '=', messageId)
    .where((eb) => eb.exists(eb.selectFrom('room_members as rm').select('rm.user_id')
      .whereRef('rm.room_id', '=', 'm.room_id').where('rm.user_id', '=', userId)))
    .executeTakeFirst()
}
