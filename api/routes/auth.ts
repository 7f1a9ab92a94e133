import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { hashPassword } from '../../core/password.js'
import { consumeRefreshToken, insertRefreshToken, revokeFamiliesOf, revokeFamily } from '../../core/refresh-tokens.js'
import { checkCredentials, insertUser } from '../../core/users.js'
import { HttpProblem } from '../errors.js'
import type { RefreshTokenPayload } from '../plugins/external/jwt.js'
import { RefreshBodySchema, RegisterBodySchema, TokenBodySchema, TokensSchema } from '../schemas/auth.js'
import { bearer, noAuth, problems } from '../schemas/common.js'
import { toUserView, UserSchema } from '../schemas/users.js'

const authRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, db, limits } = fastify

  async function issueTokens (userId: number, familyId: string = randomUUID()) {
    const jti = randomUUID()
    await insertRefreshToken(db, {
      id: jti,
      familyId,
      userId,
      expiresAt: new Date(Date.now() + config.REFRESH_TOKEN_TTL_SECONDS * 1000)
    })
    const sub = String(userId)
    return {
      accessToken: fastify.jwt.sign({ sub, typ: 'access', fam: familyId }, { expiresIn: config.ACCESS_TOKEN_TTL_SECONDS }),
      refreshToken: fastify.jwt.sign({ sub, typ: 'refresh', jti, fam: familyId }, { expiresIn: config.REFRESH_TOKEN_TTL_SECONDS }),
      tokenType: 'Bearer' as const,
      expiresIn: config.ACCESS_TOKEN_TTL_SECONDS
    }
  }

  function invalidRefreshToken () {
    return new HttpProblem(401, 'The refresh token is invalid, expired or revoked. Log in again.', 'INVALID_REFRESH_TOKEN')
  }

  function verifyRefreshToken (token: string): RefreshTokenPayload {
    let payload
    try {
      payload = fastify.jwt.verify<RefreshTokenPayload>(token)
    } catch {
      throw invalidRefreshToken()
    }
    if (payload.typ !== 'refresh') throw invalidRefreshToken()
    return payload
  }

  fastify.post('/register', {
    schema: {
      tags: ['auth'],
      operationId: 'register',
      summary: 'Create an account',
      description: 'Usernames are 3–32 letters, digits, `_`, `.` or `-`, unique in any letter case (409 `USERNAME_TAKEN`). Passwords need at least 8 characters and are stored as scrypt hashes. `displayName` defaults to the username. Accounts created per client address are limited (429 `RATE_LIMITED`).',
      security: noAuth,
      body: RegisterBodySchema,
      response: { 201: UserSchema, ...problems(409, 429, 503) }
    },
    preHandler: limits.registerPerAddress
  }, async (request, reply) => {
    const { username, password, displayName } = request.body
    const user = await insertUser(db, {
      username,
      password_hash: await hashPassword(password),
      display_name: displayName ?? username
    })
    if (user === undefined) throw new HttpProblem(409, `The username "${username}" is taken.`, 'USERNAME_TAKEN')
    await fastify.usersCache.invalidate()
    return reply.code(201).header('location', `/v1/users/${user.id}`).send(toUserView(user))
  })

  fastify.post('/token', {
    schema: {
      tags: ['auth'],
      operationId: 'createToken',
      summary: 'Log in: trade a username and password for an access and a refresh token',
      description: 'The username is matched in any letter case. Send the `accessToken` as `Authorization: Bearer …`; it lives `expiresIn` seconds. Keep the `refreshToken` for `POST /v1/auth/refresh`. A wrong username or password is the same 401. Every attempt counts towards two limits (per username and per client address; 429 `RATE_LIMITED` with `Retry-After` once over either).',
      security: noAuth,
      body: TokenBodySchema,
      response: { 200: TokensSchema, ...problems(401, 429, 503) }
    },
    // The address first: one machine trying many usernames is stopped before it adds to each username's count.
    preHandler: [limits.loginPerAddress, limits.loginPerUsername]
  }, async (request) => {
    const { username, password } = request.body
    const user = await checkCredentials(db, username, password)
    if (user === undefined) {
      throw new HttpProblem(401, 'Wrong username or password.', 'INVALID_CREDENTIALS')
    }
    return await issueTokens(user.id)
  })

  fastify.post('/refresh', {
    schema: {
      tags: ['auth'],
      operationId: 'refreshToken',
      summary: 'Trade a refresh token for new tokens',
      description: 'Refresh tokens rotate: each works once. Presenting one a second time revokes every token descended from the same login.',
      security: noAuth,
      body: RefreshBodySchema,
      response: { 200: TokensSchema, ...problems(401, 503) }
    }
  }, async (request) => {
    const payload = verifyRefreshToken(request.body.refreshToken)
    const userId = Number(payload.sub)
    const outcome = await consumeRefreshToken(db, payload.jti, userId)
    if (outcome === 'reused') {
      request.log.warn({ userId, family: payload.fam }, 'refresh token reused: family revoked')
      await fastify.sessions.ended(userId, [payload.fam])
    }
    if (outcome !== 'rotated') throw invalidRefreshToken()
    return await issueTokens(userId, payload.fam)
  })

  fastify.post('/logout', {
    schema: {
      tags: ['auth'],
      operationId: 'logout',
      summary: 'Log out: end the login a refresh token belongs to',
      description: 'The refresh token and every token rotated from it stop working, and so do the access tokens of that login, at once and on every server (401 `SESSION_ENDED`); its sockets and event streams end. Other logins of the same user go on.',
      security: noAuth,
      body: RefreshBodySchema,
      response: { 204: Type.Null({ description: 'Logged out' }), ...problems(401, 503) }
    }
  }, async (request, reply) => {
    const payload = verifyRefreshToken(request.body.refreshToken)
    await revokeFamily(db, payload.fam)
    await fastify.sessions.ended(Number(payload.sub), [payload.fam])
    return reply.code(204).send(null)
  })

  fastify.post('/logout-all', {
    schema: {
      tags: ['auth'],
      operationId: 'logoutAll',
      summary: 'Log out everywhere: end every login of the user, this one included',
      description: 'For a lost device or a stolen refresh token: every refresh token and access token of the user stops working at once, on every server (401 `SESSION_ENDED`), and every socket and event stream of the user ends. Log in again afterwards. Limited per user (429 `RATE_LIMITED`).',
      security: bearer,
      response: { 204: Type.Null({ description: 'Every login ended' }), ...problems(429, 503) }
    },
    onRequest: fastify.authenticate,
    preHandler: limits.logoutAllPerUser
  }, async (request, reply) => {
    const ended = await revokeFamiliesOf(db, request.userId)
    const current = request.access?.familyId
    await fastify.sessions.ended(request.userId, current === undefined || ended.includes(current) ? ended : [...ended, current])
    return reply.code(204).send(null)
  })
}

export default authRoutes
