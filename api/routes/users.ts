import { createHash } from 'node:crypto'
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
import type { PresenceView } from '../presence.js'
import { createShortMemo } from '../short-memo.js'
import { ChangePasswordSchema, PresenceReportSchema, toUserView, UpdateMeSchema, UserWithPresenceSchema, type UserView } from '../schemas/users.js'

const UserPageSchema = PageSchema(UserWithPresenceSchema)

/** How old the presence in a users page may be: a page is answered from this process's memory for that long. */
const presenceLagMs = 1000

/** A users page as it was answered: the serializer's bytes, and its tag. */
interface AnsweredPage { body: string, tag: string }

/** The page's own bytes (a string with a JSON type is not serialized again), tagged; a matching If-None-Match gets 304. */
function sendPage (reply: FastifyReply, page: AnsweredPage): FastifyReply {
  return reply.header('etag', page.tag).type('application/json; charset=utf-8').send(page.body)
}

/**
 * A page's ETag: the users cache's version (the page's own parameters are in its URL) and a digest of its users'
 * presence, which is not in the cache and changes by itself: a page whose users came online is a new page.
 */
function pageTag (version: string, items: Array<{ id: number, presence: string, lastActiveAt: string | null }>): string {
  const seen = createHash('sha1').update(items.map((user) => `${user.id}:${user.presence}:${user.lastActiveAt ?? ''}`).join(',')).digest('base64url')
  return `W/"u${version}-${seen.slice(0, 16)}"`
}

const userRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, usersCache, cursors, laggingReads, presence } = fastify
  /** Users with their presence now: read after the cache, never kept in it. */
  const withPresence = async (users: UserView[]) => {
    const views = await presence.of(users)
    return users.map((user) => ({ ...user, ...views.get(user.id) as PresenceView }))
  }
  fastify.addHook('onRequest', fastify.authenticate)
  const cacheRequests = new Counter({
    name: 'pigeon_users_cache_requests_total',
    help: 'User list pages served from a cache (hit: this process\'s recent answer, or Redis) or from Postgres (miss)',
    labelNames: ['result'],
    registers: [fastify.metrics.registry]
  })
  const served = (reply: FastifyReply, result: 'hit' | 'miss') => {
    reply.header('x-cache', result)
    cacheRequests.inc({ result })
  }
  // Each page as this process last answered it, with its presence: many clients polling a page cost one read of its
  // users' presence a second here, not one per user per request. A presence change made or seen here drops them all.
  const answered = createShortMemo<AnsweredPage>({ maxAgeMs: presenceLagMs, maxEntries: 256 })
  presence.onChange(() => answered.changed())

  fastify.get('', {
    schema: {
      tags: ['users'],
      operationId: 'listUsers',
      summary: 'List users',
      description: `In id order, \`limit\` per page (≤ 200). Served from a Redis cache that every user create or update invalidates (a change shows at once, on every server); answers from Postgres when Redis is down. Each user's \`presence\` and \`lastActiveAt\` come from Redis, never cached with the list: a server reads them for a page at most once every ${presenceLagMs / 1000} s and answers that page from memory in between, so they may be up to ${presenceLagMs / 1000} s old (a change made or seen by the server answering shows at once; \`GET /v1/users/{id}\` reads them at every request). While Redis is down: \`offline\`, or \`busy\` if set by hand. Send \`If-None-Match\` with the last \`ETag\` to get 304 when nothing changed.`,
      security: bearer,
      querystring: PageQuerySchema,
      response: { 200: UserPageSchema, ...problems(503) }
    }
  }, async (request, reply) => {
    const { cursor, limit } = request.query
    const afterId = cursor === undefined ? 0 : cursors.openPage(cursor, 'id')
    const page = `${afterId}:${limit}`
    // The users change only with the cache's version, which is read at every request; presence may lag a second.
    const version = await usersCache.version()
    const recent = version === null ? undefined : answered.get(`${version}|${page}`)
    if (recent !== undefined) {
      served(reply, 'hit')
      return sendPage(reply, recent)
    }

    const ticket = answered.begin()
    // Redis did not answer just now: Postgres, without waiting on it a second time.
    const cached = version === null ? { version: null, body: null, position: null } : await usersCache.getPage(page)
    served(reply, cached.body === null ? 'miss' : 'hit')
    // The page is kept without presence, which changes by the second; presence is merged in after it.
    let body = cached.body
    if (body === null) {
      // From the read replica once it has replayed the last user change (else the primary): a page cached under this
      // version must not miss that change.
      const users = await laggingReads.runCaughtUpTo(cached.position, async (source) => await listUsers(source, afterId, limit))
      body = JSON.stringify(toPage(users, toUserView, (user) => cursors.sealPage('id', user.id)))
      if (cached.version !== null) await usersCache.setPage(cached.version, page, body)
    }
    const users = JSON.parse(body) as { items: UserView[], nextCursor: string | null }
    const items = await withPresence(users.items)
    const answer = { items, nextCursor: users.nextCursor }
    // Without Redis there is no version to name: the ETag is the answer's hash.
    if (cached.version === null) return answer
    const made = { body: reply.serialize(answer) as string, tag: pageTag(cached.version, items) }
    answered.set(`${cached.version}|${page}`, made, ticket)
    return sendPage(reply, made)
  })

  fastify.get('/me', {
    schema: {
      tags: ['users'],
      operationId: 'getMe',
      summary: 'The user behind the access token',
      description: 'Handy for a client to learn its own id after logging in. With my presence as others see it.',
      security: bearer,
      response: { 200: UserWithPresenceSchema, ...problems(404, 503) }
    }
  }, async (request) => {
    const user = await findUserById(db, request.userId)
    if (user === undefined) throw notFound.me()
    const [view] = await withPresence([toUserView(user)])
    return view
  })

  fastify.patch('/me', {
    schema: {
      tags: ['users'],
      operationId: 'updateMe',
      summary: 'Change my display name, status or status message',
      description: 'Send only the fields to change (at least one). `status` is `online`, `busy` or `offline`; an empty `statusMessage` clears it. The user list everyone sees changes at once.',
      security: bearer,
      body: UpdateMeSchema,
      response: { 200: UserWithPresenceSchema, ...problems(404, 503) }
    }
  }, async (request) => {
    const { displayName, status, statusMessage } = request.body
    const user = await updateUser(db, request.userId, { display_name: displayName, status, status_message: statusMessage })
    if (user === undefined) throw notFound.me()
    await usersCache.invalidate()
    // A status set by hand changes what everyone who shares a room with me sees.
    if (status !== undefined) await presence.announce(request.userId)
    const [view] = await withPresence([toUserView(user)])
    return view
  })

  fastify.post('/me/presence', {
    schema: {
      tags: ['users'],
      operationId: 'reportPresence',
      summary: 'Say I am idle, or active again',
      description: 'While I am online (a long poll, event stream or socket of mine is held), others see `idle` from `{ "presence": "idle" }` until `{ "presence": "active" }`, or until I have been offline for a minute; those who share a room with me get `presence.changed`. `busy` set by hand as my `status` still wins. Also a socket frame: `{ "type": "presence", "presence": "idle" }`.',
      security: bearer,
      body: PresenceReportSchema,
      response: { 204: Type.Null({ description: 'Noted' }), ...problems(503) }
    }
  }, async (request, reply) => {
    await presence.setIdle(request.userId, request.body.presence === 'idle')
    return reply.code(204).send(null)
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
      description: 'Any user, by id, with their presence now; 404 when there is none.',
      security: bearer,
      params: IdParamsSchema,
      response: { 200: UserWithPresenceSchema, ...problems(404, 503) }
    }
  }, async (request) => {
    const user = await findUserById(db, request.params.id)
    if (user === undefined) throw notFound.user(request.params.id)
    const [view] = await withPresence([toUserView(user)])
    return view
  })
}

export default userRoutes
