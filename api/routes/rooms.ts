import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { membershipOf } from '../../core/memberships.js'
import { readRoomHistoryJson } from '../../core/messages.js'
import { markSeenUpTo } from '../../core/read-state.js'
import { createGroupRoom, listPublicRooms, listRoomsForMember, updateGroupRoom } from '../../core/rooms.js'
import { usersExist } from '../../core/users.js'
import { toPage } from '../cursor.js'
import { HttpProblem, notFound } from '../errors.js'
import { memberRoomView } from '../member-room.js'
import { requireOwner } from '../room-roles.js'
import { bearer, IdParamsSchema, PageQuerySchema, PageSchema, problems } from '../schemas/common.js'
import { MessageSchema } from '../schemas/messages.js'
import {
  CreateRoomBodySchema, PublicRoomSchema, PublicRoomsQuerySchema, ReadBodySchema, RoomSchema, toPublicRoomView, toRoomView, UpdateRoomBodySchema
} from '../schemas/rooms.js'

const roomRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, limits, cursors, laggingReads } = fastify
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.get('', {
    schema: {
      tags: ['rooms'],
      operationId: 'listRooms',
      summary: 'My rooms, each with its unread count and last message',
      description: 'In room id order, `limit` per page (≤ 200).',
      security: bearer,
      querystring: PageQuerySchema,
      response: { 200: PageSchema(RoomSchema), ...problems(503) }
    }
  }, async (request) => {
    const { cursor, limit } = request.query
    const afterId = cursor === undefined ? 0 : cursors.openPage(cursor, 'id')
    const rooms = await listRoomsForMember(db, request.userId, afterId, limit)
    return toPage(rooms, toRoomView, (room) => cursors.sealPage('id', room.id))
  })

  fastify.post('', {
    preHandler: limits.roomWrites,
    schema: {
      tags: ['rooms'],
      operationId: 'createRoom',
      summary: 'Create a group room',
      description: 'The creator is always a member, and the room\'s first owner. Every id in `memberIds` must be an existing user (422 otherwise); they are members at once (as when a Slack or Zulip user adds colleagues to a channel), and any of them may leave. `visibility` is `public` unless said otherwise. Rooms created and members added count towards a per-user limit (429 `RATE_LIMITED` with `Retry-After`).',
      security: bearer,
      body: CreateRoomBodySchema,
      response: { 201: RoomSchema, ...problems(422, 429, 503) }
    }
  }, async (request, reply) => {
    const { name, memberIds, visibility } = request.body
    if (!await usersExist(db, memberIds)) throw new HttpProblem(422, 'Some memberIds are not users.', 'UNKNOWN_USERS')
    const roomId = await createGroupRoom(db, { name: name.trim(), creatorId: request.userId, memberIds, visibility })
    return reply.code(201).header('location', `/v1/rooms/${roomId}`).send(await memberRoomView(db, roomId, request.userId))
  })

  fastify.get('/:id', {
    schema: {
      tags: ['rooms'],
      operationId: 'getRoom',
      summary: 'One of my rooms',
      description: 'A room I am not in answers 404, the same as a missing one.',
      security: bearer,
      params: IdParamsSchema,
      response: { 200: RoomSchema, ...problems(404, 503) }
    }
  }, async (request) => await memberRoomView(db, request.params.id, request.userId))

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
    await requireOwner(db, roomId, request.userId)
    const { name, visibility } = request.body
    await updateGroupRoom(db, roomId, { name: name?.trim(), visibility })
    return await memberRoomView(db, roomId, request.userId)
  })

  fastify.get('/:id/messages', {
    schema: {
      tags: ['rooms'],
      operationId: 'listRoomMessages',
      summary: 'A room\'s history, newest first',
      description: 'Pages by seq: pass `nextCursor` back as `cursor` for older messages. `limit` ≤ 200. Reading history does not mark anything seen. Where a read replica serves history, a message stored a moment ago may be missing for as long as the replica is behind (the unseen feed never lags).',
      security: bearer,
      params: IdParamsSchema,
      querystring: PageQuerySchema,
      response: { 200: PageSchema(MessageSchema), ...problems(404, 503) }
    }
  }, async (request, reply) => {
    const roomId = request.params.id
    const { cursor, limit } = request.query
    const beforeSeq = cursor === undefined ? Number.MAX_SAFE_INTEGER : cursors.openPage(cursor, 'seq')
    const isMember = async () => await membershipOf(db, roomId, request.userId) !== undefined
    // Membership on the primary (a member just added may read at once); the history itself may lag. Without a
    // replica both are one statement, and only an empty page asks whether it was empty for want of membership.
    const page = laggingReads.replicaInUse()
      ? await isMember() ? await laggingReads.run(async (source) => await readRoomHistoryJson(source, roomId, beforeSeq, limit)) : undefined
      : await laggingReads.onPrimary(async (primary) => {
        const page = await readRoomHistoryJson(primary, roomId, beforeSeq, limit, request.userId)
        return page.lastSeq !== null || await isMember() ? page : undefined
      })
    if (page === undefined) throw notFound.room(roomId)
    const nextCursor = page.hasMore && page.lastSeq !== null ? JSON.stringify(cursors.sealPage('seq', page.lastSeq)) : 'null'
    // Postgres wrote the messages as this answer shows them: a string with a JSON type goes out as it is.
    return (reply as FastifyReply).type('application/json; charset=utf-8').send(`{"items":${page.items},"nextCursor":${nextCursor}}`)
  })

  fastify.post('/:id/read', {
    schema: {
      tags: ['rooms'],
      operationId: 'markRoomRead',
      summary: 'Move my read watermark forward',
      description: 'Messages up to `seq` count as read (and seen: they leave the unseen feed). The watermark never moves back and never past the room\'s last message.',
      security: bearer,
      params: IdParamsSchema,
      body: ReadBodySchema,
      response: { 200: RoomSchema, ...problems(404, 503) }
    }
  }, async (request) => {
    const roomId = request.params.id
    const moved = await markSeenUpTo(db, request.userId, new Map([[roomId, request.body.seq]]))
    if (!moved.has(roomId)) throw notFound.room(roomId)
    await fastify.wakeups.readUpdated(request.userId, roomId, moved.get(roomId) ?? request.body.seq)
    return await memberRoomView(db, roomId, request.userId)
  })

  fastify.get('/public', {
    schema: {
      tags: ['rooms'],
      operationId: 'listPublicRooms',
      summary: 'Public group rooms anyone may join, with their member counts',
      description: 'In room id order, `limit` per page (≤ 200); `q` keeps the rooms whose name contains it. Private rooms are never listed. Join one with `PUT /v1/rooms/{id}/members/me`. Where a read replica serves this list, it may be as old as the replica.',
      security: bearer,
      querystring: PublicRoomsQuerySchema,
      response: { 200: PageSchema(PublicRoomSchema), ...problems(503) }
    }
  }, async (request) => {
    const { cursor, limit, q } = request.query
    const afterId = cursor === undefined ? 0 : cursors.openPage(cursor, 'id')
    const rooms = await laggingReads.run(async (source) => await listPublicRooms(source, { userId: request.userId, afterId, limit, nameContains: q }))
    return toPage(rooms, toPublicRoomView, (room) => cursors.sealPage('id', room.id))
  })
}

export default roomRoutes
