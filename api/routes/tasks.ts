import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { unavailable } from '../plugins/app/problem-details.js'
import { bearer, problems } from '../schemas/common.js'
import { TaskIdParamsSchema, TaskQuerySchema, TaskSchema } from '../schemas/tasks.js'
import { readTask } from '../task-view.js'
import { hangUpSignal, longPoll } from '../plugins/app/wakeups.js'

const taskRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, queues, httpErrors, wakeups } = fastify
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.get('/:taskId', {
    schema: {
      tags: ['tasks'],
      operationId: 'getTask',
      summary: 'The state of a send, by task id',
      description: 'Only the task\'s owner sees it (anyone else gets 404). `completed` carries the stored message in `result`; `failed` says why in `error.code` (e.g. `NOT_A_MEMBER`). Finished tasks stay answerable for at least 24 h. `?wait=N` (≤ 30 s) holds the request until the task finishes or N seconds pass.',
      security: bearer,
      params: TaskIdParamsSchema,
      querystring: TaskQuerySchema,
      response: { 200: TaskSchema, ...problems(400, 401, 404, 503) }
    }
  }, async (request, reply) => {
    const { taskId } = request.params
    let task
    try {
      task = await longPoll({
        waiters: wakeups.tasks,
        key: taskId,
        seconds: request.query.wait,
        signal: hangUpSignal(reply),
        query: () => readTask(db, queues, taskId, request.userId),
        // Stop waiting once the task is finished, or when it is not the caller's to see.
        ready: (found) => found === undefined || found.state === 'completed' || found.state === 'failed'
      })
    } catch (error) {
      request.log.warn({ err: error }, 'task lookup failed')
      throw unavailable('QUEUE_UNAVAILABLE', 'The task cannot be looked up right now; try again shortly.')
    }
    if (task === undefined) throw httpErrors.notFound(`There is no task ${taskId}.`)
    return task
  })
}

export default taskRoutes
