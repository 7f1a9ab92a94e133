import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { findTask, finishedTaskFromJson, isUnfinished, type FoundTask } from '../../core/tasks.js'
import { bearer, problems } from '../schemas/common.js'
import { TaskIdParamsSchema, TaskQuerySchema, TaskSchema } from '../schemas/tasks.js'
import { toTaskView } from '../task-view.js'
import { notFound } from '../errors.js'
import { hangUpSignal, longPoll } from '../long-poll.js'

const taskRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, wakeups, taskCache } = fastify
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.get('/:taskId', {
    schema: {
      tags: ['tasks'],
      operationId: 'getTask',
      summary: 'The state of a send, an edit or a delete, by task id',
      description: 'Answered from Postgres, where every accepted send is recorded before its 202, so it answers even if Redis lost its queues; a finished task is then answered from a Redis cache that an edit or delete of its message clears before it is done, and its `ETag` is its message\'s change number, so `If-None-Match` gets 304 without a query. Only the task\'s owner sees it (anyone else gets 404). `completed` carries the stored message in `result`; `failed` says why in `error.code` (`NOT_A_MEMBER`; for an edit or delete `MESSAGE_NOT_FOUND`, `NOT_THE_AUTHOR` or `MESSAGE_DELETED`; or `SEND_FAILED` / `CHANGE_FAILED` when it could not be done before its deadline, 24 h by default). Finished tasks stay answerable for 24 h by default. `?wait=N` (≤ 30 s) holds the request until the task finishes or N seconds pass.',
      security: bearer,
      params: TaskIdParamsSchema,
      querystring: TaskQuerySchema,
      response: { 200: TaskSchema, ...problems(404, 503) }
    }
  }, async (request, reply) => {
    const { taskId } = request.params
    // A finished task changes only when its message does, and that marks its cached answer first: no query.
    const cached = await taskCache.get(taskId)
    if (cached !== undefined) {
      if (cached.ownerId !== request.userId) throw notFound.task(taskId)
      return sendFinished(reply, cached.stamp, cached.body)
    }

    // A task's outcome is told on its owner's channel: held here while this waits (only the owner sees the task).
    const held = request.query.wait > 0 ? wakeups.holdUser(request.userId) : undefined
    if (held !== undefined) wakeups.holding(reply)
    await held?.ready
    // The answer a wake-up brought, once it is in the cache (so no edit or delete of its message came since).
    let told: { stamp: number, body: string } | undefined
    const found = await longPoll({
      waiters: wakeups.tasks,
      key: taskId,
      seconds: request.query.wait,
      signal: hangUpSignal(reply),
      query: async (): Promise<FoundTask | undefined> => {
        const carried = wakeups.finishedTask(taskId)
        if (carried !== undefined) {
          const finished = finishedTaskFromJson(carried)
          const answer = finishedAnswer(reply, finished)
          // Kept only if no change of its message marked the task since it finished; otherwise read it again.
          if (finished.task.owner_id === request.userId && await taskCache.fill(taskId, { ownerId: request.userId, ...answer })) {
            told = answer
            return finished
          }
        }
        const found = await findTask(db, taskId)
        return found === undefined || found.task.owner_id !== request.userId ? undefined : found
      },
      // Stop waiting once the task is finished, or when it is not the caller's to see.
      ready: (found) => found === undefined || !isUnfinished(found.task.state)
    }).finally(() => held?.release())
    if (found === undefined) throw notFound.task(taskId)
    if (told !== undefined) return sendFinished(reply, told.stamp, told.body)
    if (isUnfinished(found.task.state)) return toTaskView(found.task, found.message)

    const answer = finishedAnswer(reply, found)
    await taskCache.fill(taskId, { ownerId: found.task.owner_id, ...answer })
    return sendFinished(reply, answer.stamp, answer.body)
  })
}

/** A finished task's answer as the route serializes it, and its stamp: its message's change number (0 for none). */
function finishedAnswer (reply: FastifyReply, found: FoundTask): { stamp: number, body: string } {
  return { stamp: found.message?.change_seq ?? 0, body: reply.serialize(toTaskView(found.task, found.message)) as string }
}

/**
 * A finished task's answer, as the route serialized it (a string with a JSON type skips serialization), tagged by
 * its message's change number: the only thing that can change it, so a poller's If-None-Match costs no hashing.
 */
function sendFinished (reply: FastifyReply, stamp: number, body: string): FastifyReply {
  return reply.header('etag', `W/"t${stamp}"`).type('application/json; charset=utf-8').send(body)
}

export default taskRoutes
