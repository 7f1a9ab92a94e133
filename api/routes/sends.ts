import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Task } from '../../core/db/schema.js'
import { ensureDirectRoom } from '../../core/rooms.js'
import { findUserById } from '../../core/users.js'
import { addWithin, type SendMessagePayload } from '../../core/queue.js'
import { isConnected } from '../../core/redis.js'
import { createGroupCommit } from '../../core/group-commit.js'
import { createTasks, enqueueTask, isUnfinished, taskKinds, type NewTask } from '../../core/tasks.js'
import { HttpProblem, notFound } from '../errors.js'
import { bearer, IdParamsSchema, problems } from '../schemas/common.js'
import { AcceptedSchema, SendBodySchema, SendHeadersSchema } from '../schemas/messages.js'

/** How long a send waits for Redis to take its job before answering anyway: the task is committed already. */
const handOverWaitMs = 2000

const sendSchema = {
  security: bearer,
  params: IdParamsSchema,
  headers: SendHeadersSchema,
  body: SendBodySchema,
  response: { 202: AcceptedSchema, ...problems(404, 422, 429, 503) }
}

const sendRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, queues, limits } = fastify
  fastify.addHook('onRequest', fastify.authenticate)
  // Per user, a burst and a sustained rate; checked before any work, so a flood costs a Redis round trip each.
  fastify.addHook('preHandler', limits.sendBurst)
  fastify.addHook('preHandler', limits.sendSustained)
  // Sends arriving together are recorded together: one INSERT (with its membership check) for the lot.
  const recordTask = createGroupCommit((tasks: NewTask[]) => createTasks(db, tasks), { maxBatch: 200 })

  /**
   * Validated: record the task in Postgres (if I am a member of the room), hand it to the queue, answer 202. The API
   * never writes the message. From the COMMIT on the send is kept: if the hand-over fails, a worker's reconciler makes it.
   */
  async function acceptSend (request: FastifyRequest, reply: FastifyReply, roomId: number, text: string) {
    if (!isConnected(queues.connection)) {
      throw new HttpProblem(503, 'Sending is unavailable right now (the queue cannot be reached); nothing was sent. Try again shortly.', 'QUEUE_UNAVAILABLE')
    }
    const key = request.headers['idempotency-key']
    const accepted = await recordTask({
      kind: taskKinds.sendMessage,
      ownerId: request.userId,
      roomId,
      payload: { roomId, senderId: request.userId, text, requestId: String(request.id) } satisfies SendMessagePayload,
      idempotency: typeof key === 'string' ? { key, request: { route: request.routeOptions.url, params: request.params, text } } : undefined
    })
    if (accepted.outcome === 'not-a-member') throw notFound.room(roomId)
    if (accepted.outcome === 'conflict') {
      throw new HttpProblem(422, 'This Idempotency-Key was used for a different request.', 'IDEMPOTENCY_KEY_REUSED')
    }
    const { task } = accepted
    // A replay hands its task over again too: Redis may have lost the job since (a duplicate job id is a no-op).
    if (isUnfinished(task.state)) await handOver(request, task)
    const statusUrl = `/v1/tasks/${task.id}`
    return reply.code(202).header('location', statusUrl).send({ taskId: task.id, state: task.state, statusUrl })
  }

  /** Enqueues without letting a failing or slow Redis fail the request: the reconciler makes up for it. */
  async function handOver (request: FastifyRequest, task: Task) {
    try {
      if (!await addWithin(enqueueTask(queues, task), handOverWaitMs)) request.log.warn({ taskId: task.id }, 'enqueue is slow; answering now')
    } catch (error) {
      request.log.warn({ err: error, taskId: task.id }, 'enqueue failed; the reconciler will hand the task over')
    }
  }

  fastify.post('/rooms/:id/messages', {
    schema: {
      ...sendSchema,
      tags: ['messages'],
      operationId: 'sendToRoom',
      summary: 'Send a message to a room (asynchronous: 202 with a task id)',
      description: 'Checks the text (1–4000 characters, not only white space) and that I am a member (404 otherwise), enqueues the send and answers 202 at once; a worker stores the message. Follow `statusUrl` (or `Location`) for the outcome. Sends per user are limited in a short and a long window (429 `RATE_LIMITED` with `Retry-After`). With `Idempotency-Key`, a retry answers the same task and stores one message. 503 when the queue cannot be reached: nothing was sent.'
    }
  }, async (request, reply) => {
    return await acceptSend(request, reply, request.params.id, request.body.text)
  })

  fastify.post('/users/:id/messages', {
    schema: {
      ...sendSchema,
      tags: ['messages'],
      operationId: 'sendToUser',
      summary: 'Send a direct message to a user (asynchronous: 202 with a task id)',
      description: 'The direct room of the two users is created on first use; a pair of users has exactly one.'
    }
  }, async (request, reply) => {
    const otherId = request.params.id
    if (otherId === request.userId) throw new HttpProblem(422, 'You cannot send a direct message to yourself.', 'CANNOT_MESSAGE_SELF')
    if (await findUserById(db, otherId) === undefined) throw notFound.user(otherId)
    const roomId = await ensureDirectRoom(db, request.userId, otherId)
    return await acceptSend(request, reply, roomId, request.body.text)
  })
}

export default sendRoutes
