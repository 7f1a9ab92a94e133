import { Redis, type RedisOptions } from 'ioredis'

/**
 * For the users cache and readiness probes: with Redis down a command fails at once instead of queueing,
 * so the user list falls back to Postgres. No command timeout: on a busy machine a slow answer is still an
 * answer, and a timer measured against a loaded event loop would turn load into refusals.
 */
export function createFailFastRedis (url: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectionName: 'pigeon-api'
  })
}

/**
 * For BullMQ (workers and producers) and subscribers: commands wait for Redis to come back. A producer on a
 * fail-fast connection that starts before Redis keeps its first failure for good, so producers wait too, and
 * callers that must not wait check `isConnected` first.
 */
export function createPatientRedis (url: string, connectionName: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName, ...options })
}

export function isConnected (redis: Redis): boolean {
  return redis.status === 'ready'
}

/** Closes gracefully when Redis answers; drops the connection when it does not, so a shutdown never waits for it. */
export async function closeRedis (redis: Redis): Promise<void> {
  if (isConnected(redis)) await redis.quit()
  else redis.disconnect()
}

/** Resolves true once the connection is ready, or false after `ms`: a process may start before Redis does. */
export async function readyWithin (redis: Redis, ms: number): Promise<boolean> {
  if (isConnected(redis)) return true
  let onReady: (() => void) | undefined
  let timer: NodeJS.Timeout | undefined
  try {
    return await new Promise<boolean>((resolve) => {
      onReady = () => resolve(true)
      redis.once('ready', onReady)
      timer = setTimeout(resolve, ms, false)
    })
  } finally {
    clearTimeout(timer)
    if (onReady !== undefined) redis.off('ready', onReady)
  }
}
