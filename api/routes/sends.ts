import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ensureDirectRoom } from '../../core/rooms.js'
import { findUserById } from '../../core/users.js'
import type { SendMessagePayload } from '../../core/queue.js'
import { taskKinds } from '../../core/db/schema.js'
import { createTaskAcceptor } from '../accept-task.js'
import { HttpProblem, notFound } from '../errors.js'
import { notAMemberOf } from '../member-room.js'
import { bearer, IdParamsSchema, problems } from '../schemas/common.js'
import { AcceptedSchema, SendBodySchema, SendHeadersSchema } from '../schemas/messages.js'

const sendSchema = {
  security: bearer,
  params: IdParamsSchema,
  headers: SendHeadersSchema,
  body: SendBodySchema,
  response: { 202: AcceptedSchema, ...problems(404, 422, 429, 503) }
}

const sendRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, limits } = fastify
  fastify.addHook('onRequest', fastify.authenticate)
  const acceptTask = createTaskAcceptor(fastify)

  /**
   * Validated: a send task for the room, if I am a member of it. The API never writes the message.
   */
  async function acceptSend (request: FastifyRequest, reply: FastifyReply, roomId: number, text: string) {
    return await acceptTask(request, reply, {
      kind: taskKinds.sendMessage,
      roomId,
      payload: { roomId, senderId: request.userId, text, requestId: String(request.id) } satisfies SendMessagePayload,
      body: { text },
      notAMember: async () => await notAMemberOf(db, roomId)
    })
  }

  fastify.post('/rooms/:id/messages', {
    preHandler: limits.sends,
    schema: {
      ...sendSchema,
      response: { ...sendSchema.response, ...problems(403) },
      tags: ['messages'],
      operationId: 'sendToRoom',
      summary: 'Send a message to a room (asynchronous: 202 with a task id)',
      description: 'Checks the text (1–4000 characters, not only white space) and that I am a member (a public room I have not joined: 403 `JOIN_REQUIRED`, join it with `PUT /v1/rooms/{id}/members/me`; any other room: 404), enqueues the send and answers 202 at once; a worker stores the message. Follow `statusUrl` (or `Location`) for the outcome. Sends per user are limited in a short and a long window (429 `RATE_LIMITED` with `Retry-After`). With `Idempotency-Key`, a retry answers the same task and stores one message. 503 when the queue cannot be reached: nothing was sent.'
    }
  }, async (request, reply) => {
    return await acceptSend(request, reply, request.params.id, request.body.text)
  })

  fastify.post('/users/:id/messages', {
    preHandler: limits.sends,
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
