import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { addToGroupRoom, grantOwner, joinGroupRoom, leaveRoom, removeFromGroupRoom } from '../../core/memberships.js'
import { findUserById } from '../../core/users.js'
import { HttpProblem, notFound } from '../errors.js'
import { memberRoomView } from '../member-room.js'
import { groupRoleOf, requireOwner } from '../room-roles.js'
import { bearer, IdParamsSchema, problems } from '../schemas/common.js'
import { MemberParamsSchema, RoomSchema } from '../schemas/rooms.js'

/** Who is in a room and who owns it: joining and leaving, adding and removing people, making owners. */
const memberRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, limits, wakeups } = fastify
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.put('/:id/members/me', {
    schema: {
      tags: ['rooms'],
      operationId: 'joinRoom',
      summary: 'Join a public group room',
      description: 'Idempotent. A new member starts with the room\'s earlier messages counted as seen. Joining a private room or a direct room is 404, unless I am in it already (then it answers the room, as for any room I am in): a private room is joined only by a member adding me.',
      security: bearer,
      params: IdParamsSchema,
      response: { 200: RoomSchema, ...problems(404, 503) }
    }
  }, async (request) => {
    const roomId = request.params.id
    const outcome = await joinGroupRoom(db, roomId, request.userId)
    if (outcome === 'joined') await wakeups.membershipChanged(request.userId, { id: roomId, change: 'joined' })
    // Not a group room: 404, unless it is a direct room of mine, which I am in already.
    return await memberRoomView(db, roomId, request.userId)
  })

  fastify.delete('/:id/members/me', {
    schema: {
      tags: ['rooms'],
      operationId: 'leaveRoom',
      summary: 'Leave a group room',
      description: 'After leaving, the room and its messages are 404 and nothing new from it reaches my feed. A direct room cannot be left (409).',
      security: bearer,
      params: IdParamsSchema,
      response: { 204: Type.Null({ description: 'Left' }), ...problems(404, 409, 503) }
    }
  }, async (request, reply) => {
    const roomId = request.params.id
    const outcome = await leaveRoom(db, roomId, request.userId)
    if (outcome === 'not-member') throw notFound.room(roomId)
    if (outcome === 'direct') throw new HttpProblem(409, 'A direct room cannot be left.', 'CANNOT_LEAVE_DIRECT_ROOM')
    await wakeups.membershipChanged(request.userId, { id: roomId, change: 'left' })
    return reply.code(204).send(null)
  })

  fastify.put('/:id/members/:userId', {
    preHandler: limits.roomWrites,
    schema: {
      tags: ['rooms'],
      operationId: 'addRoomMember',
      summary: 'Add someone to a group room I am in',
      description: 'Any member may add people, to a public or a private room; the new member starts with the room\'s earlier messages counted as seen, and may leave at any time. Idempotent. Rooms created and members added count towards a per-user limit (429 `RATE_LIMITED` with `Retry-After`).',
      security: bearer,
      params: MemberParamsSchema,
      response: { 200: RoomSchema, ...problems(404, 409, 429, 503) }
    }
  }, async (request) => {
    const { id: roomId, userId } = request.params
    await groupRoleOf(db, roomId, request.userId)
    if (await findUserById(db, userId) === undefined) throw notFound.user(userId)
    if (await addToGroupRoom(db, roomId, userId) === 'joined') await wakeups.membershipChanged(userId)
    return await memberRoomView(db, roomId, request.userId)
  })

  fastify.delete('/:id/members/:userId', {
    schema: {
      tags: ['rooms'],
      operationId: 'removeRoomMember',
      summary: 'Remove someone from a group room (owners)',
      description: 'The removed user no longer sees the room or gets its messages. Removing myself is leaving. When the last owner goes, the longest-standing member becomes one.',
      security: bearer,
      params: MemberParamsSchema,
      response: { 204: Type.Null({ description: 'Removed' }), ...problems(403, 404, 409, 503) }
    }
  }, async (request, reply) => {
    const { id: roomId, userId } = request.params
    if (userId === request.userId) await groupRoleOf(db, roomId, userId)
    else await requireOwner(db, roomId, request.userId)
    if (!await removeFromGroupRoom(db, roomId, userId)) throw new HttpProblem(404, `User ${userId} is not in room ${roomId}.`)
    await wakeups.membershipChanged(userId)
    return reply.code(204).send(null)
  })

  fastify.put('/:id/owners/:userId', {
    schema: {
      tags: ['rooms'],
      operationId: 'grantRoomOwner',
      summary: 'Make a member an owner of a group room (owners)',
      description: 'Idempotent. An owner stops being one only by leaving the room.',
      security: bearer,
      params: MemberParamsSchema,
      response: { 200: RoomSchema, ...problems(403, 404, 409, 503) }
    }
  }, async (request) => {
    const { id: roomId, userId } = request.params
    await requireOwner(db, roomId, request.userId)
    if (!await grantOwner(db, roomId, userId)) throw new HttpProblem(404, `User ${userId} is not in room ${roomId}.`)
    return await memberRoomView(db, roomId, request.userId)
  })
}

export default memberRoutes
