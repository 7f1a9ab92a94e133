import type { Log } from './log.js'
import type { RedisClient } from './redis.js'

/**
 * Pages of the user list cached in Redis under a version number. A user create or update bumps the
 * version (one INCR, no KEYS scan); pages of older versions are never read again and expire by TTL.
 * A page computed while the version moved is stored under the old version, so it cannot go stale.
 *
 * The cache is an optimisation, never a dependency: every call fails soft, and a caller that gets
 * no version answers from Postgres.
 *
 * A page may be filled from a read replica, which can lag behind the change that bumped the version: so a bump
 * keeps, beside the version's pages, the primary's WAL position after that change, and a fill reads the replica
 * only once it has replayed that far (core/db/replica.ts). No position known: the fill reads the primary.
 */
export function createUsersCache (redis: RedisClient, options: {
  prefix: string
  ttlSeconds: number
  log: Log
  /** The primary's WAL position now (core/db/replica.ts), when pages may be filled from a replica. */
  writePosition?: () => Promise<string | null>
}) {
  const { prefix, ttlSeconds, log, writePosition } = options
  const versionKey = `${prefix}:users:version`
  const pagesKey = (version: string) => `${prefix}:users:pages:${version}`
  // Beside the pages (named `afterId:limit`) in the version's hash: one read fetches a page and its position.
  const positionField = 'position'

  async function softly<T> (what: string, fallback: T, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (error) {
      log.warn({ err: error }, `users cache: ${what} failed, answering from Postgres`)
      return fallback
    }
  }

  /** A new version, called once the change that calls for it has committed. */
  async function invalidate (): Promise<void> {
    await softly('invalidate', undefined, async () => {
      const version = String(await redis.incr(versionKey))
      // Taken after the bump, so it covers every change committed before it, whichever of two concurrent bumps lands
      // last (taken before, a slow bump could name the newest version with an older position). Until it is written,
      // and when it is unknown (no replica, the primary away), the version's fills read the primary.
      const position = writePosition === undefined ? null : await writePosition().catch(() => null)
      if (position !== null) await redis.multi().hset(pagesKey(version), positionField, position).expire(pagesKey(version), ttlSeconds).exec()
    })
  }

  // A create or update made while Redis was unreachable could not bump the version, and a Redis that kept its
  // data (AOF, a network split) still holds the old pages. So every connection bumps it before any read on it
  // (unawaited: invalidate never rejects).
  redis.on('ready', invalidate)
  if (redis.status === 'ready') invalidate()

  return {
    /** The version pages are cached under now, or null when Redis did not answer: what an ETag of a page may name. */
    async version (): Promise<string | null> {
      return await softly<string | null>('read', null, async () => (await redis.get(versionKey)) ?? '0')
    },
    /**
     * The cached page, the version it belongs to, and the WAL position a fill must read at least up to (null:
     * unknown); version null means Redis is unreachable.
     */
    async getPage (page: string): Promise<{ version: string | null, body: string | null, position: string | null }> {
      const unreachable = { version: null, body: null, position: null }
      return await softly<{ version: string | null, body: string | null, position: string | null }>('read', unreachable, async () => {
        const version = (await redis.get(versionKey)) ?? '0'
        const [body = null, position = null] = await redis.hmget(pagesKey(version), page, positionField)
        return { version, body, position }
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
