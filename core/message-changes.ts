import { sql } from 'kysely'
import type { Db } from './db/connect.js'
import { messageColumns } from './db/message-columns.js'
import { taskKinds, type Message } from './db/schema.js'
import { attemptTasks, failTasks } from './tasks.js'

/** An edit (`text`) or a delete (`text` null) of one message, asked for by `editorId` through task `taskId`. */
export interface MessageChange { taskId: string, messageId: number, editorId: number, text: string | null }

export const changeRefusals = {
  MESSAGE_NOT_FOUND: 'There is no such message in a room you are in.',
  NOT_THE_AUTHOR: 'Only the sender of a message may edit or delete it.',
  MESSAGE_DELETED: 'The message was deleted; a deleted message cannot be edited.'
} as const
export type ChangeRefusalCode = keyof typeof changeRefusals

/** Told, in the change's transaction just before COMMIT, which finished tasks show the message and its new change number. */
export type BeforeChangeCommit = (shown: { taskIds: string[], changeSeq: number }) => Promise<void>

export type ChangeOutcome =
  /**
   * `changed` false: a repeated run, or a delete of a message already deleted; nobody needs waking for it.
   * `textTaskIds`: for a deleted message, the tasks whose jobs carried its texts (its send and its edits).
   */
  | { kind: 'applied', message: Message, changed: boolean, textTaskIds: string[] }
  | { kind: 'refused', code: ChangeRefusalCode, message: string }
  /** The task finished another way (failed at its deadline, say), or was never accepted: nothing to do. */
  | { kind: 'gone' }

/** Why `userId` may not change the message, if anything forbids it: the route asks before accepting, the worker again under the locks. */
export function refusalFor (message: Pick<Message, 'sender_id' | 'deleted_at'> | undefined, userId: number, isEdit: boolean): ChangeRefusalCode | undefined {
  if (message === undefined) return 'MESSAGE_NOT_FOUND'
  if (message.sender_id !== userId) return 'NOT_THE_AUTHOR'
  if (isEdit && message.deleted_at !== null) return 'MESSAGE_DELETED'
  return undefined
}

/**
 * Applies an edit or a delete once, whatever the retries, and records the task's outcome with it.
 *
 * The task is taken up first (a second run waits, then finds it finished), then the room row locked, as a send does:
 * every insert, edit and delete of the room takes its change number under that lock, so two edits end in one
 * of them, and an edit that comes after a delete finds the tombstone and is refused: the text never comes back.
 */
export async function applyMessageChange (db: Db, change: MessageChange, beforeCommit: BeforeChangeCommit): Promise<ChangeOutcome> {
  return await attemptTasks(db, [change.taskId], async (trx, [task]): Promise<ChangeOutcome> => {
    if (task === undefined || task.state === 'failed') return { kind: 'gone' }
    const roomOf = await trx.selectFrom('messages').select('room_id').where('id', '=', change.messageId).executeTakeFirst()
    if (task.state === 'completed') {
      const message = await trx.selectFrom('messages').select(messageColumns).where('id', '=', change.messageId).executeTakeFirst()
      return message === undefined
        ? { kind: 'gone' }
        : { kind: 'applied', message, changed: false, textTaskIds: textTaskIdsOf(message, await tasksShowing(trx, message.id)) }
    }

    const refuse = async (code: ChangeRefusalCode): Promise<ChangeOutcome> => {
      const failure = { code, message: changeRefusals[code] }
      await failTasks(trx, [change.taskId], failure)
      await forgetTexts(trx, [change.taskId])
      return { kind: 'refused', ...failure }
    }
    // FOR SHARE: as for a send, a leave waits for the change, and a change after the leave sees it.
    const member = roomOf === undefined
      ? undefined
      : await trx.selectFrom('room_members').select('user_id')
        .where('room_id', '=', roomOf.room_id).where('user_id', '=', change.editorId).forShare().executeTakeFirst()
    if (roomOf === undefined || member === undefined) return await refuse('MESSAGE_NOT_FOUND')

    const room = await trx.selectFrom('rooms').select('last_change_seq').where('id', '=', roomOf.room_id).forUpdate().executeTakeFirstOrThrow()
    // Read again under the room lock: no other change of this room can land until COMMIT.
    const current = await trx.selectFrom('messages').select(messageColumns).where('id', '=', change.messageId).executeTakeFirstOrThrow()
    const isEdit = change.text !== null
    const refusal = refusalFor(current, change.editorId, isEdit)
    if (refusal !== undefined) return await refuse(refusal)

    let message = current
    const changed = isEdit || current.deleted_at === null
    if (changed) {
      const changeSeq = room.last_change_seq + 1
      await trx.updateTable('rooms').set({ last_change_seq: changeSeq }).where('id', '=', roomOf.room_id).execute()
      message = await trx.updateTable('messages')
        .set(isEdit
          ? { text: change.text, edited_at: sql`now()`, change_seq: changeSeq }
          : { text: null, deleted_at: sql`now()`, change_seq: changeSeq })
        .where('id', '=', change.messageId).returningAll().executeTakeFirstOrThrow()
    }
    await trx.updateTable('tasks').set({ state: 'completed', finished_at: sql`now()`, message_id: change.messageId })
      .where('id', '=', change.taskId).execute()
    // The message row holds the text now: a finished task keeps none (no earlier version survives in a payload),
    // and a delete takes it from its send's task as well.
    await forgetTexts(trx, isEdit ? [change.taskId] : [change.taskId, current.task_id])
    const showing = await tasksShowing(trx, message.id)
    // Last, so the tasks' caches are marked as late as can be, and a failure to mark rolls the change back.
    if (changed) await beforeCommit({ taskIds: showing.map((task) => task.id), changeSeq: message.change_seq })
    return { kind: 'applied', message, changed, textTaskIds: textTaskIdsOf(message, showing) }
  })
}

/** The tasks that show the message in their result: its send, and its applied edits and deletes. */
async function tasksShowing (db: Db, messageId: number): Promise<Array<{ id: string, kind: string }>> {
  return await db.selectFrom('tasks').select(['id', 'kind']).where('message_id', '=', messageId).execute()
}

/** For a deleted message, the tasks that carried its texts: its send and its applied edits (none while it stands). */
function textTaskIdsOf (message: Pick<Message, 'task_id' | 'deleted_at'>, showing: Array<{ id: string, kind: string }>): string[] {
  if (message.deleted_at === null) return []
  return [message.task_id, ...showing.filter((task) => task.kind === taskKinds.editMessage).map((task) => task.id)]
}

/** Removes the text from these tasks' payloads: finished tasks need it no more (their result is the message row). */
async function forgetTexts (db: Db, taskIds: string[]): Promise<void> {
  await db.updateTable('tasks').set({ payload: sql<string>`payload - 'text'` }).where('id', 'in', taskIds).execute()
}
