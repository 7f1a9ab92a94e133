import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AccessTokenPayload, RefreshTokenPayload } from '../external/jwt.js'
import { HttpProblem } from '../../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    userId: number
  }
}

/** A preHandler for routes that need a bearer access token; sets `request.userId`. */
export default fp(async (fastify) => {
  fastify.decorateRequest('userId', 0)
  fastify.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('www-authenticate', 'Bearer')
    let payload
    try {
      payload = await request.jwtVerify<AccessTokenPayload | RefreshTokenPayload>()
    } catch {
      throw new HttpProblem(401, 'A valid bearer access token is required.', 'UNAUTHORIZED')
    }
    if (payload.typ !== 'access') {
      throw new HttpProblem(401, 'That is not an access token.', 'UNAUTHORIZED')
    }
    reply.removeHeader('www-authenticate')
    request.userId = Number(payload.sub)
  })
}, { name: 'authenticate', dependencies: ['jwt'] })
