import fp from 'fastify-plugin'
import { isFamilyRevoked } from '../../../core/refresh-tokens.js'
import { isConnected } from '../../../core/redis.js'

declare module 'fastify' {
  interface FastifyInstance {
    sessions: {
      /**
       * Ends logins (refresh-token families) whose refresh tokens Postgres has just revoked: their access tokens are
       * refused from now on, everywhere, and the sockets and streams they opened end.
       */
      ended: (userId: number, familyIds: readonly string[]) => Promise<void>
      /** Whether the login an access token came from has ended. */
      isEnded: (familyId: string) => Promise<boolean>
    }
  }
}

/**
 * Ended logins, remembered in Redis for as long as an access token lives (every instance checks one key per request),
 * with Postgres (the families' revoked refresh tokens) as the answer while Redis is away. What could not be written to
 * Redis is kept here and written once it is back, so a logout made during an outage holds after it too.
 */
export default fp(async (fastify) => {
  const { config, db, redis, log } = fastify
  const key = (familyId: string) => `${config.REDIS_PREFIX}:ended-login:${familyId}`
  const unwritten = new Set<string>()

  async function remember (familyIds: readonly string[]): Promise<void> {
    // One command per login, not one pipeline: on a Redis Cluster the keys sit in different slots, and an ioredis
    // Cluster refuses a pipeline that spans them.
    await Promise.all(familyIds.map(async (familyId) => await redis.set(key(familyId), '1', 'EX', config.ACCESS_TOKEN_TTL_SECONDS)))
  }

  redis.on('ready', () => {
    const pending = [...unwritten]
    remember(pending)
      .then(() => { for (const familyId of pending) unwritten.delete(familyId) })
      .catch((error: unknown) => log.warn({ err: error }, 'ended logins: still not written to redis'))
  })

  fastify.decorate('sessions', {
    async ended (userId: number, familyIds: readonly string[]) {
      try {
        await remember(familyIds)
      } catch (error) {
        for (const familyId of familyIds) unwritten.add(familyId)
        log.warn({ err: error }, 'ended logins: redis is away, they are checked in postgres until it is back')
      }
      await Promise.all(familyIds.map((familyId) => fastify.wakeups.familyRevoked(userId, familyId)))
    },
    async isEnded (familyId: string) {
      if (unwritten.has(familyId)) return true
      if (isConnected(redis)) {
        try {
          return await redis.exists(key(familyId)) === 1
        } catch (error) {
          log.warn({ err: error }, 'ended logins: redis did not answer, asking postgres')
        }
      }
      return await isFamilyRevoked(db, familyId)
    }
  })
}, { name: 'sessions', dependencies: ['services', 'wakeups'] })
