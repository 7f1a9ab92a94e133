import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { findTask } from '../../core/tasks.js'
import { bearer, problems } from '../schemas/common.js'
import { TaskIdParamsSchema, TaskQuerySchema, TaskSchema } from '../schemas/tasks.js'
import { toTaskView } from '../task-view.js'
import { notFound } from '../errors.js'
import { hangUpSignal, longPoll } from '../long-poll.js'

const taskRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, wakeups } = fastify
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.get('/:taskId', {
    schema: {
      tags: ['tasks'],
      operationId: 'getTask',
      summary: 'The state of a send, an edit or a delete, by task id',
      description: 'Answered from Postgres, where every accepted send is recorded before its 202, so it answers even if Redis lost its queues. Only the task\'s owner sees it (anyone else gets 404). `completed` carries the stored message in `result`; `failed` says why in `error.code` (`NOT_A_MEMBER`; for an edit or delete `MESSAGE_NOT_FOUND`, `NOT_THE_AUTHOR` or `MESSAGE_DELETED`; or `SEND_FAILED` / `CHANGE_FAILED` when it could not be done before its deadline, 24 h by default). Finished tasks stay answerable for 24 h by default. `?wait=N` (≤ 30 s) holds the request until the task finishes or N seconds pass.',
      security: bearer,
      params: TaskIdParamsSchema,
      querystring: TaskQuerySchema,
      response: { 200: TaskSchema, ...problems(404, 503) }
    }
  }, async (request, reply) => {
    const { taskId } = request.params
    // A task's outcome is told on its owner's channel: held here while this waits (only the owner sees the task).
    const held = request.query.wait > 0 ? wakeups.holdUser(request.userId) : undefined
    await held?.ready
    const task = await longPoll({
      waiters: wakeups.tasks,
      key: taskId,
      seconds: request.query.wait,
      signal: hangUpSignal(reply),
      query: async () => {
        const found = await findTask(db, taskId)
        return found === undefined || found.task.owner_id !== request.userId ? undefined : toTaskView(found.task, found.message)
      },
      // Stop waiting once the task is finished, or when it is not the caller's to see.
      ready: (found) => found === undefined || found.state === 'completed' || found.state === 'failed'
    }).finally(() => held?.release())
    if (task === undefined) throw notFound.task(taskId)
    return task
  })
}

export default taskRoutes
