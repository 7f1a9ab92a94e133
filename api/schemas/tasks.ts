import { Type } from 'typebox'
import { TaskKindSchema, TaskStateSchema } from '../../core/db/schema.js'
import { DateTimeSchema } from './common.js'
import { MessageSchema } from './messages.js'
import { taskIdPattern } from './patterns.js'

export const TaskIdParamsSchema = Type.Object({
  taskId: Type.String({ minLength: 1, maxLength: 128, pattern: taskIdPattern, examples: ['5f0c6d9e-8d5b-4a51-9a39-2f3b1c0e7a10'] })
})

export const TaskQuerySchema = Type.Object({
  wait: Type.Integer({ minimum: 0, maximum: 30, default: 0, description: 'Seconds to hold the request until the task finishes', examples: [10] })
})

export const TaskSchema = Type.Object({
  id: Type.String({ examples: ['5f0c6d9e-8d5b-4a51-9a39-2f3b1c0e7a10'] }),
  kind: TaskKindSchema,
  state: TaskStateSchema,
  attempts: Type.Integer({ minimum: 0, description: 'How many times a worker has taken the task up', examples: [1] }),
  createdAt: DateTimeSchema,
  finishedAt: Type.Union([DateTimeSchema, Type.Null()]),
  result: Type.Union([MessageSchema, Type.Null()], { description: 'The message, once completed: as stored by a send, or as an edit or delete left it' }),
  error: Type.Union([Type.Object({
    code: Type.String({ examples: ['NOT_A_MEMBER'] }),
    message: Type.String({ examples: ['The sender is not a member of the room.'] })
  }), Type.Null()])
})
