import fp from 'fastify-plugin'
import jwt from '@fastify/jwt'
import type { Config } from '../../../core/config.js'

/** `fam`: the login (refresh-token family) it came from, so a logout can end the sockets it opened. */
export interface AccessTokenPayload { sub: string, typ: 'access', fam?: string }
export interface RefreshTokenPayload { sub: string, typ: 'refresh', jti: string, fam: string }

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessTokenPayload | RefreshTokenPayload
    user: AccessTokenPayload | RefreshTokenPayload
  }
}

export default fp(async (fastify, opts: { config: Config }) => {
  const { jwtSecretSource, JWT_SECRET_FILE } = opts.config
  if (jwtSecretSource === 'file') {
    fastify.log.warn(`JWT_SECRET is not set: tokens are signed with the secret kept in ${JWT_SECRET_FILE}, so they outlive a restart, but instances on other machines reject them`)
  } else if (jwtSecretSource === 'random') {
    fastify.log.warn('JWT_SECRET is not set and JWT_SECRET_FILE gives none: using a random secret, so every token dies with this process and other instances reject it')
  }
  await fastify.register(jwt, {
    secret: opts.config.JWT_SECRET,
    sign: { algorithm: 'HS256' },
    verify: { algorithms: ['HS256'] }
  })
}, { name: 'jwt' })
