import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { memberCountFor } from '../../core/memberships.js'
import { notAMemberOf } from '../member-room.js'
import { bearer, IdParamsSchema, problems } from '../schemas/common.js'
import { TypingBodySchema } from '../schemas/rooms.js'

/** Typing notices: passed on to the room's other members as they come, never stored. */
const typingRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, db, limits, wakeups } = fastify
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.post('/:id/typing', {
    schema: {
      tags: ['rooms'],
      operationId: 'setTyping',
      summary: 'Tell the room I am typing, or stopped',
      description: [
        'The room\'s other members get a `typing` event `{ roomId, userId, typing }` on their sockets and event streams, on',
        'whichever server holds them; nothing is stored. A start stands for 10 s: a client that goes on typing says so again',
        'every few seconds, and a receiver that hears nothing more for 10 s takes it as stopped. In a room of more than',
        '`TYPING_MAX_ROOM_MEMBERS` (100) members the notice is accepted and sent to no one. Members only: a public room I',
        'have not joined is 403 `JOIN_REQUIRED`, any other room 404. Limited per user (429 `RATE_LIMITED`). Also a socket',
        'frame: `{ "type": "typing", "roomId": 3, "typing": true }`.'
      ].join(' '),
      security: bearer,
      params: IdParamsSchema,
      body: TypingBodySchema,
      response: { 204: Type.Null({ description: 'Passed on' }), ...problems(403, 404, 429, 503) }
    },
    preHandler: limits.typingPerUser
  }, async (request, reply) => {
    const roomId = request.params.id
    const members = await memberCountFor(db, roomId, request.userId)
    if (members === undefined) throw await notAMemberOf(db, roomId)
    if (members <= config.TYPING_MAX_ROOM_MEMBERS) await wakeups.typing(roomId, request.userId, request.body.typing)
    return reply.code(204).send(null)
  })
}

export default typingRoutes
