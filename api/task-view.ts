import type { Static } from 'typebox'
import type { Message } from '../core/db/schema.js'
import type { AnsweredTask } from '../core/tasks.js'
import { toMessageView } from './schemas/messages.js'
import type { TaskSchema } from './schemas/tasks.js'

export type TaskView = Static<typeof TaskSchema>

/** A task as its owner sees it. */
export function toTaskView (task: AnsweredTask, message: Message | undefined): TaskView {
  return {
    id: task.id,
    kind: task.kind,
    state: task.state,
    attempts: task.attempts,
    createdAt: task.created_at.toISOString(),
    finishedAt: task.finished_at?.toISOString() ?? null,
    result: message === undefined ? null : toMessageView(message),
    error: task.error_code === null ? null : { code: task.error_code, message: task.error_message ?? '' }
  }
}
