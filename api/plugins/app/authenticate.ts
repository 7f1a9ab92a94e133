import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AccessTokenPayload, RefreshTokenPayload } from '../external/jwt.js'
import { HttpProblem } from '../../errors.js'

export interface VerifiedAccess {
  userId: number
  /** When the token expires (ms). */
  expiresAt: number
  /** The login (refresh-token family) it came from. */
  familyId?: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The user an access token is for, when it expires and the login it came from; a 401 problem for anything else. */
    verifyAccessToken: (token: string) => Promise<VerifiedAccess>
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
  interface FastifyRequest {
    userId: number
    /** The request's access token, as `authenticate` verified it. */
    access: VerifiedAccess | null
  }
}

/** A 401 for a token; `why` goes into the RFC 6750 challenge of an HTTP answer. */
class TokenProblem extends HttpProblem {
  constructor (detail: string, code: 'UNAUTHORIZED' | 'TOKEN_EXPIRED' | 'SESSION_ENDED', readonly why?: string) {
    super(401, detail, code)
  }
}

const invalidToken = () => new TokenProblem('A valid bearer access token is required.', 'UNAUTHORIZED')

/**
 * The one access-token check, for HTTP (`authenticate`, a hook that sets `request.userId`) and for sockets and streams:
 * the signature, the expiry, and whether its login has ended (logout, log out everywhere, a password change, a reused
 * refresh token).
 */
export default fp(async (fastify) => {
  async function verifyAccessToken (token: string): Promise<VerifiedAccess> {
    let payload
    try {
      payload = fastify.jwt.verify<(AccessTokenPayload | RefreshTokenPayload) & { exp: number }>(token)
    } catch (error) {
      if ((error as { code?: unknown }).code === 'FAST_JWT_EXPIRED') {
        throw new TokenProblem('The access token has expired: get a new one from POST /v1/auth/refresh.', 'TOKEN_EXPIRED', 'expired')
      }
      throw invalidToken()
    }
    if (payload.typ !== 'access') {
      throw new TokenProblem('That is not an access token.', 'UNAUTHORIZED')
    }
    if (payload.fam !== undefined && await fastify.sessions.isEnded(payload.fam)) {
      throw new TokenProblem('This login has ended (logged out, or its password changed): log in again.', 'SESSION_ENDED', 'revoked')
    }
    return { userId: Number(payload.sub), expiresAt: payload.exp * 1000, familyId: payload.fam }
  }

  fastify.decorate('verifyAccessToken', verifyAccessToken)
  fastify.decorateRequest('userId', 0)
  fastify.decorateRequest('access', null)
  fastify.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('www-authenticate', 'Bearer')
    const token = /^Bearer ([^ ]+)$/i.exec(request.headers.authorization ?? '')?.[1]
    if (token === undefined) throw invalidToken()
    try {
      const verified = await verifyAccessToken(token)
      request.userId = verified.userId
      request.access = verified
    } catch (error) {
      // RFC 6750: say why, so a client refreshes an expired token rather than asking for a password.
      if (error instanceof TokenProblem && error.why !== undefined) {
        reply.header('www-authenticate', `Bearer error="invalid_token", error_description="${error.why}"`)
      }
      throw error
    }
    reply.removeHeader('www-authenticate')
  })
}, { name: 'authenticate', dependencies: ['jwt', 'sessions'] })
