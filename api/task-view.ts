import type { Static } from 'typebox'
import type { Db } from '../core/db/connect.js'
import type { Queues } from '../core/queue.js'
import { findFinishedTask, sendFailed } from '../core/tasks.js'
import { toMessageView } from './schemas/messages.js'
import type { TaskSchema } from './schemas/tasks.js'

export type TaskView = Static<typeof TaskSchema>

/**
 * A task as its owner sees it: from Postgres once finished (kept long after BullMQ trims the job),
 * from the queue while it waits or runs. Anyone else's task, or an unknown one, is undefined.
 * Throws when Redis is unreachable and Postgres does not know the task yet.
 */
export async function readTask (db: Db, queues: Queues, taskId: string, userId: number): Promise<TaskView | undefined> {
  const finished = await findFinishedTask(db, taskId)
  if (finished !== undefined) {
    const { task, message } = finished
    if (task.owner_id !== userId) return undefined
    return {
      id: task.id,
      kind: task.kind,
      state: task.state,
      attempts: task.attempts,
      createdAt: task.created_at.toISOString(),
      finishedAt: task.finished_at.toISOString(),
      result: message === undefined ? null : toMessageView(message),
      error: task.error_code === null ? null : { code: task.error_code, message: task.error_message ?? '' }
    }
  }

  const job = await queues.sendMessage.getJob(taskId)
  if (job === undefined || job.data.senderId !== userId) return undefined
  const jobState = await job.getState()
  if (jobState === 'completed') {
    // The outcome row commits with the message, before BullMQ marks the job completed: read it now.
    return await readTask(db, queues, taskId, userId)
  }
  const failed = jobState === 'failed'
  // Only reasons the processor gave on purpose ("NOT_A_MEMBER: …") reach the owner; anything else is ours to keep.
  const ownReason = /^([A-Z][A-Z_]+): (.+)$/s.exec(job.failedReason ?? '')
  return {
    id: taskId,
    kind: job.name,
    state: failed ? 'failed' : jobState === 'active' ? 'active' : 'queued',
    attempts: job.attemptsMade,
    createdAt: new Date(job.timestamp).toISOString(),
    finishedAt: failed && job.finishedOn !== undefined ? new Date(job.finishedOn).toISOString() : null,
    result: null,
    error: !failed ? null : ownReason?.[1] !== undefined && ownReason[2] !== undefined ? { code: ownReason[1], message: ownReason[2] } : { ...sendFailed }
  }
}
