import type { Db } from './db/connect.js'
import type { Message, Task } from './db/schema.js'

export const taskKinds = { sendMessage: 'send-message' } as const

/** What a send that failed for a reason of ours (Postgres away, say), not the sender's, tells its owner. */
export const sendFailed = { code: 'SEND_FAILED', message: 'The message could not be stored; send it again.' } as const

/** A finished task as stored in Postgres, with the message it stored (if any). */
export async function findFinishedTask (db: Db, taskId: string): Promise<{ task: Task, message: Message | undefined } | undefined> {
  const task = await db.selectFrom('tasks').selectAll().where('id', '=', taskId).executeTakeFirst()
  if (task === undefined) return undefined
  const message = task.message_id === null
    ? undefined
    : await db.selectFrom('messages').selectAll().where('id', '=', task.message_id).executeTakeFirst()
  return { task, message }
}

/** Records a task that failed for good. A task that already completed stays completed. */
export async function recordTaskFailure (db: Db, failure: {
  id: string
  kind: string
  ownerId: number
  attempts: number
  createdAt: Date
  code: string
  message: string
}): Promise<void> {
  await db.insertInto('tasks').values({
    id: failure.id,
    kind: failure.kind,
    owner_id: failure.ownerId,
    state: 'failed',
    attempts: failure.attempts,
    error_code: failure.code,
    error_message: failure.message,
    created_at: failure.createdAt
  }).onConflict((oc) => oc.column('id').doNothing()).execute()
}
