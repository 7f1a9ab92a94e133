import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { addToGroupRoom, grantOwner, membershipOf, removeFromGroupRoom } from '../../core/memberships.js'
import { listPublicRooms, updateGroupRoom } from '../../core/rooms.js'
import { findUserById } from '../../core/users.js'
import { decodePositionCursor, encodeCursor, toPage } from '../cursor.js'
import { HttpProblem, notFound } from '../errors.js'
import { memberRoomView } from '../member-room.js'
import { bearer, IdParamsSchema, PageSchema, problems } from '../schemas/common.js'
import {
  MemberParamsSchema, PublicRoomSchema, PublicRoomsQuerySchema, RoomSchema, toPublicRoomView, UpdateRoomBodySchema
} from '../schemas/rooms.js'

/**
 * Who may do what in a group room: any member may add people (public or private: the Slack and Zulip model, where
 * people of one workspace add each other); owners rename the room, change its visibility, remove members and make
 * other members owners. Its creator is its first owner. A room I am not in is 404 here, as everywhere.
 */
const memberRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, limits, wakeups } = fastify
  fastify.addHook('onRequest', fastify.authenticate)

  /** The caller's role in a group room they are in; 404 if they are not in it, 409 for a direct room. */
  async function groupRoleOf (roomId: number, userId: number) {
    const membership = await membershipOf(db, roomId, userId)
    if (membership === undefined) throw notFound.room(roomId)
    if (membership.kind !== 'group') throw new HttpProblem(409, 'A direct room has its two members for good.', 'NOT_A_GROUP_ROOM')
    return membership.role
  }

  async function requireOwner (roomId: number, userId: number) {
    if (await groupRoleOf(roomId, userId) !== 'owner') {
      throw new HttpProblem(403, 'Only an owner of this room may do that.', 'NOT_ROOM_OWNER')
    }
  }

  fastify.get('/public', {
    schema: {
      tags: ['rooms'],
      operationId: 'listPublicRooms',
      summary: 'Public group rooms anyone may join, with their member counts',
      description: 'In room id order, `limit` per page (≤ 200); `q` keeps the rooms whose name contains it. Private rooms are never listed. Join one with `PUT /v1/rooms/{id}/members/me`.',
      security: bearer,
      querystring: PublicRoomsQuerySchema,
      response: { 200: PageSchema(PublicRoomSchema), ...problems(503) }
    }
  }, async (request) => {
    const { cursor, limit, q } = request.query
    const afterId = cursor === undefined ? 0 : decodePositionCursor(cursor, 'id')
    const rooms = await listPublicRooms(db, { userId: request.userId, afterId, limit, nameContains: q })
    return toPage(rooms, toPublicRoomView, (room) => encodeCursor('id', room.id))
  })

  fastify.patch('/:id', {
    schema: {
      tags: ['rooms'],
      operationId: 'updateRoom',
      summary: 'Rename a group room or change its visibility (owners)',
      description: 'Making a room private takes it out of the public list and stops anyone joining by id; its members stay. 403 `NOT_ROOM_OWNER` for a member who is not an owner.',
      security: bearer,
      params: IdParamsSchema,
      body: UpdateRoomBodySchema,
      response: { 200: RoomSchema, ...problems(403, 404, 409, 503) }
    }
  }, async (request) => {
    const roomId = request.params.id
    await requireOwner(roomId, request.userId)
    const { name, visibility } = request.body
    await updateGroupRoom(db, roomId, { name: name?.trim(), visibility })
    return await memberRoomView(db, roomId, request.userId)
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
    await groupRoleOf(roomId, request.userId)
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
    if (userId === request.userId) await groupRoleOf(roomId, userId)
    else await requireOwner(roomId, request.userId)
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
    await requireOwner(roomId, request.userId)
    if (!await grantOwner(db, roomId, userId)) throw new HttpProblem(404, `User ${userId} is not in room ${roomId}.`)
    return await memberRoomView(db, roomId, request.userId)
  })
}

export default memberRoutes
