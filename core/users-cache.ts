import type { Log } from './log.js'
import type { RedisClient } from './redis.js'

/**
 * Pages of the user list cached in Redis under a version number. A user create or update bumps the
 * version (one INCR, no KEYS scan); pages of older versions are never read again and expire by TTL.
 * A page computed while the version moved is stored under the old version, so it cannot go stale.
 *
 * The cache is an optimisation, never a dependency: every call fails soft, and a caller that gets
 * no version answers from Postgres.
 */
export function createUsersCache (redis: RedisClient, options: { prefix: string, ttlSeconds: number, log: Log }) {
  const { prefix, ttlSeconds, log } = options
  const versionKey = `${prefix}:users:version`
  const pagesKey = (version: string) => `${prefix}:users:pages:${version}`

  async function softly<T> (what: string, fallback: T, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (error) {
      log.warn({ err: error }, `users cache: ${what} failed, answering from Postgres`)
      return fallback
    }
  }

  async function invalidate (): Promise<void> {
    await softly('invalidate', undefined, async () => { await redis.incr(versionKey) })
  }

  // A create or update made while Redis was unreachable could not bump the version, and a Redis that kept its
  // data (AOF, a network split) still holds the old pages. So every connection bumps it before any read on it
  // (unawaited: invalidate never rejects).
  redis.on('ready', invalidate)
  if (redis.status === 'ready') invalidate()

  return {
    /** The cached page and the version it belongs to; version null means Redis is unreachable. */
    async getPage (page: string): Promise<{ version: string | null, body: string | null }> {
      return await softly<{ version: string | null, body: string | null }>('read', { version: null, body: null }, async () => {
        const version = (await redis.get(versionKey)) ?? '0'
        return { version, body: await redis.hget(pagesKey(version), page) }
      })
    },
    async setPage (version: string, page: string, body: string): Promise<void> {
      await softly('write', undefined, async () => {
        await redis.multi().hset(pagesKey(version), page, body).expire(pagesKey(version), ttlSeconds).exec()
      })
    },
    invalidate
  }
}

export type UsersCache = ReturnType<typeof createUsersCache>
