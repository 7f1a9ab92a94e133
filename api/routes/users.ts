import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Counter } from 'prom-client'
import { hashPassword } from '../../core/password.js'
import { revokeFamiliesOf } from '../../core/refresh-tokens.js'
import { findUserById, isPasswordOf, listUsers, updateUser } from '../../core/users.js'
import { toPage } from '../cursor.js'
import { HttpProblem, notFound } from '../errors.js'
import { bearer, IdParamsSchema, PageQuerySchema, PageSchema, problems } from '../schemas/common.js'
import { Type } from 'typebox'
import { ChangePasswordSchema, toUserView, UpdateMeSchema, UserSchema } from '../schemas/users.js'

const UserPageSchema = PageSchema(UserSchema)

/** A page's ETag: the users cache's version (the page's own parameters are in its URL). */
const pageTag = (version: string) => `W/"u${version}"`

const userRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, usersCache, cursors, laggingReads } = fastify
  fastify.addHook('onRequest', fastify.authenticate)
  const cacheRequests = new Counter({
    name: 'pigeon_users_cache_requests_total',
    help: 'User list pages served from the Redis cache (hit) or from Postgres (miss)',
    labelNames: ['result'],
    registers: [fastify.metrics.registry]
  })

  fastify.get('', {
    schema: {
      tags: ['users'],
      operationId: 'listUsers',
      summary: 'List users',
      description: 'In id order, `limit` per page (≤ 200). Served from a Redis cache that every user create or update invalidates; answers from Postgres when Redis is down. Send `If-None-Match` with the last `ETag` to get 304 when nothing changed.',
      security: bearer,
      querystring: PageQuerySchema,
      response: { 200: UserPageSchema, ...problems(503) }
    }
  }, async (request, reply) => {
    const { cursor, limit } = request.query
    const afterId = cursor === undefined ? 0 : cursors.openPage(cursor, 'id')
    const page = `${afterId}:${limit}`
    // A page changes only with the version, so the version tags it: a poller holding it gets 304 for one Redis read.
    const held = request.headers['if-none-match']
    if (held !== undefined) {
      const version = await usersCache.version()
      if (version !== null && held === pageTag(version)) return (reply as FastifyReply).code(304).header('etag', held).send()
    }
    const cached = await usersCache.getPage(page)
    if (cached.version !== null) reply.header('etag', pageTag(cached.version))
    const result = cached.body === null ? 'miss' : 'hit'
    reply.header('x-cache', result)
    cacheRequests.inc({ result })
    // The page is kept as the bytes the route's serializer wrote, and sent as they are: a string with a JSON
    // content type skips serialization, so a hit costs no parse and no re-encoding.
    const sendSerialized = (text: string) => (reply as FastifyReply).type('application/json; charset=utf-8').send(text)
    if (cached.body !== null) return sendSerialized(cached.body)

    // From the read replica once it has replayed the last user change (else the primary): a page cached under this
    // version must not miss that change.
    const users = await laggingReads.runCaughtUpTo(cached.position, async (source) => await listUsers(source, afterId, limit))
    const body = reply.serialize(toPage(users, toUserView, (user) => cursors.sealPage('id', user.id))) as string
    if (cached.version !== null) await usersCache.setPage(cached.version, page, body)
    return sendSerialized(body)
  })

  fastify.get('/me', {
    schema: {
      tags: ['users'],
      operationId: 'getMe',
      summary: 'The user behind the access token',
      description: 'Handy for a client to learn its own id after logging in.',
      security: bearer,
      response: { 200: UserSchema, ...problems(404, 503) }
    }
  }, async (request) => {
    const user = await findUserById(db, request.userId)
    if (user === undefined) throw notFound.me()
    return toUserView(user)
  })

  fastify.patch('/me', {
    schema: {
      tags: ['users'],
      operationId: 'updateMe',
      summary: 'Change my display name, status or status message',
      description: 'Send only the fields to change (at least one). `status` is `online`, `busy` or `offline`; an empty `statusMessage` clears it. The user list everyone sees changes at once.',
      security: bearer,
      body: UpdateMeSchema,
      response: { 200: UserSchema, ...problems(404, 503) }
    }
  }, async (request) => {
    const { displayName, status, statusMessage } = request.body
    const user = await updateUser(db, request.userId, { display_name: displayName, status, status_message: statusMessage })
    if (user === undefined) throw notFound.me()
    await usersCache.invalidate()
    return toUserView(user)
  })

  fastify.post('/me/password', {
    schema: {
      tags: ['users'],
      operationId: 'changePassword',
      summary: 'Change my password, ending every other login',
      description: 'The current password is required (403 `INVALID_CREDENTIALS` when wrong). Every other login of mine ends at once, on every server: their refresh and access tokens stop working (401 `SESSION_ENDED`) and their sockets and streams end. This login goes on. Attempts, right or wrong, are limited per user (429 `RATE_LIMITED`).',
      security: bearer,
      body: ChangePasswordSchema,
      response: { 204: Type.Null({ description: 'Changed' }), ...problems(403, 429, 503) }
    },
    preHandler: fastify.limits.passwordChangePerUser
  }, async (request, reply) => {
    const { currentPassword, newPassword } = request.body
    if (!await isPasswordOf(db, request.userId, currentPassword)) {
      throw new HttpProblem(403, 'The current password is wrong.', 'INVALID_CREDENTIALS')
    }
    await updateUser(db, request.userId, { password_hash: await hashPassword(newPassword) })
    const others = await revokeFamiliesOf(db, request.userId, request.access?.familyId)
    await fastify.sessions.ended(request.userId, others)
    return reply.code(204).send(null)
  })

  fastify.get('/:id', {
    schema: {
      tags: ['users'],
      operationId: 'getUser',
      summary: 'One user',
      description: 'Any user, by id; 404 when there is none.',
      security: bearer,
      params: IdParamsSchema,
      response: { 200: UserSchema, ...problems(404, 503) }
    }
  }, async (request) => {
    const user = await findUserById(db, request.params.id)
    if (user === undefined) throw notFound.user(request.params.id)
    return toUserView(user)
  })
}

export default userRoutes
