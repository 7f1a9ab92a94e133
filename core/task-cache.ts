import type { Log } from './log.js'
import type { RedisClient } from './redis.js'

/**
 * Finished tasks as their owners read them, cached in Redis: one key per task, holding the answer's bytes under a
 * stamp, the change number (`change_seq`) of the message in its `result` (0 for none). A finished task can change
 * only when that message is edited or deleted, and every such change raises the message's change number: so the
 * change, before its COMMIT, raises the stamp of every task that shows the message to a *mark* that holds no
 * answer. A key is only ever written with a stamp at least its own (one script on one key, so a Redis Cluster
 * takes it too), so a read of the row as it was before the change can never be stored over the mark, and from the
 * COMMIT on every read, on every API instance, misses and reads Postgres, which then holds the change. A deleted
 * message's text leaves the cache with the mark, before the delete is visible anywhere.
 *
 * Reads fail soft (a caller that gets nothing answers from Postgres); marking does not: a change that could not
 * mark its tasks must not commit.
 */

// KEYS[1] the task's key; ARGV: stamp, value, seconds. Stored only if the key holds no higher stamp.
const raiseScript = `
local held = redis.call('GET', KEYS[1])
if held then
  local stamp = tonumber(string.match(held, '^(%d+)|'))
  if stamp and stamp > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1`

/** A cached answer: whose task it is, the stamp (its ETag), and the body as the route serialized it. */
export interface CachedTask { ownerId: number, stamp: number, body: string }

export function createTaskCache (redis: RedisClient, options: { prefix: string, ttlSeconds: number, log?: Log }) {
  const { prefix, ttlSeconds, log } = options
  const key = (taskId: string) => `${prefix}:task:${taskId}`
  redis.defineCommand('raiseTaskStamp', { numberOfKeys: 1, lua: raiseScript })
  /** Whether the value was stored: false when the key holds a higher stamp. */
  const raise = async (taskId: string, stamp: number, value: string): Promise<boolean> => {
    return await (redis as unknown as { raiseTaskStamp: (key: string, stamp: number, value: string, seconds: number) => Promise<number> })
      .raiseTaskStamp(key(taskId), stamp, value, ttlSeconds) === 1
  }

  return {
    /** The task's cached answer, or undefined: not cached, marked, or Redis did not answer. */
    async get (taskId: string): Promise<CachedTask | undefined> {
      let held: string | null
      try {
        held = await redis.get(key(taskId))
      } catch (error) {
        log?.warn({ err: error }, 'task cache: read failed, answering from Postgres')
        return undefined
      }
      // `stamp|owner|body`; a mark is `stamp|`.
      if (held === null) return undefined
      const first = held.indexOf('|')
      const second = held.indexOf('|', first + 1)
      if (second < 0) return undefined
      return { stamp: Number(held.slice(0, first)), ownerId: Number(held.slice(first + 1, second)), body: held.slice(second + 1) }
    },

    /**
     * Keeps a finished task's answer, unless a change of its message marked the key since the row was read. Answers
     * whether it was kept: false when a change marked it (the answer is no longer current) or Redis did not answer.
     */
    async fill (taskId: string, entry: CachedTask): Promise<boolean> {
      try {
        return await raise(taskId, entry.stamp, `${entry.stamp}|${entry.ownerId}|${entry.body}`)
      } catch (error) {
        log?.warn({ err: error }, 'task cache: write failed')
        return false
      }
    },

    /** Pruned tasks: their keys are marked beyond any stamp, so a read that raced the prune cannot fill them again. */
    async forget (taskIds: string[]): Promise<void> {
      await Promise.all(taskIds.map(async (taskId) => { await raise(taskId, Number.MAX_SAFE_INTEGER, `${Number.MAX_SAFE_INTEGER}|`) }))
    },

    /** Before the change that gives a message change number `stamp` commits: these tasks' answers are not to be used. */
    async mark (taskIds: string[], stamp: number): Promise<void> {
      // One command per key: on a Redis Cluster the keys sit in different slots.
      await Promise.all(taskIds.map(async (taskId) => { await raise(taskId, stamp, `${stamp}|`) }))
    }
  }
}

export type TaskCache = ReturnType<typeof createTaskCache>
