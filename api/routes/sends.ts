import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ensureDirectRoom, isMember } from '../../core/rooms.js'
import { findUserById } from '../../core/users.js'
import { claimIdempotencyKey } from '../idempotency.js'
import { unavailable, withCode } from '../plugins/app/problem-details.js'
import { bearer, IdParamsSchema, problems } from '../schemas/common.js'
import { AcceptedSchema, SendBodySchema, SendHeadersSchema } from '../schemas/messages.js'
import { readTask } from '../task-view.js'

const sendSchema = {
  security: bearer,
  params: IdParamsSchema,
  headers: SendHeadersSchema,
  body: SendBodySchema,
  response: { 202: AcceptedSchema, ...problems(400, 401, 404, 413, 415, 422, 503) }
}

const sendRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, db, redis, queues, httpErrors } = fastify
  fastify.addHook('onRequest', fastify.authenticate)

  /** Validated and authorised: hand the send to the queue (the API never writes the message) and answer 202. */
  async function acceptSend (request: FastifyRequest, reply: FastifyReply, roomId: number, text: string) {
    const userId = request.userId
    const key = request.headers['idempotency-key']
    let taskId: string = randomUUID()
    let replay = false
    try {
      if (typeof key === 'string') {
        const claim = await claimIdempotencyKey(redis, {
          prefix: config.REDIS_PREFIX,
          userId,
          key,
          request: { route: request.routeOptions.url, params: request.params, text },
          taskId
        })
        if (claim.outcome === 'conflict') {
          throw withCode(httpErrors.unprocessableEntity('This Idempotency-Key was used for a different request.'), 'IDEMPOTENCY_KEY_REUSED')
        }
        if (claim.outcome === 'replay') {
          taskId = claim.taskId
          replay = true
        }
      }
      // The job id is the task id: a replayed key, or a retried request, cannot queue a second job.
      await queues.sendMessage.add('send-message', { roomId, senderId: userId, text, requestId: String(request.id) }, { jobId: taskId })
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== undefined) throw error
      request.log.warn({ err: error }, 'enqueue failed')
      throw unavailable('QUEUE_UNAVAILABLE', 'Sending is unavailable right now (the queue cannot be reached); nothing was sent. Try again shortly.')
    }
    // A new send is queued by definition; a replayed one may have finished since, so it says how it stands.
    const task = replay ? await readTask(db, queues, taskId, userId).catch(() => undefined) : undefined
    const statusUrl = `/v1/tasks/${taskId}`
    return reply.code(202).header('location', statusUrl).send({ taskId, state: task?.state ?? 'queued', statusUrl })
  }

  fastify.post('/rooms/:id/messages', {
    schema: {
      ...sendSchema,
      tags: ['messages'],
      operationId: 'sendToRoom',
      summary: 'Send a message to a room (asynchronous: 202 with a task id)',
      description: 'Checks the text (1–4000 characters, not only white space) and that I am a member (404 otherwise), enqueues the send and answers 202 at once; a worker stores the message. Follow `statusUrl` (or `Location`) for the outcome. With `Idempotency-Key`, a retry answers the same task and stores one message. 503 when the queue cannot be reached: nothing was sent.'
    }
  }, async (request, reply) => {
    const roomId = request.params.id
    if (!await isMember(db, roomId, request.userId)) throw httpErrors.notFound(`There is no room ${roomId}.`)
    return await acceptSend(request, reply, roomId, request.body.text)
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
    if (otherId === request.userId) throw withCode(httpErrors.unprocessableEntity('You cannot send a direct message to yourself.'), 'CANNOT_MESSAGE_SELF')
    if (await findUserById(db, otherId) === undefined) throw httpErrors.notFound(`There is no user ${otherId}.`)
    const roomId = await ensureDirectRoom(db, request.userId, otherId)
    return await acceptSend(request, reply, roomId, request.body.text)
  })
}

export default sendRoutes
