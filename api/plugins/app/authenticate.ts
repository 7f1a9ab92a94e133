import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AccessTokenPayload, RefreshTokenPayload } from '../external/jwt.js'
import { HttpProblem } from '../../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The user an access token is for, when it expires (ms) and the login it came from; a 401 problem for anything else. */
    verifyAccessToken: (token: string) => { userId: number, expiresAt: number, familyId?: string }
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    userId: number
  }
}

const invalidToken = () => new HttpProblem(401, 'A valid bearer access token is required.', 'UNAUTHORIZED')

/** The one access-token check, for HTTP (`authenticate`, a preHandler that sets `request.userId`) and for sockets. */
export default fp(async (fastify) => {
  function verifyAccessToken (token: string) {
    let payload
    try {
      payload = fastify.jwt.verify<(AccessTokenPayload | RefreshTokenPayload) & { exp: number }>(token)
    } catch {
      throw invalidToken()
    }
    if (payload.typ !== 'access') {
      throw new HttpProblem(401, 'That is not an access token.', 'UNAUTHORIZED')
    }
    return { userId: Number(payload.sub), expiresAt: payload.exp * 1000, familyId: payload.fam }
  }

  fastify.decorate('verifyAccessToken', verifyAccessToken)
  fastify.decorateRequest('userId', 0)
  fastify.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('www-authenticate', 'Bearer')
    const token = /^Bearer ([^ ]+)$/i.exec(request.headers.authorization ?? '')?.[1]
    if (token === undefined) throw invalidToken()
    request.userId = verifyAccessToken(token).userId
    reply.removeHeader('www-authenticate')
  })
}, { name: 'authenticate', dependencies: ['jwt'] })
