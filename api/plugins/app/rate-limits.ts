import rateLimit from '@fastify/rate-limit'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { createFailFastRedis, readyWithin } from '../../../core/redis.js'
import { HttpProblem } from '../../errors.js'

/** A limit to apply in a route's preHandler: counts the request, and throws 429 once its key is over the limit. */
export type Limit = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

declare module 'fastify' {
  interface FastifyInstance {
    limits: {
      loginPerUsername: Limit
      loginPerAddress: Limit
      registerPerAddress: Limit
      /** Per user, a burst and a sustained rate, for every write through the task queue (sends, edits, deletes). */
      sends: Limit
      roomWrites: Limit
      adminAuthPerAddress: Limit
      logoutAllPerUser: Limit
      passwordChangePerUser: Limit
      /** Typing notices per user, starts and stops alike. */
      typingPerUser: Limit
    }
  }
}

/**
 * Rate limits counted in Redis, so they hold across API instances: @fastify/rate-limit's Redis store, on a connection
 * of its own that fails fast. While Redis is away the limits are not enforced (the store's error is skipped): a
 * limiter must not turn every request into an error, and sends are refused then anyway (503 QUEUE_UNAVAILABLE).
 */
export default fp(async (fastify) => {
  const { config } = fastify
  const redis = createFailFastRedis(config)
  redis.on('error', (error) => fastify.log.warn({ err: error }, 'rate-limit redis connection error'))
  // A fail-fast connection refuses commands until it is ready: give it the moment the other connections get.
  if (!await readyWithin(redis, 2000)) fastify.log.warn('redis is not reachable yet: rate limits are not enforced until it is')
  fastify.addHook('onClose', async () => { redis.disconnect() })

  /**
   * `name` keeps each limit's counters apart (`<prefix>:rate-limit:<name>:<key>`); `key` picks whose counter a request
   * adds to. Each limit is an instance of the plugin of its own, in a scope of its own: a limiter made with per-call
   * options would put a route's method and URL in its keys, which a limit called from a handler does not have.
   */
  async function limit (name: string, max: number, windowSeconds: number, key: (request: FastifyRequest) => string, why: string): Promise<Limit> {
    let check: ReturnType<typeof fastify.createRateLimit> | undefined
    await fastify.register(async (scope) => {
      await scope.register(rateLimit, {
        global: false,
        redis,
        nameSpace: `${config.REDIS_PREFIX}:rate-limit:${name}:`,
        max,
        timeWindow: windowSeconds * 1000,
        keyGenerator: key,
        skipOnError: true
      })
      check = scope.createRateLimit()
    })
    const counted = check
    if (counted === undefined) throw new Error(`the ${name} rate limit was not set up`)
    return async (request, reply) => {
      const result = await counted(request)
      // Allow-listed, or Redis did not answer (no window then): nothing counted, nothing to say.
      if (result.isAllowed || result.ttl === 0) return
      const reset = String(result.ttlInSeconds)
      reply.header('ratelimit-limit', String(result.max)).header('ratelimit-remaining', String(result.remaining)).header('ratelimit-reset', reset)
      if (!result.isExceeded) return
      reply.header('retry-after', reset)
      throw new HttpProblem(429, `Too many requests: ${why}. Try again in ${reset} s.`, 'RATE_LIMITED')
    }
  }

  const address = (request: FastifyRequest) => request.ip
  const username = (request: FastifyRequest) => String((request.body as { username?: unknown }).username ?? '').toLowerCase()
  const user = (request: FastifyRequest) => String(request.userId)
  const sendBurst = await limit('send-burst', config.SEND_LIMIT_BURST, config.SEND_LIMIT_BURST_WINDOW_SECONDS, user, 'too many sends in a short time')
  const sendSustained = await limit('send-sustained', config.SEND_LIMIT_SUSTAINED, config.SEND_LIMIT_SUSTAINED_WINDOW_SECONDS, user, 'too many sends')

  fastify.decorate('limits', {
    loginPerUsername: await limit('login-username', config.LOGIN_LIMIT_PER_USERNAME, config.LOGIN_LIMIT_WINDOW_SECONDS, username, 'too many log-in attempts for this username'),
    loginPerAddress: await limit('login-address', config.LOGIN_LIMIT_PER_ADDRESS, config.LOGIN_LIMIT_WINDOW_SECONDS, address, 'too many log-in attempts from this address'),
    registerPerAddress: await limit('register-address', config.REGISTER_LIMIT_PER_ADDRESS, config.REGISTER_LIMIT_WINDOW_SECONDS, address, 'too many accounts created from this address'),
    async sends (request, reply) {
      await sendBurst(request, reply)
      await sendSustained(request, reply)
    },
    roomWrites: await limit('room-writes', config.ROOM_LIMIT_PER_USER, config.ROOM_LIMIT_WINDOW_SECONDS, user, 'too many rooms created or members added'),
    adminAuthPerAddress: await limit('admin-auth', config.ADMIN_AUTH_LIMIT_PER_ADDRESS, config.ADMIN_AUTH_LIMIT_WINDOW_SECONDS, address, 'too many sign-in attempts on the queue dashboard'),
    logoutAllPerUser: await limit('logout-all', config.LOGOUT_ALL_LIMIT_PER_USER, config.LOGOUT_ALL_LIMIT_WINDOW_SECONDS, user, 'too many log-outs everywhere'),
    passwordChangePerUser: await limit('password-change', config.PASSWORD_CHANGE_LIMIT_PER_USER, config.PASSWORD_CHANGE_LIMIT_WINDOW_SECONDS, user, 'too many password changes or wrong current passwords'),
    typingPerUser: await limit('typing', config.TYPING_LIMIT_PER_USER, config.TYPING_LIMIT_WINDOW_SECONDS, user, 'too many typing notices')
  })
}, { name: 'rate-limits', dependencies: ['services'] })
