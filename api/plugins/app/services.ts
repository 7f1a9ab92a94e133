import fp from 'fastify-plugin'
import type { Config } from '../../../core/config.js'
import { createDb, type Db } from '../../../core/db/connect.js'
import { walPosition } from '../../../core/db/replica.js'
import { createFailFastRedis, readyWithin, type RedisClient } from '../../../core/redis.js'
import { createUsersCache, type UsersCache } from '../../../core/users-cache.js'
import { createTaskCache, type TaskCache } from '../../../core/task-cache.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    db: Db
    redis: RedisClient
    usersCache: UsersCache
    taskCache: TaskCache
  }
}

/** The connections every route shares, opened once per process and closed with it. */
export default fp(async (fastify, opts: { config: Config }) => {
  const { config } = opts
  const db = createDb(config.DATABASE_URL)
  // Auto-pipelined: the commands a request issues together (a users page's presence, one read per user, each on its
  // own key so a cluster spreads them) go in one write per node, not one system call each.
  const redis = createFailFastRedis(config, 'pigeon-api', { autoPipelining: true })
  // Without a listener ioredis reports every reconnect attempt as an unhandled error.
  redis.on('error', (error) => fastify.log.warn({ err: error }, 'redis connection error'))

  // Give Redis a moment to connect before serving; if it is down, start anyway: reads that need only Postgres work.
  if (!await readyWithin(redis, 2000)) fastify.log.warn('redis is not reachable yet: the users list comes from Postgres until it is')

  fastify.decorate('config', config)
  fastify.decorate('db', db)
  fastify.decorate<RedisClient>('redis', redis)
  fastify.decorate('usersCache', createUsersCache(redis, {
    prefix: config.REDIS_PREFIX,
    ttlSeconds: config.USERS_CACHE_TTL_SECONDS,
    log: fastify.log,
    writePosition: config.DATABASE_REPLICA_URL === '' ? undefined : async () => await walPosition(db)
  }))
  fastify.decorate('taskCache', createTaskCache(redis, { prefix: config.REDIS_PREFIX, ttlSeconds: config.TASK_CACHE_TTL_SECONDS, log: fastify.log }))

  fastify.addHook('onClose', async () => {
    redis.disconnect()
    await db.destroy()
  })
}, { name: 'services' })
