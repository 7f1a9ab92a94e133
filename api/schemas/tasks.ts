import { Type } from 'typebox'
import { TaskStateSchema } from '../../core/tasks.js'
import { DateTimeSchema } from './common.js'
import { MessageSchema } from './messages.js'

export const TaskIdParamsSchema = Type.Object({
  taskId: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9:_-]+$' })
})

export const TaskQuerySchema = Type.Object({
  wait: Type.Integer({ minimum: 0, maximum: 30, default: 0, description: 'Seconds to hold the request until the task finishes' })
})

export const TaskSchema = Type.Object({
  id: Type.String(),
  kind: Type.String({ examples: ['send-message'] }),
  state: TaskStateSchema,
  attempts: Type.Integer({ minimum: 0, description: 'How many times a worker has taken the task up' }),
  createdAt: DateTimeSchema,
  finishedAt: Type.Union([DateTimeSchema, Type.Null()]),
  result: Type.Union([MessageSchema, Type.Null()], { description: 'The stored message, once completed' }),
  error: Type.Union([Type.Object({
    code: Type.String({ examples: ['NOT_A_MEMBER'] }),
    message: Type.String()
  }), Type.Null()])
})
